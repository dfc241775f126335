// What an experiment leaves in its folder: data files (JSON, CSV) written atomically, the run record
// (run.json), and the figures and report.html that the plotting package (plots/, matplotlib) draws from
// those files.
#pragma once

#include <iomanip>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "datasets/dataset.h"

namespace gg {

// Writes `text` to `path` through a temporary file and a rename, so a reader never sees half a file.
void write_file_atomic(const std::string& path, const std::string& text);
// A JSON file (a config, a run's metrics); the error names the file and what is wrong with it.
nlohmann::json read_json_file(const std::string& path);
void write_json(const std::string& path, const nlohmann::json& j);
// One row per sample: the coordinates x0, x1, ... and the label when the set has labels.
void write_points_csv(const std::string& path, const Dataset& d);
// Records what made this run folder (<dir>/run.json): its kind, which tells the plotter what to draw, and
// the command line (an empty `command` records "gradgrad <kind>").
void write_run_info(const std::string& dir, const std::string& kind, const std::string& command);
// A word for the shell: single-quoted, any single quote in it closed, escaped and reopened.
std::string shell_quoted(const std::string& s);
// Runs `command` through the shell; returns its exit status (128 when killed by a signal) and appends its
// stdout and stderr to `output`.
int run_shell(const std::string& command, std::string& output);

// Runs `python3 plots <dir>` (the package in share/gradgrad: datasets/share_dir.h), which draws the figures of
// the run's kind from its data files and rewrites <dir>/report.html. Throws with the plotter's own message when it fails.
void draw_figures(const std::string& dir);

// A number for JSON: NaN and infinities become null (nlohmann writes them so anyway; this says it).
nlohmann::json json_number(double x);

// A CSV built in memory, numbers with 9 significant digits, written atomically.
class CsvWriter {
 public:
  explicit CsvWriter(const std::string& header) { s_ << std::setprecision(9) << header << "\n"; }
  template <class T>
  CsvWriter& operator<<(const T& v) {
    s_ << v;
    return *this;
  }
  void write(const std::string& path) const { write_file_atomic(path, s_.str()); }

 private:
  std::ostringstream s_;
};

}  // namespace gg
