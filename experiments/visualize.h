// The visualization protocol of paper 000, section 5: `gradgrad visualize`. For a trained run and each
// corruption Pi, clean against corrupted inputs: a 2-D PCA of the codes z = f(x), and the contractive source
// s_phi (eq. 3), the potential v (eq. 10) and ||grad v|| at every sample (the figures 1-4 of the paper).
// Writes viz_<corruption>.csv (one row per sample and condition), metrics.json (the means per corruption,
// the flux of eq. 7, the coupling of eq. 13, L_Pois of eq. 9) and run.json.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace gg {

struct VisualizeOptions {
  std::string run;                                                // a finished training run
  std::vector<std::string> corruptions = {"noise:0.1", "rotation:30"};  // datasets/corruption.h specs
  int64_t samples = 512;                                          // the first test samples
  uint64_t seed = 0;
  std::string command;                                            // recorded in run.json
};

struct VisualizeResult {
  nlohmann::json metrics;  // per corruption: s, v, grad_v clean and corrupted, flux_eq7, coupling_eq13, L_pois_eq9
};

VisualizeResult visualize_experiment(const VisualizeOptions& options, const std::string& out_dir);

}  // namespace gg
