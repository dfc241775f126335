// Every toy set as a points CSV, sample grids of the installed image sets, and a summary: `gradgrad
// datasets`. Writes <name>.csv per toy set, <set>_samples.png (10 per class, one class per row) for mnist and
// fashion-mnist where installed, metrics.json and run.json; plots/run.py draws the toy sets.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "datasets/toy.h"

namespace gg {

struct DatasetsOptions {
  ToyOptions toy;       // samples, noise and seed of every toy set
  std::string command;  // recorded in run.json
};

// Returns metrics.json: per set, its samples and classes (and dim or shape).
nlohmann::json datasets_experiment(const DatasetsOptions& options, const std::string& out_dir);

}  // namespace gg
