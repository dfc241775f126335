#include "datasets/toy.h"

#include <Eigen/Dense>
#include <cmath>
#include <functional>

#include "engine/ops/ops.h"

namespace gg {

namespace {

// Builds a labelled set from a per-point generator that reads its own uniform draws and returns the clean
// point; isotropic noise N(0, noise^2) is then added to every coordinate.
struct PointMaker {
  const ToyOptions& o;
  int64_t dim;
  int64_t uniforms_per_point;
  std::string name;
  int num_classes;

  // make(i, u) -> clean point and its label; u points at this point's uniform draws.
  Dataset operator()(const std::function<int32_t(int64_t, const double*, double*)>& make) const {
    GG_CHECK(o.n > 0, name + ": n must be positive, got " + std::to_string(o.n));
    GG_CHECK(o.noise >= 0, name + ": noise must be >= 0, got " + std::to_string(o.noise));
    Generator gen(o.seed);
    const auto u = Tensor::rand({o.n, std::max<int64_t>(uniforms_per_point, 1)}, gen, DType::f64).to_vector();
    const auto eps = Tensor::randn({o.n, dim}, gen, DType::f64).to_vector();
    Dataset d;
    d.name = name;
    d.num_classes = num_classes;
    std::vector<double> pts(o.n * dim);
    for (int64_t i = 0; i < o.n; ++i) {
      const int32_t label = make(i, &u[i * std::max<int64_t>(uniforms_per_point, 1)], &pts[i * dim]);
      for (int64_t j = 0; j < dim; ++j) pts[i * dim + j] += o.noise * eps[i * dim + j];
      if (num_classes > 0) d.labels.push_back(label);
    }
    d.x = Tensor::from_data(pts, {o.n, dim});
    return d;
  }
};

}  // namespace

Dataset two_moons(const ToyOptions& o) {
  return PointMaker{o, 2, 1, "two-moons", 2}([](int64_t i, const double* u, double* p) {
    const int32_t lower = i % 2;  // alternate, so any prefix is balanced
    const double t = M_PI * u[0];
    p[0] = lower ? 1.0 - std::cos(t) : std::cos(t);
    p[1] = lower ? 0.5 - std::sin(t) : std::sin(t);
    return lower;
  });
}

Dataset spiral(const ToyOptions& o) {
  return PointMaker{o, 2, 1, "spiral", 2}([](int64_t i, const double* u, double* p) {
    const int32_t arm = i % 2;
    const double theta = M_PI * (0.25 + 2.75 * std::sqrt(u[0]));  // sqrt: even density along the arm
    const double r = theta / (3 * M_PI);
    const double phase = arm * M_PI;
    p[0] = r * std::cos(theta + phase);
    p[1] = r * std::sin(theta + phase);
    return arm;
  });
}

Dataset rings(const ToyOptions& o) {
  return PointMaker{o, 2, 1, "rings", 2}([](int64_t i, const double* u, double* p) {
    const int32_t inner = i % 2;
    const double r = inner ? 0.5 : 1.0, t = 2 * M_PI * u[0];
    p[0] = r * std::cos(t);
    p[1] = r * std::sin(t);
    return inner;
  });
}

Dataset banana(const ToyOptions& o) {
  // Its own two standard normals per point, drawn after the shared draws so the seed fixes them too.
  Generator gen(o.seed ^ 0xba7a7aULL);
  const auto g = Tensor::randn({std::max<int64_t>(o.n, 1), 2}, gen, DType::f64).to_vector();
  return PointMaker{o, 2, 0, "banana", 0}([&g](int64_t i, const double*, double* p) {
    p[0] = g[2 * i];
    p[1] = 0.5 * g[2 * i] * g[2 * i] - 1 + 0.5 * g[2 * i + 1];
    return 0;
  });
}

namespace {
Dataset swiss_roll(const ToyOptions& o, bool three_d) {
  const std::string name = three_d ? "swiss-roll-3d" : "swiss-roll";
  return PointMaker{o, three_d ? 3 : 2, 2, name, 2}([three_d](int64_t, const double* u, double* p) {
    const double t = 1.5 * M_PI * (1 + 2 * u[0]), scale = 1 / (4.5 * M_PI);
    const double x = t * std::cos(t) * scale, z = t * std::sin(t) * scale;
    if (three_d) {
      p[0] = x, p[1] = u[1], p[2] = z;
    } else {
      p[0] = x, p[1] = z;
    }
    return static_cast<int32_t>(u[0] >= 0.5);
  });
}
}  // namespace

Dataset swiss_roll_2d(const ToyOptions& o) { return swiss_roll(o, false); }
Dataset swiss_roll_3d(const ToyOptions& o) { return swiss_roll(o, true); }

// ---- Gaussian mixture ------------------------------------------------------------------------------------

namespace {
using Mat = Eigen::MatrixXd;
Mat covariance_matrix(const std::vector<double>& c, int64_t d) {
  Mat m(d, d);
  for (int64_t i = 0; i < d; ++i)
    for (int64_t j = 0; j < d; ++j) m(i, j) = c[i * d + j];
  return m;
}
Tensor as_tensor(const Mat& m, DType t) {
  std::vector<double> v(m.size());
  for (int64_t i = 0; i < m.rows(); ++i)
    for (int64_t j = 0; j < m.cols(); ++j) v[i * m.cols() + j] = m(i, j);
  return Tensor::from_data(v, {m.rows(), m.cols()}, t);
}

// Per component k: the precision P_k = Sigma_k^{-1} and the constant log w_k - log det(2 pi Sigma_k) / 2.
struct ComponentTerms {
  std::vector<Tensor> means, precisions;
  std::vector<double> log_constants;
};
ComponentTerms component_terms(const GaussianMixture& g, DType t) {
  g.validate();
  const int64_t d = g.dim();
  ComponentTerms c;
  for (size_t k = 0; k < g.weights.size(); ++k) {
    const Mat cov = covariance_matrix(g.covariances[k], d);
    c.means.push_back(Tensor::from_data(g.means[k], {1, d}, t));
    c.precisions.push_back(as_tensor(cov.inverse(), t));
    c.log_constants.push_back(std::log(g.weights[k]) - 0.5 * std::log((2 * M_PI * cov).determinant()));
  }
  return c;
}
void check_points(const GaussianMixture& g, const Tensor& x, const char* op) {
  GG_CHECK(x.dim() == 2 && x.size(1) == g.dim(), std::string(op) + ": expected points of shape [N, " +
                                                     std::to_string(g.dim()) + "], got " + shape_str(x.shape()));
}
// log w_k N(x; mu_k, Sigma_k) for every component: (N, K).
Tensor component_log_densities(const ComponentTerms& c, const Tensor& x) {
  std::vector<Tensor> cols;
  for (size_t k = 0; k < c.means.size(); ++k) {
    const Tensor diff = x - c.means[k];
    const Tensor mahalanobis = sum(matmul(diff, c.precisions[k]) * diff, {1}, true);
    cols.push_back(c.log_constants[k] - 0.5 * mahalanobis);
  }
  return concat(cols, 1);
}
}  // namespace

void GaussianMixture::validate() const {
  GG_CHECK(!weights.empty(), "GaussianMixture: no components");
  GG_CHECK(means.size() == weights.size() && covariances.size() == weights.size(),
           "GaussianMixture: " + std::to_string(weights.size()) + " weights but " + std::to_string(means.size()) +
               " means and " + std::to_string(covariances.size()) + " covariances");
  const int64_t d = dim();
  GG_CHECK(d > 0, "GaussianMixture: means must not be empty");
  double total = 0;
  for (size_t k = 0; k < weights.size(); ++k) {
    const std::string comp = "GaussianMixture component " + std::to_string(k);
    GG_CHECK(weights[k] > 0, comp + ": weight must be positive");
    GG_CHECK(static_cast<int64_t>(means[k].size()) == d, comp + ": mean has the wrong dimension");
    GG_CHECK(static_cast<int64_t>(covariances[k].size()) == d * d,
             comp + ": covariance must have " + std::to_string(d * d) + " entries");
    const Mat cov = covariance_matrix(covariances[k], d);
    GG_CHECK((cov - cov.transpose()).cwiseAbs().maxCoeff() < 1e-12, comp + ": covariance is not symmetric");
    GG_CHECK(Eigen::LLT<Mat>(cov).info() == Eigen::Success, comp + ": covariance is not positive definite");
    total += weights[k];
  }
  GG_CHECK(std::abs(total - 1) < 1e-9, "GaussianMixture: weights sum to " + std::to_string(total) + ", not 1");
}

Dataset GaussianMixture::sample(int64_t n, uint64_t seed) const {
  validate();
  GG_CHECK(n > 0, "GaussianMixture::sample: n must be positive");
  const int64_t d = dim();
  std::vector<Mat> chol;
  for (const auto& c : covariances) chol.push_back(Eigen::LLT<Mat>(covariance_matrix(c, d)).matrixL());
  Generator gen(seed);
  const auto u = Tensor::rand({n}, gen, DType::f64).to_vector();
  const auto g = Tensor::randn({n, d}, gen, DType::f64).to_vector();
  Dataset out;
  out.name = "gaussian-mixture";
  out.num_classes = static_cast<int>(weights.size());
  std::vector<double> pts(n * d);
  for (int64_t i = 0; i < n; ++i) {
    size_t k = 0;
    for (double acc = weights[0]; u[i] >= acc && k + 1 < weights.size(); acc += weights[++k]) {}
    const Eigen::VectorXd p = chol[k] * Eigen::Map<const Eigen::VectorXd>(&g[i * d], d);
    for (int64_t j = 0; j < d; ++j) pts[i * d + j] = means[k][j] + p[j];
    out.labels.push_back(static_cast<int32_t>(k));
  }
  out.x = Tensor::from_data(pts, {n, d});
  return out;
}

Tensor GaussianMixture::log_density(const Tensor& x) const {
  check_points(*this, x, "GaussianMixture::log_density");
  return logsumexp(component_log_densities(component_terms(*this, x.dtype()), x), 1);
}

Tensor GaussianMixture::score(const Tensor& x) const {
  check_points(*this, x, "GaussianMixture::score");
  const ComponentTerms c = component_terms(*this, x.dtype());
  const Tensor posterior = softmax(component_log_densities(c, x), 1);  // r_k(x): (N, K)
  Tensor s;
  for (size_t k = 0; k < c.means.size(); ++k) {
    const int64_t kk = static_cast<int64_t>(k);
    const Tensor pull = matmul(c.means[k] - x, c.precisions[k]);  // Sigma_k^{-1} (mu_k - x); P_k symmetric
    const Tensor term = slice(posterior, 1, kk, kk + 1) * pull;
    s = s.defined() ? s + term : term;
  }
  return s;
}

GaussianMixture default_gaussian_mixture() {
  GaussianMixture g;
  g.weights = {0.3, 0.3, 0.2, 0.2};
  g.means = {{1, 1}, {-1, 1}, {-1, -1}, {1, -1}};
  g.covariances = {{0.10, 0.05, 0.05, 0.10}, {0.10, -0.05, -0.05, 0.10}, {0.04, 0, 0, 0.16}, {0.16, 0, 0, 0.04}};
  return g;
}

GaussianMixture two_moons_density(double noise, int64_t per_moon) {
  GG_CHECK(noise > 0,
           "two_moons_density: noise must be > 0 (no density without it), got " + std::to_string(noise));
  GG_CHECK(per_moon >= 1, "two_moons_density: per_moon must be >= 1, got " + std::to_string(per_moon));
  GaussianMixture g;
  for (int lower = 0; lower < 2; ++lower)
    for (int64_t k = 0; k < per_moon; ++k) {
      const double t = M_PI * (static_cast<double>(k) + 0.5) / static_cast<double>(per_moon);
      g.weights.push_back(0.5 / static_cast<double>(per_moon));
      g.means.push_back(lower ? std::vector<double>{1.0 - std::cos(t), 0.5 - std::sin(t)}
                              // as two_moons draws them
                              : std::vector<double>{std::cos(t), std::sin(t)});
      g.covariances.push_back({noise * noise, 0, 0, noise * noise});
    }
  return g;
}

GaussianMixture affine_image(const GaussianMixture& g, const std::vector<double>& shift,
                             const std::vector<double>& scale) {
  const size_t d = static_cast<size_t>(g.dim());
  GG_CHECK(shift.size() == d && scale.size() == d,
           "affine_image: a " + std::to_string(d) + "-D mixture needs " + std::to_string(d) +
               " shifts and scales, got " + std::to_string(shift.size()) + " and " +
               std::to_string(scale.size()));
  GaussianMixture out = g;
  for (size_t k = 0; k < g.means.size(); ++k)
    for (size_t i = 0; i < d; ++i) {
      out.means[k][i] = (g.means[k][i] - shift[i]) / scale[i];
      for (size_t j = 0; j < d; ++j)
        out.covariances[k][i * d + j] = g.covariances[k][i * d + j] / (scale[i] * scale[j]);
    }
  return out;
}

Dataset gaussian_mixture(const ToyOptions& o) { return default_gaussian_mixture().sample(o.n, o.seed); }

// ---- by name ---------------------------------------------------------------------------------------------

// In alphabetical order, the order the datasets command draws them in.
const Registry<ToySetFactory>& toy_registry() {
  static const Registry<ToySetFactory> registry(
      "toy set", {{"banana", "a curved, unlabelled density", banana},
                  {"gaussian-mixture", "four Gaussians with an exact density and score", gaussian_mixture},
                  {"rings", "two concentric circles", rings},
                  {"spiral", "two arms of an Archimedean spiral", spiral},
                  {"swiss-roll", "the swiss roll's 2-D spiral", swiss_roll_2d},
                  {"swiss-roll-3d", "the swiss roll with a flat third axis", swiss_roll_3d},
                  {"two-moons", "two interleaved half circles", two_moons}});
  return registry;
}

Dataset make_toy_set(const std::string& name, const ToyOptions& o) {
  return toy_registry().at(name, "make_toy_set").make(o);
}

}  // namespace gg
