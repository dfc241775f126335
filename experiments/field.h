// The latent vector field of a trained run (paper 002, sections 2-3; Figures 1, 3, 11, 12): `gradgrad field`.
//
// For the run's autoencoder, f(z) = E(D(z)) and its residual f(z) - z (eq. 3-4): trajectories from training,
// test and N(0, I_k) codes, the attractors they end in (merged as dynamics/merge_rule.h says), the local
// picture at each attractor (spectral norm by power iteration and from the Jacobian, eigenvalues,
// Definition 2), Proposition 3.2's predicted against measured iteration counts (Figure 11), and the
// memorization numbers of section 3.2 (Figures 2, 3, 6, 12). For 2-D codes the field and the basins of
// attraction on a grid around the codes; for larger k the same pictures in the plane of the codes' first two
// principal components (dynamics/plane.h). For 2-D data, paper 000's Poisson potential v (eq. 10) over the
// input plane. Writes into the output folder:
//   metrics.json, attractors.csv, eigenvalues.csv, convergence.csv, codes.csv, trajectories.csv, field.csv,
//   basins.csv (k = 2), decoded_attractors.png (images) or decoded_attractors.csv + data.csv (points),
//   potential.csv (2-D data), run.json
// and plots/field.py draws the figures from them.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "dynamics/field.h"
#include "experiments/run_folder.h"

namespace gg {

struct FieldOptions {
  ModelSource source;              // the trained model: a run folder, or a model config and its weights
  int64_t grid = 80;               // cells per side of the field, basin and potential grids (>= 2)
  int64_t starts = 512;            // training codes and test codes iterated (each)
  int64_t noise_starts = 512;      // N(0, I_k) codes iterated
  IterateOptions iterate;          // appendix D's: tol 1e-6 on the squared step (in `tol_units`), 3000 steps
  std::string tol_units = "code";  // "code" (units of the code scale) or "absolute" (dynamics/merge_rule.h)
  uint64_t seed = 0;
  std::string command;  // recorded in run.json
};

struct FieldResult {
  int64_t code_dim = 0;
  double code_scale = 0, tol_effective = 0;
  std::string merge_rule;  // "distance" or "cosine"
  int64_t distinct_train = 0, distinct_test = 0, distinct_noise = 0;
  int64_t attractors = 0;                // all sources pooled, the grid's included
  int64_t attractors_definition_2 = 0;   // of those
  double pearson_all = 0;                // Proposition 3.2, over the finite predictions
  nlohmann::json metrics;                // metrics.json as written
  std::string summary() const;           // a few lines for a terminal
};

FieldResult field_experiment(const FieldOptions& options, const std::string& out_dir);

}  // namespace gg
