#include "dynamics/attractors.h"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <numeric>

namespace gg {

namespace {

double norm_of(const double* a, int64_t k) {
  double s = 0;
  for (int64_t c = 0; c < k; ++c) s += a[c] * a[c];
  return std::sqrt(s);
}

double distance(const double* a, const double* b, int64_t k) {
  double s = 0;
  for (int64_t c = 0; c < k; ++c) s += (a[c] - b[c]) * (a[c] - b[c]);
  return std::sqrt(s);
}

// Rows of a set of vectors with their norms, for repeated cosine comparisons.
struct RowSet {
  std::vector<double> v, norm;
  int64_t n = 0, k = 0;
  explicit RowSet(int64_t dim) : k(dim) {}
  const double* row(int64_t i) const { return v.data() + i * k; }
  void add(const double* x) {
    v.insert(v.end(), x, x + k);
    norm.push_back(norm_of(x, k));
    ++n;
  }
  double cos(int64_t i, const double* x, double x_norm) const {
    if (norm[size_t(i)] == 0 || x_norm == 0) return 0;
    double s = 0;
    for (int64_t c = 0; c < k; ++c) s += row(i)[c] * x[c];
    return s / (norm[size_t(i)] * x_norm);
  }
  // The best match of x under the merge rule, or -1.
  int64_t match(const double* x, const AttractorMerge& m) const {
    const double xn = norm_of(x, k);
    int64_t best = -1;
    double best_cos = -2;
    for (int64_t i = 0; i < n; ++i) {
      const double c = cos(i, x, xn);
      const bool same = c > m.cos_threshold || distance(row(i), x, k) <= m.distance_threshold;
      if (same && c > best_cos) best = i, best_cos = c;
    }
    return best;
  }
};

void check_rows(const Tensor& t, const char* op, const char* what) {
  GG_CHECK(t.defined() && t.dim() == 2, std::string(op) + ": expected " + what + " [N, k], got " +
                                            (t.defined() ? t.str() : std::string("undefined")));
}

}  // namespace

double cosine_similarity(const double* a, const double* b, int64_t k) {
  const double na = norm_of(a, k), nb = norm_of(b, k);
  if (na == 0 || nb == 0) return 0;
  double s = 0;
  for (int64_t c = 0; c < k; ++c) s += a[c] * b[c];
  return s / (na * nb);
}

std::vector<int64_t> AttractorSet::by_count() const {
  std::vector<int64_t> order(counts.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return counts[size_t(a)] > counts[size_t(b)]; });
  return order;
}

AttractorSet find_attractors(const Tensor& endpoints, const std::vector<bool>& include,
                             const AttractorMerge& merge) {
  check_rows(endpoints, "find_attractors", "endpoints");
  const int64_t n = endpoints.size(0), k = endpoints.size(1);
  GG_CHECK(include.empty() || static_cast<int64_t>(include.size()) == n,
           "find_attractors: " + std::to_string(include.size()) + " include flags for " + std::to_string(n) +
               " endpoints");
  const std::vector<double> v = endpoints.to_vector();
  RowSet reps(k);
  AttractorSet s;
  s.assignment.assign(static_cast<size_t>(n), -1);
  for (int64_t i = 0; i < n; ++i) {
    if (!include.empty() && !include[size_t(i)]) continue;
    const double* x = v.data() + i * k;
    int64_t a = reps.match(x, merge);
    if (a < 0) {
      a = reps.n;
      reps.add(x);
      s.counts.push_back(0);
    }
    s.assignment[size_t(i)] = a;
    ++s.counts[size_t(a)];
  }
  s.points = Tensor::from_data(reps.v, {reps.n, k}, DType::f64, endpoints.device());
  return s;
}

AttractorSet find_attractors(const Trajectories& trajectories, const AttractorMerge& merge) {
  std::vector<bool> include(static_cast<size_t>(trajectories.size()));
  for (int64_t i = 0; i < trajectories.size(); ++i) include[size_t(i)] = trajectories.converged(i);
  return find_attractors(trajectories.final, include, merge);
}

std::vector<int64_t> match_attractors(const Tensor& points, const Tensor& attractors,
                                      const AttractorMerge& merge) {
  check_rows(points, "match_attractors", "points");
  check_rows(attractors, "match_attractors", "attractors");
  GG_CHECK(points.size(1) == attractors.size(1), "match_attractors: points " + points.str() +
                                                     " and attractors " + attractors.str() + " differ in k");
  const int64_t n = points.size(0), k = points.size(1);
  RowSet reps(k);
  const std::vector<double> av = attractors.to_vector(), pv = points.to_vector();
  for (int64_t a = 0; a < attractors.size(0); ++a) reps.add(av.data() + a * k);
  std::vector<int64_t> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) out[size_t(i)] = reps.match(pv.data() + i * k, merge);
  return out;
}

Basins basins_of_attraction(const LatentMap& f, const Grid2d& grid, const IterateOptions& options,
                            const AttractorMerge& merge, DType dtype) {
  Basins b;
  b.grid = grid;
  b.trajectories = iterate(f, grid.points().to(dtype), options);
  b.attractors = find_attractors(b.trajectories, merge);
  return b;
}

Basins basins_of_attraction(Autoencoder& model, const Grid2d& grid, const IterateOptions& options,
                            const AttractorMerge& merge) {
  GG_CHECK(model.config().code_dim == 2, "basins_of_attraction: needs 2-D codes, the model has k = " +
                                             std::to_string(model.config().code_dim));
  return basins_of_attraction(latent_map_of(model), grid, options, merge, model.config().dtype);
}

double chamfer_similarity(const Tensor& a, const Tensor& b) {
  check_rows(a, "chamfer_similarity", "a");
  check_rows(b, "chamfer_similarity", "b");
  GG_CHECK(a.size(0) > 0 && b.size(0) > 0 && a.size(1) == b.size(1),
           "chamfer_similarity: needs two non-empty sets of the same k, got " + a.str() + " and " + b.str());
  using Rows = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  auto unit_rows = [](const Tensor& t) {
    const std::vector<double> v = t.to_vector();
    Rows m = Eigen::Map<const Rows>(v.data(), t.size(0), t.size(1));
    for (Eigen::Index i = 0; i < m.rows(); ++i) {
      const double n = m.row(i).norm();
      if (n > 0) m.row(i) /= n;  // a zero row keeps cosine 0 with everything
    }
    return m;
  };
  const Rows ua = unit_rows(a), ub = unit_rows(b);
  Eigen::VectorXd best_b = Eigen::VectorXd::Constant(ub.rows(), -2);
  double sum_a = 0;
  for (Eigen::Index i0 = 0; i0 < ua.rows(); i0 += 1024) {
    const Eigen::Index m = std::min<Eigen::Index>(1024, ua.rows() - i0);
    const Eigen::MatrixXd c = ua.middleRows(i0, m) * ub.transpose();  // cosines, [m, B]
    sum_a += c.rowwise().maxCoeff().sum();
    best_b = best_b.cwiseMax(c.colwise().maxCoeff().transpose());
  }
  return 0.5 * (sum_a / double(ua.rows()) + best_b.mean());
}

}  // namespace gg
