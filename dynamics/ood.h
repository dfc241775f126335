// Out-of-distribution detection from latent trajectories (paper 002, sections 3.2, 4.2; Figures 3d, 5, 10).
//
// Score of section 4.2: a test code z_0 = E(x) is iterated to its attractor along pi(z) = [z_0, ..., z_T]:
//   score(z) = 1/|pi| sum_{z_i in pi(z)} d(z_i, Z*_train),   d(z, Z*) = min_{z* in Z*} ||z - z*||_2,
// the mean Euclidean distance of the trajectory's points to the set of training attractors. (The paper writes
// 1/N over [z_0, ..., z_N], i.e. N + 1 points; we average over every point of the path, z_0 and z_T
// included.) The baseline is the k-nearest-neighbour score: the mean distance to the K nearest training codes
// (K = 2000 in the paper). For both, higher means more out-of-distribution.
//
// Metrics take the scores of the in-distribution (ID) and OOD samples. AUROC is the Mann-Whitney statistic
// P(s_ood > s_id) + 1/2 P(s_ood = s_id). FPR95 follows section 4.2: the threshold keeps 95% of the ID samples
// (ID positive, classified ID when score <= tau, tau the smallest ID score with at least 95% of ID scores at
// or below it), and FPR95 is the share of OOD samples with score <= tau (ties at tau count as accepted, as
// every point of an ROC curve does). Both are fractions in [0, 1] (the paper's tables print percentages).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "dynamics/field.h"

namespace gg {

// d(z, Z*) for every row of points [N, k] against the rows of set [A >= 1, k], and which row is nearest.
struct SetDistances {
  std::vector<double> distance;
  std::vector<int64_t> nearest;
};
SetDistances distance_to_set(const Tensor& points, const Tensor& set);

// The trajectory-distance score of section 4.2 for every row of z0 [N, k], against train_attractors [A, k].
// The default iteration is appendix D's for section 4.2 (tol 1e-5, 500 iterations). The paths themselves are
// not stored, only each point's distance to Z*_train.
struct TrajectoryScores {
  std::vector<double> score;               // mean of d(z_t, Z*_train) over the path (section 4.2)
  std::vector<std::vector<double>> path_distance;  // d(z_t, Z*_train) for t = 0 .. its stop, per sample
  std::vector<double> final_distance;      // d(z_T, Z*_train): 0 when the sample ends in a training attractor
  std::vector<int64_t> nearest_attractor;  // the training attractor nearest to z_T
  std::vector<int64_t> iterations;         // applications of f
  std::vector<IterOutcome> outcome;
};
// When `trajectories` is given, the iteration's result (no paths unless options ask) is stored there too.
TrajectoryScores trajectory_distance_scores(const LatentMap& f, const Tensor& z0,
                                            const Tensor& train_attractors,
                                            const IterateOptions& options = IterateOptions::foundation(),
                                            Trajectories* trajectories = nullptr);
TrajectoryScores trajectory_distance_scores(Autoencoder& model, const Tensor& z0,
                                            const Tensor& train_attractors,
                                            const IterateOptions& options = IterateOptions::foundation(),
                                            Trajectories* trajectories = nullptr);

// Where along its path a set's score comes from, one entry per step t = 0 .. the longest path: quantiles of
// d(z_t, Z*_train) over every sample of the set, a sample whose path has stopped counting with its last
// distance (so each curve describes the whole set at every t), and how many paths go on past t. Two sets
// with the same score can differ here: one falls near an attractor at once, the other creeps towards one.
struct PathDistanceProfile {
  std::vector<double> q25, median, q75, mean;
  std::vector<int64_t> moving;  // samples whose path has a point after t
};
PathDistanceProfile path_distance_profile(const TrajectoryScores& scores);

// The k-NN baseline of section 4.2: for each row of queries [M, d], the mean Euclidean distance to its
// min(k_neighbors, N) nearest rows of reference [N, d] (N >= 1). The paper does not name the space; passing
// latent codes (test codes against training codes) compares it with the trajectory score on equal terms.
std::vector<double> knn_scores(const Tensor& queries, const Tensor& reference, int64_t k_neighbors = 2000);

// ---- Metrics from score lists (higher score = more OOD) ---------------------------------------------------
// Mann-Whitney AUROC with ties counted 1/2 (both lists non-empty; NaN scores are refused).
double auroc(const std::vector<double>& id_scores, const std::vector<double>& ood_scores);
// The false-positive rate at `tpr` of the ID samples accepted, as above (0 < tpr <= 1).
double fpr_at_tpr(const std::vector<double>& id_scores, const std::vector<double>& ood_scores,
                  double tpr = 0.95);
struct OodMetrics {
  double auroc = 0, fpr95 = 0;
  int64_t n_id = 0, n_ood = 0;
};
OodMetrics ood_metrics(const std::vector<double>& id_scores, const std::vector<double>& ood_scores);

// ---- One row per sample, for a CSV file ------------------------------------------------------------------
struct OodSampleRow {
  std::string set;    // e.g. "mnist-test" or "fashion-mnist"
  int64_t index = 0;  // the sample's row in its set
  bool in_distribution = false;
  double trajectory_score = 0;  // section 4.2
  double knn_score = 0;         // NaN when not computed
  double final_distance = 0;    // d(z_T, Z*_train)
  int64_t nearest_attractor = -1;
  int64_t iterations = 0;
  bool converged = false;
};
// Rows for one set; knn may be empty (then knn_score is NaN) or one per sample.
std::vector<OodSampleRow> ood_rows(const std::string& set, bool in_distribution,
                                   const TrajectoryScores& scores, const std::vector<double>& knn = {});
// The columns: set, index, in_distribution, trajectory_score, knn_score, final_distance, nearest_attractor,
// iterations, converged (comma-separated, no spaces).
std::string ood_csv_header();
// One line in the header's order, no newline; numbers with 17 significant digits, booleans as 0/1, and the
// set name quoted when it holds a comma or a quote.
std::string ood_csv_line(const OodSampleRow& row);

}  // namespace gg
