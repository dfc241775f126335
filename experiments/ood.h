// Out-of-distribution detection from latent trajectories, paper 002 section 4.2 (Figure 5): `gradgrad ood`.
//
// In-distribution (ID): samples of the run's own test set. Out-of-distribution: the companion 28x28 set
// (Fashion-MNIST for an MNIST run and the reverse, when installed), Gaussian-noise inputs with the training
// data's mean and standard deviation (clamped to [0, 1] for images), and the ID samples rotated by
// `rotation` degrees. Everything is normalized with the run's own normalizer before it is encoded.
//
// Scores (higher = more OOD), see dynamics/ood.h:
//   trajectory  mean over the path z_0 = E(x), ..., z_T of d(z_t, Z*_train), Z*_train = the converged endpoints
//               of `train_samples` training codes (the paper's N = 2000), iterated with appendix D's setting
//               for section 4.2 (tol 1e-5 on the squared step, 500 iterations);
//   knn         mean Euclidean distance of E(x) to its `knn` nearest training codes (every training sample);
//   knn_input   the same in input space (normalized pixels), a second baseline the paper does not have.
// Per OOD set: AUROC and FPR at 95% TPR of each score -> metrics.json, table.txt; per sample -> scores.csv;
// the ROC curve of each score and set (dynamics/roc.h) -> roc.csv; for images, sets.png.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "dynamics/field.h"
#include "experiments/run_folder.h"

namespace gg {

struct OodOptions {
  ModelSource source;           // the trained model: a run folder, or a model config and its weights
  int64_t samples = 500;        // per set
  int64_t train_samples = 2000; // training codes iterated for Z*_train
  int64_t knn = 50;             // neighbours of the k-NN baselines
  double rotation = 90;         // degrees; 0 leaves the rotated set out
  uint64_t seed = 0;
  IterateOptions iterate = IterateOptions::foundation();
  std::string command;          // recorded in run.json
};

struct OodSetResult {
  std::string name;
  double trajectory_auroc = 0, trajectory_fpr95 = 0;
  double knn_auroc = 0, knn_fpr95 = 0;
  double knn_input_auroc = 0, knn_input_fpr95 = 0;
};

struct OodResult {
  std::string in_distribution;
  std::vector<OodSetResult> sets;  // the OOD sets, in order
  std::string table;               // table.txt: Figure 5's table
  double minutes = 0;
  nlohmann::json metrics;          // metrics.json as written
};

OodResult ood_experiment(const OodOptions& options, const std::string& out_dir);

}  // namespace gg
