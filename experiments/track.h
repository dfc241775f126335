// The tracker of `gradgrad train --track-dynamics N` (paper 002, Figure 3): the latent dynamics of the model
// being trained, measured every N epochs, at initialization and at the end.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "models/training.h"

namespace gg {

struct TrackOptions {
  int64_t starts = 256;      // from each of train, test and N(0, I_k)
  int64_t max_iters = 500;   // a cap kept low so a snapshot costs seconds (appendix D uses 3000)
  double tol = 1e-6;         // appendix D, in units of the code scale (dynamics/merge_rule.h)
  std::string tol_units = "code";
  int64_t grid = 24;         // cells per side of the field snapshot (k = 2)
  uint64_t seed = 0;
};

// Measures the trainer's current model (epoch `epoch`, 0 = at initialization): memorization_record's numbers
// (records.h) and test_mse, nearest_distance_mean, attractor_rank_distinct, code_scale, tol_effective,
// merge_rule, merge_distance, seconds; for k = 2 writes <run_dir>/dynamics/field_epoch_<epoch>.csv,
// attractors_epoch_<epoch>.csv and codes_epoch_<epoch>.csv and adds their "frame". Returns the per-epoch
// record for metrics.json's "dynamics" list.
nlohmann::json dynamics_snapshot(Trainer& trainer, int64_t epoch, const std::string& run_dir,
                                 const TrackOptions& options = {});

}  // namespace gg
