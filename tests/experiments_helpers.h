// Helpers for the experiments tests: a tiny two-moons training run in a scratch folder, and a CSV reader.
#pragma once

#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "experiments/output.h"
#include "experiments/train.h"
#include "tests/models_helpers.h"

namespace gg::test {

// The shipped main config (configs/two_moons/main.json) cut down to seconds: 256 training and 128 test
// points, `epochs` epochs.
inline TrainOptions tiny_train_options(int64_t epochs) {
  TrainOptions o;
  o.config = read_json_file(std::string(GG_SOURCE_DIR) + "/configs/two_moons/main.json");
  o.sets = {"data.n=256", "data.test_n=128", "training.epochs=" + std::to_string(epochs), "training.batch_size=64"};
  return o;
}

// Trains the tiny run into `dir`; returns its result.
inline TrainResult tiny_run(const std::string& dir, int64_t epochs = 3) {
  return train_experiment(tiny_train_options(epochs), dir);
}

// Options of an experiment that reads a run (its `source`, or visualize's `run`), on the tiny run trained
// into tmp/"run".
template <class Options>
Options options_on_tiny_run(const TempDir& tmp) {
  tiny_run(tmp / "run");
  Options o;
  if constexpr (requires { o.source; })
    o.source.run = tmp / "run";
  else
    o.run = tmp / "run";
  return o;
}

// A CSV file with a header as rows of column -> text.
inline std::vector<std::map<std::string, std::string>> read_csv(const std::string& path) {
  std::ifstream in(path);
  REQUIRE(in.good());
  auto split = [](const std::string& line) {
    std::vector<std::string> cells;
    std::stringstream s(line);
    for (std::string c; std::getline(s, c, ',');) cells.push_back(c);
    return cells;
  };
  std::string line;
  std::getline(in, line);
  const std::vector<std::string> header = split(line);
  std::vector<std::map<std::string, std::string>> rows;
  while (std::getline(in, line)) {
    const std::vector<std::string> cells = split(line);
    REQUIRE(cells.size() == header.size());
    std::map<std::string, std::string> row;
    for (size_t i = 0; i < header.size(); ++i) row[header[i]] = cells[i];
    rows.push_back(row);
  }
  return rows;
}

inline double num(const std::map<std::string, std::string>& row, const std::string& key) {
  return std::stod(row.at(key));
}

}  // namespace gg::test
