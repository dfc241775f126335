// The visualization protocol of paper 000, section 5: `gradgrad visualize`. For a trained run and each
// corruption Pi, clean against corrupted inputs: a 2-D PCA of the codes z = f(x), and the contractive source
// s_phi (eq. 3), the potential v (eq. 10) and ||grad v|| at every sample (the figures 1-4 of the paper).
// Writes viz_<corruption>.csv (one row per sample and condition), metrics.json (the means per corruption,
// the flux of eq. 7, the coupling of eq. 13, L_Pois of eq. 9) and run.json.
//
// With a sweep (`--sweep noise:0..0.5,rotation:0..90,zoom:0..0.5`), paper 000's claim that the potential is
// sensitive to corruption, measured instead: for the run and each `compare` run side by side, each estimator
// of v and each corruption kind at sweep_points strengths from lo to hi, the means over the samples of
// s_phi, v and ||grad v|| at the corrupted inputs, with their standard errors: sweep.csv, and metrics.json's
// "sweep". The Ritz estimator there is the box one (ritz.h), fitted afresh at each strength.
//
// With gradient_noise = N draws, how much noise the Poisson step's random draws put into the gradient of
// lambda L_Pois, at one batch of the run's batch size (the first test samples) and the run's model: for each
// source of s_phi in noise_sources, over N draws of the corruption, the quadrature rows and the probes, made
// with the same seeds for every source (so the corruption and rows are paired and only the probes differ),
// ||mean g||^2, the summed per-coordinate variance, and the paired E||g_source - g_first||^2 against the
// first source; beside them the run's own objective's gradient over N training batches (the minibatch
// noise SGD already has). metrics.json's "gradient_noise".
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "models/training.h"
#include "regularizers/poisson.h"

namespace gg {

struct VisualizeOptions {
  std::string run;                                                // a finished training run
  std::vector<std::string> corruptions = {"noise:0.1", "rotation:30"};  // datasets/corruption.h specs
  std::vector<std::string> sweep;    // "kind:lo..hi", each; empty: no sweep
  int64_t sweep_points = 6;          // strengths per kind, lo and hi included
  std::vector<std::string> compare;  // more runs, side by side in the sweep
  std::vector<std::string> estimators = {"paper", "importance", "ritz"};  // the sweep's estimators of v
  int64_t samples = 512;                                          // the first test samples
  int64_t gradient_noise = 0;  // draws of the gradient-noise measurement (0: none)
  std::vector<std::string> noise_sources = {"exact", "hutchinson:1", "hutchinson:4"};  // METHOD[:PROBES]
  uint64_t seed = 0;
  std::string command;                                            // recorded in run.json
};

struct VisualizeResult {
  nlohmann::json
      metrics;  // per corruption: s, v, grad_v clean and corrupted, flux_eq7, coupling_eq13, L_pois_eq9
                // (with a sweep: "sweep", one row per run, estimator, kind and strength)
};

// "kind:lo..hi" as `points` corruption specs from lo to hi, evenly ("noise:0..0.5", 6 -> noise:0 ...
// noise:0.5); refuses a malformed range or an amount its kind does not take, naming it.
std::vector<std::string> sweep_specs(const std::string& range, int64_t points);

VisualizeResult visualize_experiment(const VisualizeOptions& options, const std::string& out_dir);

// The gradient-noise measurement above for a loaded run, with `options` its Poisson term's (or the defaults).
nlohmann::json poisson_gradient_noise(Trainer& trainer, const PoissonOptions& options, int64_t draws,
                                      const std::vector<std::string>& sources, uint64_t seed);

}  // namespace gg
