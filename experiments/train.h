// Training from a JSON config (models/training.h) into a run folder: `gradgrad train`. Leaves config.json
// (complete, defaults filled in), metrics.json (per-epoch history, final numbers, and with track_dynamics
// the per-epoch dynamics of paper 002's Figure 3), checkpoint.safetensors, reconstructions (PNG for images,
// CSV for 2-D points) and run.json; plots/run.py draws the figures.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "experiments/track.h"
#include "models/training.h"

namespace gg {

struct TrainOptions {
  nlohmann::json config;            // the training config; when null, read from config_path
  std::string config_path;          // when empty too: <out>/config.json of the run being resumed
  std::vector<std::string> sets;    // "a.b.c=value" overrides (apply_overrides)
  bool resume = false;              // continue from <out>/checkpoint.safetensors
  int64_t track_dynamics = 0;       // a dynamics snapshot every N epochs, at 0 and at the end (0: off)
  TrackOptions track;
  std::string command;              // recorded in run.json
};

struct TrainResult {
  double test_mse = 0, train_mse = 0;
  int64_t epochs = 0;
  double minutes = 0;
  nlohmann::json metrics;  // metrics.json as written
};

TrainResult train_experiment(const TrainOptions& options, const std::string& out_dir);

// ---- What the sweep's models share with a training run ---------------------------------------------------
// Trains to the config's total epochs with a progress bar on stderr labelled `label`; calls on_epoch after
// every epoch.
void train_to_end(Trainer& trainer, const std::string& label,
                  const std::function<void(const EpochRecord&)>& on_epoch = {});
// metrics.json's "final" block: test_mse, train_mse, epochs, parameters, model, minutes_this_run.
nlohmann::json final_metrics(Trainer& trainer, double minutes);
// For 2-D points, the test set and its reconstructions in data units (reconstructions.csv); for images,
// originals above their reconstructions (reconstructions.png).
void write_reconstructions(Trainer& trainer, const std::string& out_dir);

}  // namespace gg
