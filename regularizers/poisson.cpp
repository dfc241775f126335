#include "regularizers/poisson.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <numbers>
#include <numeric>
#include <sstream>
#include <tuple>

#include "datasets/corruption.h"
#include "models/config_reader.h"
#include "regularizers/green_radial.h"

namespace gg {

// ---- Options ------------------------------------------------------------------------------------------

namespace {

bool one_of(const std::string& v, std::initializer_list<const char*> allowed, std::string* list) {
  bool found = false;
  for (const char* a : allowed) {
    found = found || v == a;
    *list += (list->empty() ? "\"" : ", \"") + std::string(a) + "\"";
  }
  return found;
}

void check_choice(const std::string& key, const std::string& value, std::initializer_list<const char*> allowed) {
  std::string list;
  GG_CHECK(one_of(value, allowed, &list), "regularizer." + key + ": unknown value \"" + value + "\" (known: " + list + ")");
}

}  // namespace

void validate(const PoissonOptions& o) {
  GG_CHECK(std::isfinite(o.lambda) && o.lambda >= 0,
           "regularizer.lambda: must be a finite number >= 0, got " + number_text(o.lambda));
  GG_CHECK(std::isfinite(o.eps) && o.eps >= 0,
           "regularizer.eps: must be a finite number >= 0, got " + number_text(o.eps));
  GG_CHECK(o.quadrature_points >= 1,
           "regularizer.quadrature_points: must be >= 1, got " + std::to_string(o.quadrature_points));
  try {
    parse_corruption(o.corruption);
  } catch (const Error& e) {
    fail(std::string("regularizer.corruption: ") + e.what());
  }
  GG_CHECK(std::isfinite(o.normal_eps) && o.normal_eps >= 0,
           "regularizer.normal_eps: must be a finite number >= 0, got " + number_text(o.normal_eps));
  check_choice("quadrature", o.quadrature, {"corrupted", "clean"});
  check_choice("gradient", o.gradient, {"input", "code"});
  score_registry().at(o.score, "regularizer.score");
  GG_CHECK(std::isfinite(o.kde_bandwidth) && o.kde_bandwidth > 0,
           "regularizer.kde_bandwidth: must be a finite number > 0, got " + number_text(o.kde_bandwidth));
  check_choice("reconstruction", o.reconstruction, {"corrupted", "clean"});
  validate(o.source, "regularizer.source");
  check_choice("estimator", o.estimator, {"paper", "importance", "ritz"});
  GG_CHECK(std::isfinite(o.density_bandwidth) && o.density_bandwidth >= 0,
           "regularizer.density_bandwidth: must be a finite number >= 0 (0: chosen from the codes), got " +
               number_text(o.density_bandwidth));
  validate(o.ritz, "regularizer.ritz");
}

// Every key but "source", which is read over poisson_source_defaults() rather than PenaltyOptions' own.
GG_CONFIG_FIELDS(PoissonOptions, lambda, eps, quadrature_points, corruption, normal_eps, quadrature, gradient,
                 score, kde_bandwidth, reconstruction, estimator, density_bandwidth, ritz)

void to_json(nlohmann::json& j, const PoissonOptions& o) {
  j = {{"kind", "poisson"}};
  write_fields(j, o);
  j["source"] = o.source;
}

void from_json(const nlohmann::json& j, PoissonOptions& out) {
  ConfigReader r(j, "regularizer");
  PoissonOptions o;
  std::string kind = "poisson";
  r.read_choice("kind", kind, {"poisson"});
  read_fields(r, o);
  nlohmann::json source;
  if (r.read("source", source)) {
    if (source.is_object()) {  // the keys it names over the Poisson step's defaults
      nlohmann::json merged = o.source;
      merged.update(source);
      source = merged;
    }
    with_config_path(config_path(r.path(), "source"), [&] { o.source = source.get<PenaltyOptions>(); });
  }
  r.done();
  validate(o);
  out = o;
}

// ---- Green's function (eq. 5, regularized as in eq. 10) -----------------------------------------------

double unit_sphere_area(int64_t m) {
  GG_CHECK(m >= 1, "unit_sphere_area: dimension must be >= 1, got " + std::to_string(m));
  const double h = 0.5 * static_cast<double>(m);
  return 2.0 * std::pow(std::numbers::pi, h) / std::tgamma(h);
}

double log_unit_sphere_area(int64_t m) {
  GG_CHECK(m >= 1, "log_unit_sphere_area: dimension must be >= 1, got " + std::to_string(m));
  const double h = 0.5 * static_cast<double>(m);
  return std::log(2.0) + h * std::log(std::numbers::pi) - std::lgamma(h);
}

double smallest_kernel_eps(int64_t m, DType dtype) {
  const double log_area = log_unit_sphere_area(m);
  const double log_max = std::log(dtype == DType::f32 ? static_cast<double>(std::numeric_limits<float>::max())
                                                      : std::numeric_limits<double>::max());
  return std::exp((-log_area - log_max) / static_cast<double>(m));  // 1 / (|S| eps^m) = max
}

namespace {

// Refuses an eps below smallest_kernel_eps for the model's codes, naming the key, the bound and why.
void check_kernel_eps(double eps, int64_t m, DType dtype) {
  const double smallest = smallest_kernel_eps(m, dtype);
  if (eps >= smallest) return;
  char text[400];
  std::snprintf(
      text, sizeof text,
      "regularizer.eps: %g is below %.3g, the smallest at which eq. 10's kernel stays finite for "
      "%lld-wide codes in %s: grad G's factor 1 / (|S^%lld| eps^%lld) where two codes meet (a sample "
      "and its corrupted copy) is beyond %s's range",
      eps, smallest, static_cast<long long>(m), dtype_name(dtype), static_cast<long long>(m - 1),
      static_cast<long long>(m), dtype_name(dtype));
  fail(text);
}

}  // namespace

double default_kernel_eps(int64_t m, DType dtype) {
  return std::max(PoissonOptions{}.eps, 2.0 * smallest_kernel_eps(m, dtype));
}

namespace {

// Rows `rows` of a batch of data (no history), gathered on the host.
Tensor gather_rows(const Tensor& batch, const std::vector<int64_t>& rows) {
  const int64_t per = batch.numel() / batch.size(0);
  const std::vector<double> all = batch.to_vector();
  std::vector<double> out;
  out.reserve(rows.size() * static_cast<size_t>(per));
  for (int64_t r : rows) out.insert(out.end(), all.begin() + r * per, all.begin() + (r + 1) * per);
  Shape shape = batch.shape();
  shape[0] = static_cast<int64_t>(rows.size());
  return Tensor::from_data(out, shape, batch.dtype(), batch.device());
}

}  // namespace

Tensor green_function(const Tensor& zi, const Tensor& zj, double eps) {
  green::check_codes(zi, zj, "green_function");
  GG_CHECK(eps >= 0, "green_function: eps must be >= 0");
  return green::g0_of_r2(green::pairwise_r2(zi, zj, eps), zi.size(1));
}

Tensor green_gradient(const Tensor& zi, const Tensor& zj, double eps) {
  green::check_codes(zi, zj, "green_gradient");
  GG_CHECK(eps >= 0, "green_gradient: eps must be >= 0");
  const int64_t n = zi.size(0), m = zj.size(0), k = zi.size(1);
  const Tensor diff = reshape(zi, {n, 1, k}) - reshape(zj, {1, m, k});
  const Tensor r2 = sum(square(diff), {2}, true) + eps * eps;  // [N, M, 1]
  return diff * green::g1_of_r2(r2, k);
}

// ---- Importance weights for eq. 10 -------------------------------------------------------------------

namespace {

// The codes' spread sigma, the mean over coordinates of their standard deviation (with n - 1): a scalar,
// differentiable in z.
Tensor code_spread(const Tensor& z) {
  const double n = static_cast<double>(z.size(0));
  const Tensor centred = z - mean(z, {0}, true);
  return mean(sqrt(sum(square(centred), {0}) * (1.0 / std::max(n - 1.0, 1.0))));
}

// The bandwidth h = c sigma of largest leave-one-out log-likelihood,
//     sum_j log((1/(n-1)) sum_{k != j} N(z_j; z_k, h^2 I)),
// among c = n^(-1/(m+4)) 2^(-i/2), i = 0..8 (i = 0 is Scott's rule); returns c. Scott's rule alone assumes one
// Gaussian and oversmooths a multimodal density: on the grid check's four-component mixture it picks h = 0.42
// and the weighted potential's flux - coupling comes out at twice R; the cross-validated h (0.1-0.15 there)
// brings it back (docs/poisson.md). c is a selected constant and sigma a smooth function of z, so the weights
// are smooth in z wherever the selection does not switch.
double cross_validated_scale(const Tensor& z, double sigma) {
  const int64_t n = z.size(0), m = z.size(1);
  GG_CHECK(n >= 2, "regularizer.density_bandwidth: choosing it from the codes needs at least 2 of them, got " +
                       std::to_string(n) + "; set a bandwidth > 0");
  GG_CHECK(sigma > 0, "regularizer.density_bandwidth: choosing it needs codes that differ, and these " +
                          std::to_string(n) + " codes have no spread; set a bandwidth > 0");
  const std::vector<double> c = z.detach().to(DType::f64).to_vector();
  std::vector<double> r2(static_cast<size_t>(n * n), 0.0);
  for (int64_t j = 0; j < n; ++j)
    for (int64_t k = 0; k < n; ++k)
      for (int64_t d = 0; d < m; ++d)
        r2[static_cast<size_t>(j * n + k)] +=
            std::pow(c[static_cast<size_t>(j * m + d)] - c[static_cast<size_t>(k * m + d)], 2);
  const double scott = std::pow(static_cast<double>(n), -1.0 / static_cast<double>(m + 4));
  double best_c = scott, best = -INFINITY;
  for (int i = 0; i <= 8; ++i) {
    const double h = sigma * scott * std::pow(2.0, -0.5 * i);
    double total = 0;
    for (int64_t j = 0; j < n; ++j) {
      double top = -INFINITY;
      for (int64_t k = 0; k < n; ++k)
        if (k != j) top = std::max(top, -r2[static_cast<size_t>(j * n + k)] / (2 * h * h));
      double sum = 0;
      for (int64_t k = 0; k < n; ++k)
        if (k != j) sum += std::exp(-r2[static_cast<size_t>(j * n + k)] / (2 * h * h) - top);
      total += top + std::log(sum) - 0.5 * static_cast<double>(m) * std::log(2 * std::numbers::pi * h * h);
    }
    if (total > best) best = total, best_c = h / sigma;
  }
  return best_c;
}

}  // namespace

namespace {

// The bandwidth h of inverse_density_weights: `bandwidth` when > 0, else chosen from the codes z [M, m].
Tensor density_bandwidth_of(const Tensor& z, double bandwidth) {
  GG_CHECK(z.defined() && z.dim() == 2 && z.size(0) >= 1 && z.size(1) >= 1,
           "inverse_density_weights: expected codes [M, m], got " + (z.defined() ? shape_str(z.shape()) : "undefined"));
  GG_CHECK(std::isfinite(bandwidth) && bandwidth >= 0,
           "regularizer.density_bandwidth: must be a finite number >= 0, got " + number_text(bandwidth));
  if (bandwidth > 0) return scalar_like(bandwidth, z);
  const Tensor sigma = code_spread(z);
  return sigma * cross_validated_scale(z, sigma.item());
}

// log K_h(at_i - z_j) = -|at_i - z_j|^2 / (2 h^2) - (m/2) log(2 pi h^2), the Gaussian kernel in log space:
// [N, M]. In log space, so that a high code dimension neither underflows the kernel nor overflows its
// normalization.
Tensor log_kernel(const Tensor& at, const Tensor& z, const Tensor& h) {
  return green::pairwise_r2(at, z, 0.0) / (square(h) * -2.0) -
         log(square(h) * (2 * std::numbers::pi)) * (0.5 * static_cast<double>(z.size(1)));
}

// -log q(at_i) = log M - logsumexp_j log K_h(at_i - z_j), q the kernel density estimate of the codes z: [N].
Tensor negative_log_density(const Tensor& at, const Tensor& z, const Tensor& h) {
  return std::log(static_cast<double>(z.size(0))) - logsumexp(log_kernel(at, z, h), 1);
}

}  // namespace

Tensor inverse_density_weights(const Tensor& z, double bandwidth) {
  const Tensor h = density_bandwidth_of(z, bandwidth);
  const Tensor neg_log_q = negative_log_density(z, z, h);  // [M]
  const double largest = max(neg_log_q).item();
  const double limit = std::log(z.dtype() == DType::f32 ? 3.0e38 : 1.0e308);
  GG_CHECK(largest < limit,
           "inverse_density_weights (the \"importance\" and weighted \"ritz\" estimators): the "
           "codes' inverse density reaches e^" +
               number_text(largest) + " (m = " + std::to_string(z.size(1)) +
               ", h = " + number_text(h.item()) + "), beyond " + dtype_name(z.dtype()) +
               "; a smaller density_bandwidth or the \"paper\" estimator keeps it finite");
  return exp(neg_log_q);
}

double density_bandwidth(const Tensor& z, double bandwidth) {
  NoGradGuard no_grad;
  return density_bandwidth_of(z, bandwidth).item();
}

Tensor smoothed_source(const Tensor& at, const Tensor& z, const Tensor& weighted_s, double bandwidth) {
  green::check_codes(at, z, "smoothed_source");
  GG_CHECK(weighted_s.defined() && weighted_s.dim() == 1 && weighted_s.size(0) == z.size(0),
           "smoothed_source: expected one value per code, [" + std::to_string(z.size(0)) + "]");
  const Tensor kernel = exp(log_kernel(at, z, density_bandwidth_of(z, bandwidth)));  // [N, M]
  return reshape(matmul(kernel, reshape(weighted_s, {z.size(0), 1})), {at.size(0)}) *
         (1.0 / static_cast<double>(z.size(0)));
}

// ---- Eq. 10 -------------------------------------------------------------------------------------------

PoissonQuadrature poisson_quadrature(Autoencoder& model, const Tensor& batch, const PoissonOptions& options,
                                     Generator& gen) {
  GG_CHECK(batch.defined() && batch.dim() >= 2 && batch.size(0) >= 1,
           "poisson_quadrature: expected a non-empty batch [B, ...]");
  GG_CHECK(options.quadrature_points >= 1, "poisson_quadrature: quadrature_points must be >= 1");
  const int64_t b = batch.size(0), m = std::min(options.quadrature_points, b);
  PoissonQuadrature q;
  q.rows.resize(static_cast<size_t>(b));
  std::iota(q.rows.begin(), q.rows.end(), int64_t{0});
  if (m < b) {  // M rows without replacement: the M smallest of B uniform keys
    const std::vector<double> keys = Tensor::rand({b}, gen, DType::f64, Device::cpu()).to_vector();
    std::stable_sort(q.rows.begin(), q.rows.end(), [&](int64_t i, int64_t j) { return keys[i] < keys[j]; });
    q.rows.resize(static_cast<size_t>(m));
    std::sort(q.rows.begin(), q.rows.end());
    q.x = gather_rows(batch.detach(), q.rows);
  } else {
    q.x = batch.detach();
  }
  const ContractiveSource src = contractive_source(model, q.x, options.source, gen);  // eq. 3
  q.z = src.z;
  q.s = src.s;
  q.x_leaf = src.x;
  q.jacobian_rows = src.jacobian_rows;
  if (options.estimator == "importance" || (options.estimator == "ritz" && options.ritz.weighted))
    q.weight = inverse_density_weights(q.z, options.density_bandwidth);
  return q;
}

std::vector<int64_t> self_pairs(const PoissonQuadrature& quadrature, int64_t batch_rows) {
  std::vector<int64_t> self(static_cast<size_t>(batch_rows), -1);
  for (size_t j = 0; j < quadrature.rows.size(); ++j) {
    GG_CHECK(quadrature.rows[j] >= 0 && quadrature.rows[j] < batch_rows,
             "self_pairs: quadrature row " + std::to_string(quadrature.rows[j]) + " is not in a batch of " +
                 std::to_string(batch_rows));
    self[static_cast<size_t>(quadrature.rows[j])] = static_cast<int64_t>(j);
  }
  return self;
}

PoissonPotential poisson_potential(Autoencoder& model, const Tensor& x_eval,
                                   const PoissonQuadrature& quadrature, const PoissonOptions& options,
                                   const std::vector<int64_t>& self_pair) {
  const CodePotential eq10 = [&](const Tensor& z, const std::vector<int64_t>& self) {
    const GreenQuadrature g =
        green_quadrature(z, quadrature.z, quadrature.weighted_s(), options.eps, true, self);  // eq. 10
    return std::make_pair(g.v, g.grad);
  };
  return poisson_potential(model, x_eval, eq10, options.source.create_graph, self_pair);
}

PoissonPotential poisson_potential(Autoencoder& model, const Tensor& x_eval, const CodePotential& potential,
                                   bool create, const std::vector<int64_t>& self_pair) {
  PoissonPotential p;
  p.x = x_eval.detach().requires_grad_();
  p.z = model.encode(p.x);
  GG_CHECK(p.z.dim() == 2, "poisson_potential: the encoder must give codes [N, m], got " + shape_str(p.z.shape()));
  GreenQuadrature g;
  std::tie(g.v, g.grad) = potential(p.z, self_pair);
  // Chain rule: grad_x v(f(x)) = J_f(x)^T grad_z v, one vector-Jacobian product (row b of z depends on row b
  // of x only, so row b of the product is J_f(x_b)^T grad_z v(z_b)).
  GradOptions go;
  go.create_graph = create;
  go.retain_graph = true;
  p.grad_x = grad(std::vector<Tensor>{p.z}, std::vector<Tensor>{p.x}, std::vector<Tensor>{g.grad}, go)[0];
  p.v = create || !g.v.defined() ? g.v : g.v.detach();
  p.grad_z = create ? g.grad : g.grad.detach();
  if (!create) p.z = p.z.detach();
  return p;
}

namespace {

// poisson_potential at two batches in one pass: their rows stacked, the encoder, the potential and the
// chain rule's backward pass run once and the results are split. Every row is independent of the others
// (the encoder has no batch statistics and eq. 10 sums over the quadrature points only), so the numbers
// are the two calls'; a toy-sized step records half the ops for them.
// `self_a` and `self_b` are each batch's self pairs (empty: none).
std::pair<PoissonPotential, PoissonPotential> poisson_potentials(Autoencoder& model, const Tensor& a,
                                                                 const Tensor& b,
                                                                 const CodePotential& potential, bool create,
                                                                 const std::vector<int64_t>& self_a,
                                                                 const std::vector<int64_t>& self_b) {
  const int64_t na = a.size(0), n = na + b.size(0);
  std::vector<int64_t> self;
  if (!self_a.empty() || !self_b.empty()) {
    self = self_a.empty() ? std::vector<int64_t>(static_cast<size_t>(na), -1) : self_a;
    if (self_b.empty())
      self.resize(static_cast<size_t>(n), -1);
    else
      self.insert(self.end(), self_b.begin(), self_b.end());
  }
  const PoissonPotential both =
      poisson_potential(model, concat({a.detach(), b.detach()}, 0), potential, create, self);
  auto part = [&](int64_t lo, int64_t hi) {
    PoissonPotential p;
    p.x = slice(both.x, 0, lo, hi);
    p.z = slice(both.z, 0, lo, hi);
    if (both.v.defined()) p.v = slice(both.v, 0, lo, hi);
    p.grad_z = slice(both.grad_z, 0, lo, hi);
    p.grad_x = slice(both.grad_x, 0, lo, hi);
    return p;
  };
  return {part(0, na), part(na, n)};
}

// v and grad v at the quadrature points themselves, from the Jacobian rows their source kept:
// grad_x v = J^T grad_z v = sum_c (grad_z v)_c J^T e_c, with no encoding or vector-Jacobian product of its own.
PoissonPotential potential_from_jacobian_rows(const PoissonQuadrature& q, const CodePotential& potential,
                                              bool create) {
  PoissonPotential p;
  p.x = q.x_leaf;
  p.z = q.z;
  std::vector<int64_t> self(q.rows.size());
  std::iota(self.begin(), self.end(), int64_t{0});  // every point is its own self pair
  std::tie(p.v, p.grad_z) = potential(p.z, self);
  const int64_t m = q.jacobian_rows.size(0), n = q.jacobian_rows.size(1);
  const Tensor rows = reshape(q.jacobian_rows, {m, n, -1});
  p.grad_x = reshape(sum(rows * reshape(transpose(p.grad_z), {m, n, 1}), {0}), p.x.shape());
  if (!create) {
    p.z = p.z.detach(), p.grad_z = p.grad_z.detach(), p.grad_x = p.grad_x.detach();
    if (p.v.defined()) p.v = p.v.detach();
  }
  return p;
}

}  // namespace

// ---- Terms of L_Pois ----------------------------------------------------------------------------------

Tensor corruption_normal(const Tensor& displacement, double eps) {
  GG_CHECK(displacement.defined() && displacement.dim() >= 2, "corruption_normal: expected a batch [B, ...]");
  GG_CHECK(eps >= 0, "corruption_normal: eps must be >= 0");
  NoGradGuard no_grad;
  const Tensor d = flatten(displacement.detach());
  Tensor denom = sqrt(sum(square(d), {1}, true)) + eps;  // ||Pi(x) - x|| + eps (eq. 7)
  denom = where(eq(denom, zeros_like(denom)), ones_like(denom), denom);  // a zero displacement gives n = 0
  return reshape(d / denom, displacement.shape());
}

namespace {
Tensor mean_row_dot(const Tensor& a, const Tensor& b, const char* who) {
  GG_CHECK(a.defined() && b.defined() && a.dim() >= 1 && b.dim() >= 1 && a.size(0) == b.size(0) &&
               a.numel() == b.numel(),
           std::string(who) + ": the two batches " + (a.defined() ? shape_str(a.shape()) : "undefined") + " and " +
               (b.defined() ? shape_str(b.shape()) : "undefined") + " do not match");
  return mean(sum(flatten(a) * flatten(b), {1}));
}
}  // namespace

Tensor boundary_flux(const Tensor& grad_v_corrupted, const Tensor& normal) {
  return mean_row_dot(grad_v_corrupted, normal, "boundary_flux");  // eq. 7
}

Tensor score_coupling(const Tensor& score, const Tensor& grad_v) {
  return mean_row_dot(score, grad_v, "score_coupling");  // eq. 13
}

PoissonTerms poisson_regularizer(Autoencoder& model, const Tensor& x, const PoissonOptions& options,
                                 Generator& gen, const ScoreFn& score, RitzPotential* ritz, bool values) {
  validate(options);
  GG_CHECK(x.defined() && x.dim() >= 2 && x.size(0) >= 1, "poisson_regularizer: expected a non-empty batch [B, ...]");
  if (options.estimator != "ritz")  // eq. 10's kernel (a fitted v_theta has none)
    check_kernel_eps(options.eps, model.config().code_dim, model.config().dtype);
  const Tensor data = x.detach();
  PoissonTerms t;
  // Pi(x) and the corruption-driven normal n(x) (eq. 7).
  const Corrupted c = corrupt(data, parse_corruption(options.corruption), gen);
  t.x_corrupted = c.x;
  t.normal = corruption_normal(c.displacement, options.normal_eps);
  // Quadrature points z_j = f(x_j) and sources s_phi(x_j) (eq. 3, 10).
  t.quadrature = poisson_quadrature(model, options.quadrature == "corrupted" ? c.x : data, options, gen);
  t.source_mean = mean(t.quadrature.s);
  // v and grad v at the clean and the corrupted batch (eq. 10 or v_theta, and the chain rule). When the
  // quadrature points are the whole corrupted batch and their source kept the Jacobian's rows, grad_x v there
  // is J^T grad_z v from those rows, and only the clean batch is encoded and differentiated again.
  const bool create = options.source.create_graph;
  const bool reuse_rows = t.quadrature.jacobian_rows.defined() && options.quadrature == "corrupted" &&
                          static_cast<int64_t>(t.quadrature.rows.size()) == data.size(0);
  // The evaluation samples that are quadrature points: their self pairs' terms of grad v are 0 (poisson.h).
  const std::vector<int64_t> self = self_pairs(t.quadrature, data.size(0));
  const bool on_corrupted = options.quadrature == "corrupted";
  auto evaluate = [&](const CodePotential& potential) {
    if (!reuse_rows) {
      std::tie(t.clean, t.corrupted) = poisson_potentials(model, data, c.x, potential, create,
                                                          on_corrupted ? std::vector<int64_t>{} : self,
                                                          on_corrupted ? self : std::vector<int64_t>{});
      return;
    }
    t.clean = poisson_potential(model, data, potential, create);
    t.corrupted = potential_from_jacobian_rows(t.quadrature, potential, create);
  };
  std::unique_ptr<RitzPotential> own_potential;
  RitzProblem problem;
  if (options.estimator == "ritz") {
    if (!ritz) ritz = (own_potential = std::make_unique<RitzPotential>(options.ritz)).get();
    problem.z = t.quadrature.z, problem.s = t.quadrature.s, problem.weight = t.quadrature.weight;
    if (options.ritz.boundary == "box") {  // v = 0 on the box imposed by the potential itself
      const CodeBox box = code_box(t.quadrature.z, options.ritz.box_margin);
      ritz->set_box(box);
      pose_on_box(problem, box, options.ritz.box_points, options.density_bandwidth, gen);
    } else {
      problem.z_boundary = model.encode(c.x);
    }
    t.ritz = ritz->fit(problem.detached());  // theta*, warm-started
    if (t.ritz.diverged) ritz->count_skip();
    const CodePotential fitted = [&](const Tensor& z, const std::vector<int64_t>&) {
      return ritz->value_and_gradient(z, create);
    };
    evaluate(fitted);
  } else {
    const CodePotential eq10 = [&](const Tensor& z, const std::vector<int64_t>& self_pair) {
      const GreenQuadrature g =
          green_quadrature(z, t.quadrature.z, t.quadrature.weighted_s(), options.eps, values, self_pair);
      return std::make_pair(g.v, g.grad);
    };
    evaluate(eq10);
  }
  const bool code_space = options.gradient == "code";
  if (code_space) {
    const int64_t d = data.numel() / data.size(0), m = t.clean.z.size(1);
    GG_CHECK(m == d, "regularizer.gradient: \"code\" dots grad_z v with input-space vectors, so it needs the code "
                     "dimension m (" + std::to_string(m) + ") to equal the input dimension d (" + std::to_string(d) +
                     "); use \"input\"");
  }
  const Tensor g_clean = code_space ? t.clean.grad_z : t.clean.grad_x;
  const Tensor g_corrupted = code_space ? t.corrupted.grad_z : t.corrupted.grad_x;
  {
    NoGradGuard no_grad;
    t.grad_norm_clean = sqrt(sum(square(flatten(g_clean.detach())), {1}));
    t.grad_norm_corrupted = sqrt(sum(square(flatten(g_corrupted.detach())), {1}));
  }
  // The score grad log p_D at the clean batch: a property of the data, a constant here.
  const ScoreFn score_of = score ? score : score_registry().at(options.score, "regularizer.score").make(data, options.kde_bandwidth);
  const bool coupled = static_cast<bool>(score_of);  // "none" builds no score: no coupling term
  t.score = coupled ? score_of(data).detach() : zeros_like(data);
  GG_CHECK(t.score.shape() == data.shape() || t.score.numel() == data.numel(),
           "poisson_regularizer: the score has shape " + shape_str(t.score.shape()) + ", the batch " +
               shape_str(data.shape()));
  t.score = reshape(t.score.to(data.dtype()), data.shape());
  t.flux = boundary_flux(g_corrupted, t.normal);                                               // eq. 7
  t.coupling = coupled ? score_coupling(t.score, g_clean) : scalar_like(0.0, t.flux);          // eq. 13
  t.loss = t.flux - t.coupling;                                                                // eq. 9
  if (options.estimator == "ritz" && create) {
    // The implicit gradient (ritz.h): u = (H + delta I)^-1 dL/dtheta, then L + correction.
    if (!t.ritz.diverged) {
      GradOptions keep;
      keep.retain_graph = true;
      const std::vector<Tensor> dl_dtheta = grad(std::vector<Tensor>{t.loss}, ritz->parameters(), {}, keep);
      const std::vector<Tensor> u = solve_hessian(*ritz, problem, dl_dtheta, options.ritz.damping, t.ritz);
      if (t.ritz.diverged) {
        ritz->count_skip();
        ritz->reset();
      } else {
        t.loss = t.loss + implicit_correction(*ritz, problem, u);
      }
    }
    if (t.ritz.diverged) t.loss = scalar_like(0.0, t.flux.detach());  // skipped, and counted in `ritz`
  }
  return t;
}

PoissonObjective poisson_objective(Autoencoder& model, const Tensor& x, const PoissonOptions& options,
                                   Generator& gen, const ScoreFn& score, RitzPotential* ritz) {
  PoissonObjective o;
  o.terms = poisson_regularizer(model, x, options, gen, score, ritz, /*values=*/false);
  // eq. 2. The regularizer has encoded the input already: its codes carry the graph when create_graph.
  const PoissonPotential& encoded = options.reconstruction == "corrupted" ? o.terms.corrupted : o.terms.clean;
  const Tensor reconstruction =
      options.source.create_graph ? model.decode(encoded.z) : model(encoded.x.detach());
  o.reconstruction = mse(reconstruction, x.detach());
  o.regularizer = options.lambda * o.terms.loss;
  o.total = o.reconstruction + o.regularizer;  // eq. 8
  return o;
}

}  // namespace gg
