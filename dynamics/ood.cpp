#include "dynamics/ood.h"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace gg {

namespace {

using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

RowMatrix to_matrix(const Tensor& t, const char* op, const char* what) {
  GG_CHECK(t.defined() && t.dim() >= 1, std::string(op) + ": " + what + " is undefined");
  int64_t n = 0, d = 0;
  const std::vector<double> v = rows_as_doubles(t, n, d);
  return Eigen::Map<const RowMatrix>(v.data(), n, d);
}

// -2 p.s for every query row p against every row s of `set`, handed to f(i, row) one query at a time as a
// contiguous row over the set. The products are taken 64 queries at a time into `buffer`, kept between
// calls, and read along their rows: a fresh [1024, A] column-major matrix per call, read across its columns
// and faulted in each time, made the nearest-attractor search 4-55x slower.
template <class Queries, class F>
void for_each_product_row(const Queries& queries, const RowMatrix& set, RowMatrix& buffer, F&& f) {
  constexpr int64_t kBlock = 64;
  for (int64_t a = 0; a < queries.rows(); a += kBlock) {
    const int64_t b = std::min<int64_t>(queries.rows(), a + kBlock);
    buffer.noalias() = -2.0 * (queries.middleRows(a, b - a) * set.transpose());
    for (int64_t i = a; i < b; ++i) f(i, buffer.data() + (i - a) * set.rows());
  }
}

// Nearest rows of a fixed set: ||p - s||^2 = |p|^2 + |s|^2 - 2 p.s picks the nearest, whose distance is then
// recomputed exactly (no cancellation near an attractor).
class NearestInSet {
 public:
  explicit NearestInSet(RowMatrix set) : set_(std::move(set)), sq_(set_.rowwise().squaredNorm()) {}
  int64_t dim() const { return set_.cols(); }
  // For m points p (row-major, m x k): distances and indices of the nearest set rows (the first on a tie).
  void query(const double* p, int64_t m, double* distance, int64_t* nearest) {
    const Eigen::Map<const RowMatrix> pts(p, m, set_.cols());
    const int64_t n = set_.rows();
    for_each_product_row(pts, set_, product_, [&](int64_t i, const double* row) {
      int64_t j = 0;  // the smallest ||p - s||^2 - |p|^2 = -2 p.s + |s|^2
      double best = row[0] + sq_[0];
      for (int64_t c = 1; c < n; ++c)
        if (row[c] + sq_[c] < best) best = row[c] + sq_[c], j = c;
      nearest[i] = j;
      distance[i] = (pts.row(i) - set_.row(j)).norm();
    });
  }

 private:
  RowMatrix set_;
  Eigen::VectorXd sq_;
  RowMatrix product_;  // for_each_product_row's buffer
};

void check_scores(const std::vector<double>& id, const std::vector<double>& ood, const char* op) {
  GG_CHECK(!id.empty() && !ood.empty(), std::string(op) + ": needs at least one ID and one OOD score");
  for (double s : id) GG_CHECK(!std::isnan(s), std::string(op) + ": an ID score is NaN");
  for (double s : ood) GG_CHECK(!std::isnan(s), std::string(op) + ": an OOD score is NaN");
}

std::string number(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

}  // namespace

SetDistances distance_to_set(const Tensor& points, const Tensor& set) {
  GG_CHECK(points.defined() && points.dim() == 2 && set.defined() && set.dim() == 2 && set.size(0) >= 1 &&
               points.size(1) == set.size(1),
           "distance_to_set: expected points [N, k] and a non-empty set [A, k], got " +
               (points.defined() ? points.str() : std::string("undefined")) + " and " +
               (set.defined() ? set.str() : std::string("undefined")));
  NearestInSet nn(to_matrix(set, "distance_to_set", "set"));
  const std::vector<double> p = points.to_vector();
  SetDistances out;
  out.distance.resize(static_cast<size_t>(points.size(0)));
  out.nearest.resize(static_cast<size_t>(points.size(0)));
  nn.query(p.data(), points.size(0), out.distance.data(), out.nearest.data());
  return out;
}

TrajectoryScores trajectory_distance_scores(const LatentMap& f, const Tensor& z0,
                                            const Tensor& train_attractors, const IterateOptions& options,
                                            Trajectories* trajectories) {
  GG_CHECK(z0.defined() && z0.dim() == 2 && train_attractors.defined() && train_attractors.dim() == 2 &&
               train_attractors.size(0) >= 1 && train_attractors.size(1) == z0.size(1),
           "trajectory_distance_scores: expected codes [N, k] and training attractors [A >= 1, k]");
  NearestInSet nn(to_matrix(train_attractors, "trajectory_distance_scores", "train_attractors"));
  const size_t n = static_cast<size_t>(z0.size(0));
  TrajectoryScores s;
  s.path_distance.resize(n);
  std::vector<double> d;
  std::vector<int64_t> idx;
  // d(z_t, Z*_train) for the samples at step t, a batch-step at a time.
  const VisitFn visit = [&](const std::vector<int64_t>& samples, int64_t t, const std::vector<double>& z) {
    const int64_t m = static_cast<int64_t>(samples.size());
    d.resize(size_t(m));
    idx.resize(size_t(m));
    nn.query(z.data(), m, d.data(), idx.data());
    for (int64_t j = 0; j < m; ++j) {
      std::vector<double>& path = s.path_distance[size_t(samples[size_t(j)])];
      if (path.size() <= size_t(t)) path.resize(size_t(t) + 1);
      path[size_t(t)] = d[size_t(j)];
    }
  };
  const Trajectories t = iterate(f, z0, options, visit);
  // Section 4.2: score(z) = mean over the path of d(z_i, Z*_train).
  for (const std::vector<double>& path : s.path_distance) {
    double sum = 0;
    for (double v : path) sum += v;
    s.score.push_back(sum / double(path.size()));
  }
  const SetDistances fin = distance_to_set(t.final, train_attractors);
  s.final_distance = fin.distance;
  s.nearest_attractor = fin.nearest;
  s.iterations = t.iterations;
  s.outcome = t.outcome;
  if (trajectories) *trajectories = t;
  return s;
}

TrajectoryScores trajectory_distance_scores(Autoencoder& model, const Tensor& z0,
                                            const Tensor& train_attractors, const IterateOptions& options,
                                            Trajectories* trajectories) {
  const DType t = model.config().dtype;
  return trajectory_distance_scores(latent_map_of(model), z0.dtype() == t ? z0 : z0.to(t), train_attractors,
                                    options, trajectories);
}

PathDistanceProfile path_distance_profile(const TrajectoryScores& scores) {
  const std::vector<std::vector<double>>& paths = scores.path_distance;
  GG_CHECK(!paths.empty(), "path_distance_profile: no paths");
  size_t steps = 0;
  for (const auto& p : paths) {
    GG_CHECK(!p.empty(), "path_distance_profile: a path without points");
    steps = std::max(steps, p.size());
  }
  // The q-quantile of sorted values, linear between order statistics (numpy's default).
  const auto quantile = [](const std::vector<double>& sorted, double q) {
    const double pos = q * double(sorted.size() - 1);
    const size_t lo = static_cast<size_t>(pos), hi = std::min(lo + 1, sorted.size() - 1);
    return sorted[lo] + (pos - double(lo)) * (sorted[hi] - sorted[lo]);
  };
  PathDistanceProfile out;
  std::vector<double> at(paths.size());
  for (size_t t = 0; t < steps; ++t) {
    int64_t moving = 0;
    double sum = 0;
    for (size_t i = 0; i < paths.size(); ++i) {
      at[i] = paths[i][std::min(t, paths[i].size() - 1)];
      moving += paths[i].size() > t + 1;
      sum += at[i];
    }
    std::sort(at.begin(), at.end());
    out.q25.push_back(quantile(at, 0.25));
    out.median.push_back(quantile(at, 0.5));
    out.q75.push_back(quantile(at, 0.75));
    out.mean.push_back(sum / double(at.size()));
    out.moving.push_back(moving);
  }
  return out;
}

std::vector<double> knn_scores(const Tensor& queries, const Tensor& reference, int64_t k_neighbors) {
  GG_CHECK(k_neighbors >= 1, "knn_scores: k_neighbors must be >= 1");
  const RowMatrix q = to_matrix(queries, "knn_scores", "queries"),
                  r = to_matrix(reference, "knn_scores", "reference");
  GG_CHECK(r.rows() >= 1 && q.cols() == r.cols(), "knn_scores: queries " + queries.str() + " and reference " +
                                                      reference.str() +
                                                      " differ in dimension, or no reference");
  const int64_t kk = std::min<int64_t>(k_neighbors, r.rows());
  const Eigen::VectorXd rq = r.rowwise().squaredNorm();
  std::vector<double> out(static_cast<size_t>(q.rows())), row(static_cast<size_t>(r.rows()));
  RowMatrix product;
  for_each_product_row(q, r, product, [&](int64_t i, const double* p) {
    const double qq = q.row(i).squaredNorm();
    for (int64_t j = 0; j < r.rows(); ++j) row[size_t(j)] = std::sqrt(std::max(0.0, p[j] + rq[j] + qq));
    std::nth_element(row.begin(), row.begin() + (kk - 1), row.end());
    double s = 0;
    for (int64_t j = 0; j < kk; ++j) s += row[size_t(j)];
    out[size_t(i)] = s / double(kk);
  });
  return out;
}

double auroc(const std::vector<double>& id_scores, const std::vector<double>& ood_scores) {
  check_scores(id_scores, ood_scores, "auroc");
  // Mann-Whitney: U = (sum of the OOD samples' mid-ranks in the pooled sample) - n_ood (n_ood + 1) / 2 counts
  // the (id, ood) pairs with s_ood > s_id, ties 1/2; AUROC = U / (n_id n_ood).
  std::vector<std::pair<double, bool>> all;  // (score, is_ood)
  for (double s : id_scores) all.emplace_back(s, false);
  for (double s : ood_scores) all.emplace_back(s, true);
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  double rank_sum = 0;
  for (size_t i = 0; i < all.size();) {
    size_t j = i;
    while (j < all.size() && all[j].first == all[i].first) ++j;
    const double mid_rank = 0.5 * double(i + 1 + j);  // the mean of ranks i+1 .. j
    for (size_t m = i; m < j; ++m)
      if (all[m].second) rank_sum += mid_rank;
    i = j;
  }
  const double n_id = double(id_scores.size()), n_ood = double(ood_scores.size());
  return (rank_sum - n_ood * (n_ood + 1) / 2) / (n_id * n_ood);
}

double fpr_at_tpr(const std::vector<double>& id_scores, const std::vector<double>& ood_scores, double tpr) {
  check_scores(id_scores, ood_scores, "fpr_at_tpr");
  GG_CHECK(tpr > 0 && tpr <= 1, "fpr_at_tpr: tpr must be in (0, 1], got " + std::to_string(tpr));
  std::vector<double> id = id_scores;
  std::sort(id.begin(), id.end());
  const int64_t n = static_cast<int64_t>(id.size());
  // The fewest ID samples that make the rate: ceil(tpr n), guarded against 0.95 * 20 = 18.999... .
  const int64_t need = std::clamp<int64_t>(static_cast<int64_t>(std::ceil(tpr * double(n) - 1e-9)), 1, n);
  const double tau = id[size_t(need - 1)];
  int64_t accepted = 0;
  for (double s : ood_scores) accepted += s <= tau;
  return double(accepted) / double(ood_scores.size());
}

OodMetrics ood_metrics(const std::vector<double>& id_scores, const std::vector<double>& ood_scores) {
  OodMetrics m;
  m.auroc = auroc(id_scores, ood_scores);
  m.fpr95 = fpr_at_tpr(id_scores, ood_scores, 0.95);
  m.n_id = static_cast<int64_t>(id_scores.size());
  m.n_ood = static_cast<int64_t>(ood_scores.size());
  return m;
}

std::vector<OodSampleRow> ood_rows(const std::string& set, bool in_distribution,
                                   const TrajectoryScores& scores, const std::vector<double>& knn) {
  const size_t n = scores.score.size();
  GG_CHECK(knn.empty() || knn.size() == n,
           "ood_rows: " + std::to_string(knn.size()) + " k-NN scores for " + std::to_string(n) + " samples");
  std::vector<OodSampleRow> rows(n);
  for (size_t i = 0; i < n; ++i) {
    OodSampleRow& r = rows[i];
    r.set = set;
    r.index = static_cast<int64_t>(i);
    r.in_distribution = in_distribution;
    r.trajectory_score = scores.score[i];
    r.knn_score = knn.empty() ? std::numeric_limits<double>::quiet_NaN() : knn[i];
    r.final_distance = scores.final_distance[i];
    r.nearest_attractor = scores.nearest_attractor[i];
    r.iterations = scores.iterations[i];
    r.converged = scores.outcome[i] == IterOutcome::converged;
  }
  return rows;
}

std::string ood_csv_header() {
  return "set,index,in_distribution,trajectory_score,knn_score,final_distance,nearest_attractor,iterations,"
         "converged";
}

std::string ood_csv_line(const OodSampleRow& r) {
  std::string set = r.set;
  if (set.find_first_of(",\"\n") != std::string::npos) {
    std::string q = "\"";
    for (char c : set) q += c == '"' ? std::string("\"\"") : std::string(1, c);
    set = q + "\"";
  }
  return set + "," + std::to_string(r.index) + "," + (r.in_distribution ? "1" : "0") + "," +
         number(r.trajectory_score) + "," + number(r.knn_score) + "," + number(r.final_distance) + "," +
         std::to_string(r.nearest_attractor) + "," + std::to_string(r.iterations) + "," +
         (r.converged ? "1" : "0");
}

}  // namespace gg
