// Memorization vs generalization read off the attractors (paper 002, section 3.2, Figures 2, 3, 12, 13), and
// the contraction of untrained models (appendix B.1, Figure 6).
//
// Definitions taken from the paper:
//   memorization coefficient (section 3.2): mem(z*) = cos(D(z*), x_nearest), the cosine similarity of a
//     decoded attractor to its closest training sample, i.e. max_{x in X_train} cos(D(z*), x) (the paper's
//     formula prints min, which would pick the farthest sample; its text says "closest point"). Reported as
//     the mean and standard deviation (population, divide by n) over the attractors given.
//   distinct attractors (section 3.2, Figure 3c): iterate from codes of 5000 training samples, 5000 test
//     samples and 5000 draws of N(0, I_k), and count attractors merged by cos > 0.99 (attractors.h).
//   attractor rank (appendix B.5, Figure 12): the number of principal components needed to explain 90% of the
//     variance of X* = D(Z*), via datasets/pca.h. PCA centres the rows first (the paper speaks of the SVD of
//     X* and of "variance"), so an offset shared by every attractor is not counted as a direction.
//   variance ratio at initialization (appendix B.1, Figure 6): N = 1000 inputs x ~ N(0, I) through an
//     untrained model; ratio = sigma_out / sigma_in with sigma the variance, here the per-coordinate variance
//     over the N samples averaged over coordinates (empirical on both sides; sigma_in ~ 1). < 1 means
//     contractive.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "dynamics/attractors.h"

namespace gg {

struct MemorizationCoefficient {
  std::vector<double> per_attractor;  // max_x cos(D(z*), x), one per row given
  std::vector<int64_t> nearest;       // the training sample achieving it
  double mean = 0, std = 0;
};
// decoded [A, ...] against train [N, ...] (same numel per row), both flattened per row.
MemorizationCoefficient memorization_coefficient(const Tensor& decoded, const Tensor& train);
// Decodes attractors [A, k] with the model first.
MemorizationCoefficient memorization_coefficient(Autoencoder& model, const Tensor& attractors,
                                                 const Tensor& train_x);

// Figure 12: principal components explaining `fraction` of the variance of the rows of decoded [A, ...];
// A rows give at most min(A - 1, D) non-zero variances; returns A when A < 2.
int64_t attractor_rank(const Tensor& decoded, double fraction = 0.9);

// Figure 6 for any map: inputs [N, ...] (N >= 2) -> outputs [N, ...]; var(outputs) / var(inputs) as above.
double variance_ratio(const std::function<Tensor(const Tensor&)>& map, const Tensor& inputs);
// The model's reconstruction map x -> D(E(x)) on n draws of N(0, I) in input space (Figure 6), or, with
// latent = true, the latent map z -> E(D(z)) on n draws of N(0, I_k).
double variance_ratio_at_init(Autoencoder& model, int64_t n = 1000, uint64_t seed = 0, bool latent = false);

// ---- Counting attractors from a distribution of starts (Figure 3c) ----------------------------------------
struct AttractorCensus {
  int64_t starts = 0, converged = 0, distinct = 0;
  double fraction = 0;      // distinct / starts (Figure 3c plots the fraction)
  AttractorSet attractors;  // of the converged starts
  Trajectories trajectories;
};
AttractorCensus attractor_census(Autoencoder& model, const Tensor& z0, const IterateOptions& options = {},
                                 const AttractorMerge& merge = {});

// ---- Everything Figures 2, 3b-d and 12 plot for one model -------------------------------------------------
struct MemorizationReportOptions {
  int64_t samples = 5000;      // starts drawn from each of train, test and N(0, I) (section 3.2)
  int64_t noise_samples = 0;   // draws of N(0, I_k) when not `samples` (0: `samples`)
  uint64_t seed = 0;           // picks the train/test samples and draws the noise codes
  IterateOptions iterate;      // appendix D: tol 1e-6, 3000 iterations
  AttractorMerge merge;        // cos > 0.99
  double rank_fraction = 0.9;  // Figure 12
  bool trajectory_fpr = true;  // Figure 3d's FPR95 of noise vs training trajectories (one more training run)
  int64_t batch_size = 1024;   // for encoding and decoding
  // Called as each run of starts goes ("train", "test", "noise", then "train scores" when trajectory_fpr is
  // on), with the samples of that run finished so far and its total (IterateOptions::progress). Empty: none.
  std::function<void(const std::string& stage, int64_t finished, int64_t total)> progress;
};
struct MemorizationReport {
  AttractorCensus train, test, noise;
  MemorizationCoefficient memorization;  // of the distinct training attractors (Figures 2 left, 3b)
  int64_t attractor_rank = 0;            // of D(Z*) over the converged training starts (Figure 12)
  // Figure 3d: chamfer_similarity of the distinct noise and training attractors (NaN if either set is empty),
  // and how well section 3.2's trajectory score (distance to the converged training endpoints Z*_train)
  // separates training trajectories (ID) from noise trajectories (OOD); NaN when trajectory_fpr is off.
  double chamfer_noise_train = 0;
  double fpr95_noise_vs_train = 0;
  double auroc_noise_vs_train = 0;
};
// train_x, test_x: input samples [N, ...] (test_x may be undefined or empty: its census is left empty).
MemorizationReport memorization_report(Autoencoder& model, const Tensor& train_x, const Tensor& test_x,
                                       const MemorizationReportOptions& options = {});

// A memorization measure that means something in low dimensions, where the cosine of section 3.2 is ~1 for
// any point (some training sample always lies in almost the same direction): the mean Euclidean distance
// from each decoded attractor D(z*) of attractors [A, k] to its nearest training sample (rows of train_x, in
// the units train_x is in); NaN with no attractor.
double nearest_distance_mean(Autoencoder& model, const Tensor& attractors, const Tensor& train_x);

}  // namespace gg
