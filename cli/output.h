// What a run leaves in its folder: data files (JSON, CSV) written atomically, and the figures and report.html
// that the plotting module (cli/plots.py, matplotlib) draws from those files.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/args.h"
#include "datasets/dataset.h"

namespace gg::cli {

// Writes `text` to `path` through a temporary file and a rename, so a reader never sees half a file.
void write_file_atomic(const std::string& path, const std::string& text);
// A JSON file (a config, a run's metrics); the error names the file and what is wrong with it.
nlohmann::json read_json_file(const std::string& path);
// "a,b,,c" -> {"a", "b", "c"}: the comma lists of command-line options.
std::vector<std::string> split_list(const std::string& s);
void write_json(const std::string& path, const nlohmann::json& j);
// One row per sample: the coordinates x0, x1, ... and the label when the set has labels.
void write_points_csv(const std::string& path, const Dataset& d);
// Records what made this run folder (<dir>/run.json: its kind, which tells the plotter what to draw).
void write_run_info(const std::string& dir, const std::string& kind, const Args& args);
// Runs `python3 cli/plots.py <dir>`, which draws the figures of the run's kind from its data files and
// rewrites <dir>/report.html. Throws with the plotter's own message when it fails.
void draw_figures(const std::string& dir);

}  // namespace gg::cli
