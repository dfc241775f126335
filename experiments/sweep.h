// Memorization vs generalization over the bottleneck size k, paper 002 section 3.2 (Figure 2, with
// Figure 12's attractor rank and Figure 6's variance ratio at initialization): `gradgrad sweep`.
//
// The config is a training config (models/training.h) with an optional "sweep" section:
//   {"k": [2, 4, 8, 16, 32],   bottleneck sizes: model.code_dim of each model
//    "starts": 1000,            starts drawn from each of train, test and N(0, I_k) (the paper: 5000)
//    "max_iters": 3000, "tol": 1e-6,   appendix D's iteration for Figures 2, 3
//    "init_samples": 1000,      N(0, I) inputs for the variance ratio at initialization (Figure 6)
//    "rank_fraction": 0.9,      Figure 12: components explaining this share of the variance of D(Z*)
//    "trajectory_fpr": true}    also Figure 3d's FPR95 / AUROC of noise vs training trajectories
// Overrides (`sets`) reach both sections: "sweep.starts=500", "training.epochs=5". One model per k is trained
// in DIR/k_<k>/ (config.json, checkpoint.safetensors, metrics.json, run.json, reconstructions, its decoded
// attractors); a k whose folder already holds a checkpoint of the same config is resumed (or only
// re-measured when it is complete) instead of trained again. The sweep folder gets sweep.csv, metrics.json,
// run.json and attractors_by_k.png (Figure 2 right, images only).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace gg {

struct SweepSettings {  // the config's "sweep" section
  std::vector<int64_t> k = {2, 4, 8, 16, 32};
  int64_t starts = 1000;
  int64_t max_iters = 3000;
  double tol = 1e-6;
  int64_t init_samples = 1000;
  double rank_fraction = 0.9;
  bool trajectory_fpr = true;
};
// Refuses unknown keys and values out of range, naming them.
SweepSettings read_sweep_section(const nlohmann::json& section);

struct SweepOptions {
  nlohmann::json config;            // a training config with an optional "sweep" section; null: config_path
  std::string config_path;
  std::vector<std::string> sets;    // "a.b.c=value" overrides, either section
  std::vector<int64_t> k;           // the bottlenecks, over the section's (empty: the section's)
  std::optional<int64_t> starts, max_iters;
  std::optional<double> tol;
  std::string command;              // recorded in run.json
};

struct SweepResult {
  std::vector<nlohmann::json> points;    // one per k: memorization_record (records.h) and k, test_mse, ...
  std::vector<std::string> model_dirs;   // DIR/k_<k>, in the same order
  double minutes = 0;
  nlohmann::json metrics;                // metrics.json as written
};

SweepResult sweep_experiment(const SweepOptions& options, const std::string& out_dir);

}  // namespace gg
