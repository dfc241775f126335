// Memorization vs generalization over the bottleneck size k, paper 002 section 3.2 (Figure 2, with
// Figure 12's attractor rank and Figure 6's variance ratio at initialization): `gradgrad sweep`.
//
// The config is a training config (models/training.h) with an optional "sweep" section:
//   {"k": [2, 4, 8, 16, 32],   bottleneck sizes: model.code_dim of each model (one grid point per k)
//    "train_sizes": [500, 2000], optional: each k trained once per training-set size (data.limit; Figure 13)
//    "same_steps": true,        with train_sizes: training.epochs is for the largest size, and a smaller
//                               set gets proportionally more epochs, so every model takes as many steps
//    "seeds": [0, 1, 2],        optional: each k trained once per seed (the config's "seed"); absent: once
//    "starts": 1000,            starts drawn from each of train, test and N(0, I_k) (the paper: 5000)
//    "max_iters": 3000, "tol": 1e-6,   appendix D's iteration for Figures 2, 3
//    "init_samples": 1000,      N(0, I) inputs for the variance ratio at initialization (Figure 6)
//    "rank_fraction": 0.9,      Figure 12: components explaining this share of the variance of D(Z*)
//    "trajectory_fpr": true,    also Figure 3d's FPR95 / AUROC of noise vs training trajectories
//    "field_box": 8, "field_grid": 40,  k = 2 points: the field over [-8, 8]^2 (Figure 1), 40 x 40 cells
//    "slurm": {...}}            the resources of each array task on a cluster (experiments/slurm.h)
// Overrides (`sets`) reach both sections: "sweep.starts=500", "training.epochs=5".
//
// A sweep is planned (plan_sweep), its points are run (run_sweep_point, each in a process of its own if
// wanted: a Slurm array task per point), and the finished points are collected (collect_sweep). The plan is
// saved as DIR/sweep_config.json, so any later step needs only DIR. The grid is k x train_sizes x seeds, k
// outermost; point i trains one model in DIR/k_<k>[_n_<n>][_seed_<s>]/ (the parts of the axes the sweep lists)
// (config.json, checkpoint.safetensors, metrics.json, run.json, reconstructions, its decoded attractors) and
// ends by writing DIR/k_<k>/sweep_point.json: a point with that file for the same config is finished and is
// never run again; one with only a checkpoint of the same config is resumed. The sweep folder gets
// sweep.csv, metrics.json, run.json and attractors_by_k.png (Figure 2 right, images only).
#pragma once

#include <algorithm>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace gg {

struct SlurmSettings {  // the sweep section's "slurm" object: what each array task asks for
  std::string partition;              // empty: the cluster's default partition
  std::string time = "01:00:00";      // sbatch --time per task
  int64_t cpus_per_task = 1;          // also the engine's thread count in the task
  std::string mem;                    // sbatch --mem per task ("4G"); empty: the cluster's default
  std::string account;                // sbatch --account; empty: none
  std::vector<std::string> sbatch;    // further sbatch options, one per #SBATCH line ("--qos=short")
};

struct SweepSettings {  // the config's "sweep" section
  std::vector<int64_t> k = {2, 4, 8, 16, 32};
  std::vector<int64_t> train_sizes;   // empty: every k once, on the config's data (else data.limit per point)
  bool same_steps = false;            // with train_sizes: epochs scaled by max(train_sizes) / size
  std::vector<int64_t> seeds;         // empty: every k once, with the config's seed
  int64_t starts = 1000;
  int64_t max_iters = 3000;
  double tol = 1e-6;
  int64_t init_samples = 1000;
  double rank_fraction = 0.9;
  bool trajectory_fpr = true;
  double field_box = 0;               // > 0: k = 2 points also sample their field over [-box, box]^2 (Figure 1)
  int64_t field_grid = 40;            // its cells per side
  SlurmSettings slurm;
};
// Refuses unknown keys and values out of range, naming them.
SweepSettings read_sweep_section(const nlohmann::json& section);

struct SweepOptions {
  nlohmann::json config;            // a training config with an optional "sweep" section; null: config_path
  std::string config_path;
  std::vector<std::string> sets;    // "a.b.c=value" overrides, either section
  std::vector<int64_t> k;           // the bottlenecks, over the section's (empty: the section's)
  std::vector<int64_t> seeds;       // the seeds, over the section's (empty: the section's)
  std::optional<int64_t> starts, max_iters;
  std::optional<double> tol;
  nlohmann::json slurm = nlohmann::json::object();  // keys over the section's "slurm" ones (--time, --mem...)
  std::string command;              // recorded in run.json
};

// A sweep resolved from its config, overrides and flags: the one description every later step reads.
struct SweepPlan {
  nlohmann::json config;     // the config with the overrides applied and the flags folded into "sweep"
  SweepSettings settings;    // its "sweep" section, read
  std::string out;           // the sweep folder
  std::string source;        // where the config came from, for metrics.json

  size_t size() const { return settings.k.size() * sizes_per_k() * seeds_per_size(); }
  int64_t point_k(size_t i) const;                  // the bottleneck of point i
  int64_t point_train_size(size_t i) const;         // its data.limit from sweep.train_sizes; 0: the config's
  int64_t point_seed(size_t i) const;               // its seed: from sweep.seeds, else the config's
  std::string point_name(size_t i) const;           // "k_<k>[_n_<n>][_seed_<s>]": its folder and metrics key
  std::string point_dir(size_t i) const;            // DIR/<point_name>
  // The training config of point i: code_dim = k, data.limit (and with same_steps its epochs), seed.
  nlohmann::json point_config(size_t i) const;
  // How point i's dynamics are measured (starts, tolerance, seed...): a finished point measured otherwise is
  // measured again, from its checkpoint, without training again.
  nlohmann::json point_measure(size_t i) const;

 private:
  size_t seeds_per_size() const { return std::max<size_t>(1, settings.seeds.size()); }
  size_t sizes_per_k() const { return std::max<size_t>(1, settings.train_sizes.size()); }
};

// Resolves the config and writes DIR/sweep_config.json (and run.json, recording `command`).
SweepPlan plan_sweep(const SweepOptions& options, const std::string& out_dir);
// The plan a plan_sweep left in `out_dir`; fails naming the folder when there is none.
SweepPlan read_sweep_plan(const std::string& out_dir);

bool sweep_point_finished(const SweepPlan& plan, size_t i);
std::vector<size_t> unfinished_points(const SweepPlan& plan);

// Trains (or resumes) and measures point i, ending with its sweep_point.json; a finished point (same config,
// same point_measure) is read back, not run again. Returns the point: memorization_record (records.h) and k,
// test_mse, train_seconds, ...
nlohmann::json run_sweep_point(const SweepPlan& plan, size_t i);

struct SweepResult {
  std::vector<nlohmann::json> points;    // one per grid point
  std::vector<std::string> model_dirs;   // their folders, in the same order
  double minutes = 0;                    // the points' training and measuring time, summed
  nlohmann::json metrics;                // metrics.json as written
};

// Gathers the finished points into sweep.csv, metrics.json and attractors_by_k.png; fails naming the
// points that have not finished.
SweepResult collect_sweep(const SweepPlan& plan);

// The whole sweep in this process: plan, every point in turn, collect.
SweepResult sweep_experiment(const SweepOptions& options, const std::string& out_dir);

}  // namespace gg
