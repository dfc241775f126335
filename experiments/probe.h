// Data-free weight probing, paper 002 section 4.1 (Figure 4, Figures 7-9): `gradgrad probe`.
//
// N codes Z_n ~ N(0, I_k) (N = k as in the paper unless `dictionary` says otherwise) are iterated to their
// attractors Z*_n with appendix D's setting for section 4.1 (tol 1e-5 on the squared step, 500 iterations);
// the Z*_n are a dictionary of latent signals learnt without looking at any data. Test samples are encoded,
// z = E(x), reconstructed from s atoms by Orthogonal Matching Pursuit, decoded, and compared with x:
// MSE(D(z_s), x) against s, for the attractor dictionary and for a random orthonormal basis of the latent
// space (the paper's baseline). See dynamics/probe.h for OMP and the curve.
//
// Writes probe.csv (one row per set, dictionary and atom count), metrics.json, run.json, and for image data
// grid_<set>.png: originals, D(E(x)), then OMP reconstructions from the attractors and from the random basis
// at a few atom counts (metrics.json's "grids" names the rows; plots/experiments.py labels them).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "dynamics/field.h"
#include "experiments/run_folder.h"

namespace gg {

struct ProbeOptions {
  ModelSource source;               // the trained model: a run folder, or a model config and its weights
  int64_t test = 200;               // samples per test set
  int64_t dictionary = 0;           // noise codes iterated for the dictionary (0: k, as the paper)
  std::vector<int64_t> atoms;       // atom counts of the curve (empty: 1, 2, 4, ..., k)
  std::vector<std::string> sets;    // test sets (empty: "test", the run's own, and the companion set)
  int64_t show = 8;                 // samples in each image grid (0: none)
  uint64_t seed = 0;
  IterateOptions iterate = IterateOptions::foundation();
  std::string command;              // recorded in run.json
};

struct ProbeSetResult {
  std::string name;
  double autoencoder_mse = 0;                 // MSE(D(E(x)), x): every coordinate of z
  std::vector<double> attractors_mse;         // per atom count: the noise attractors' dictionary
  std::vector<double> random_basis_mse;       // the random orthonormal basis
};

struct ProbeResult {
  int64_t dictionary_size = 0, distinct_attractors = 0;
  std::vector<int64_t> atom_counts;
  std::vector<ProbeSetResult> sets;
  nlohmann::json metrics;  // metrics.json as written
};

ProbeResult probe_experiment(const ProbeOptions& options, const std::string& out_dir);

}  // namespace gg
