// What an experiment leaves in its folder: data files (JSON, CSV) written atomically, the run record
// (run.json), and the figures and report.html that the plotting package (plots/, matplotlib) draws from
// those files.
#pragma once

#include <iomanip>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "datasets/dataset.h"
#include "datasets/files.h"

namespace gg {

// A file of a run folder, written whole or not at all (write_file_atomic, datasets/files.h), its folder
// created first if need be.
void write_run_file(const std::string& path, std::string_view text);
// A JSON file (a config, a run's metrics), nesting bounded; the error names the file and what is wrong.
nlohmann::json read_json_file(const std::string& path);
void write_json(const std::string& path, const nlohmann::json& j);
// One row per sample: the coordinates x0, x1, ... and the label when the set has labels.
void write_points_csv(const std::string& path, const Dataset& d);
// Records what made this run folder (<dir>/run.json): its kind, which tells the plotter what to draw, and
// the command line (an empty `command` records "gradgrad <kind>").
void write_run_info(const std::string& dir, const std::string& kind, const std::string& command);

// A run folder held by one process: created if need be, then locked (flock on <dir>/.gradgrad.lock, which
// holds the holder's pid), so a second run into the same folder is refused, naming that pid, instead of
// mixing its files with the first's. The lock dies with the process, so a killed run never leaves the
// folder locked. Once held, the temporary files that killed writers left in the folder are removed.
class RunFolderLock {
 public:
  explicit RunFolderLock(const std::string& dir);
  ~RunFolderLock();
  RunFolderLock(const RunFolderLock&) = delete;
  RunFolderLock& operator=(const RunFolderLock&) = delete;

 private:
  int fd_ = -1;
};
// A word for the shell: single-quoted, any single quote in it closed, escaped and reopened.
std::string shell_quoted(const std::string& s);
// Runs `command` through the shell; returns its exit status (128 when killed by a signal) and appends its
// stdout and stderr to `output`.
int run_shell(const std::string& command, std::string& output);

// Runs `python3 plots <dir>` (the package in share/gradgrad: datasets/share_dir.h), which draws the figures of
// the run's kind from its data files and rewrites <dir>/report.html. Throws with the plotter's own message
// when it fails.
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
  void write(const std::string& path) const { write_run_file(path, s_.str()); }

 private:
  std::ostringstream s_;
};

}  // namespace gg
