#include "dynamics/spectrum.h"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/gradgrad.h"

namespace gg {

namespace {

using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

RowMatrix square_matrix(const Tensor& j, const char* op) {
  GG_CHECK(j.defined() && j.dim() == 2 && j.size(0) == j.size(1),
           std::string(op) + ": expected a square matrix [k, k], got " +
               (j.defined() ? j.str() : std::string("undefined")));
  const std::vector<double> v = j.to_vector();
  return Eigen::Map<const RowMatrix>(v.data(), j.size(0), j.size(1));
}

std::vector<std::complex<double>> sorted_eigenvalues(const RowMatrix& m) {
  Eigen::EigenSolver<Eigen::MatrixXd> solver(m, /*computeEigenvectors=*/false);
  GG_CHECK(solver.info() == Eigen::Success, "jacobian_eigenvalues: the eigensolver did not converge");
  std::vector<std::complex<double>> ev(solver.eigenvalues().data(), solver.eigenvalues().data() + m.rows());
  std::sort(ev.begin(), ev.end(), [](const std::complex<double>& a, const std::complex<double>& b) {
    if (std::abs(a) != std::abs(b)) return std::abs(a) > std::abs(b);
    if (a.real() != b.real()) return a.real() > b.real();
    return a.imag() > b.imag();
  });
  return ev;
}

// sqrt of the largest eigenvalue of J^T J: much cheaper than an SVD for the thousands of k x k Jacobians of
// Figure 11, and accurate for the largest singular value (the small ones are what J^T J loses).
double spectral_norm_of(const RowMatrix& m) {
  if (m.size() == 0) return 0;
  const Eigen::MatrixXd gram = m.transpose() * m;
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> solver(gram, Eigen::EigenvaluesOnly);
  return std::sqrt(std::max(0.0, solver.eigenvalues()(gram.rows() - 1)));
}

// The point as a fresh [1, k] leaf that requires grad.
Tensor point_leaf(const Tensor& z, const char* op) {
  GG_CHECK(z.defined() && (z.dim() == 1 || (z.dim() == 2 && z.size(0) == 1)),
           std::string(op) + ": expected a point [k] or [1, k], got " +
               (z.defined() ? z.str() : std::string("undefined")));
  return reshape(z.detach(), {1, z.numel()}).clone().requires_grad_();
}

double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

}  // namespace

Tensor latent_jacobian(const LatentMap& f, const Tensor& z) {
  GradModeGuard grad_on(true);
  const Tensor x = point_leaf(z, "latent_jacobian");
  const int64_t k = x.size(1);
  const Tensor y = f(x);
  GG_CHECK(y.shape() == x.shape(), "latent_jacobian: the map returned " + y.str() + " for " + x.str());
  return reshape(jacobian(y, x), {k, k}).to(DType::f64);
}

Tensor latent_jacobians(const LatentMap& f, const Tensor& z, int64_t batch_size) {
  GG_CHECK(z.defined() && z.dim() == 2, "latent_jacobians: expected points [N, k], got " +
                                            (z.defined() ? z.str() : std::string("undefined")));
  GG_CHECK(batch_size >= 1, "latent_jacobians: batch_size must be >= 1");
  GradModeGuard grad_on(true);
  const int64_t n = z.size(0), k = z.size(1);
  std::vector<Tensor> parts;
  for (int64_t a = 0; a < n; a += batch_size) {
    const Tensor x = row_block(z, a, std::min(n, a + batch_size)).clone().requires_grad_();
    const Tensor y = f(x);
    GG_CHECK(y.shape() == x.shape(), "latent_jacobians: the map returned " + y.str() + " for " + x.str());
    parts.push_back(batch_jacobian(y, x).detach().to(DType::f64));
  }
  if (parts.empty()) return Tensor::zeros({0, k, k}, DType::f64, z.device());
  return parts.size() == 1 ? parts[0] : concat(parts, 0);
}

SpectralNormEstimate spectral_norm_power(const LatentMap& f, const Tensor& z,
                                         const PowerIterationOptions& options) {
  GG_CHECK(options.max_iters >= 1 && options.tol >= 0,
           "spectral_norm_power: need max_iters >= 1 and tol >= 0");
  GradModeGuard grad_on(true);
  const Tensor x = point_leaf(z, "spectral_norm_power");
  const int64_t k = x.size(1);
  const Function fn = [&](const std::vector<Tensor>& in) { return f(in[0]); };
  Generator gen(options.seed);
  std::vector<double> v = Tensor::randn({1, k}, gen, DType::f64, Device::cpu()).to_vector();
  const double v0 = std::sqrt(dot(v, v));
  for (double& e : v) e /= v0;

  SpectralNormEstimate est;
  double previous = -1;
  for (int64_t it = 1; it <= options.max_iters; ++it) {
    est.iterations = it;
    const Tensor vt = Tensor::from_data(v, {1, k}, x.dtype(), x.device());
    const Tensor jv = jvp(fn, {x}, {vt}).second.detach();  // J v
    const std::vector<double> jv_values = jv.to_vector();
    est.sigma = std::sqrt(dot(jv_values, jv_values));  // ||J v|| for the unit v
    est.right_vector = v;
    const std::vector<double> w = vjp(fn, {x}, jv).second[0].to_vector();  // J^T J v
    const double wn = std::sqrt(dot(w, w));
    GG_CHECK(std::isfinite(wn), "spectral_norm_power: the Jacobian products are not finite");
    if (wn == 0) {  // J v = 0: J is zero (or the start fell in its kernel, which has measure zero)
      est.converged = true;
      break;
    }
    for (size_t i = 0; i < v.size(); ++i) v[i] = w[i] / wn;
    if (previous >= 0 && std::abs(est.sigma - previous) <= options.tol * est.sigma) {
      est.converged = true;
      break;
    }
    previous = est.sigma;
  }
  return est;
}

std::vector<std::complex<double>> jacobian_eigenvalues(const Tensor& jacobian) {
  return sorted_eigenvalues(square_matrix(jacobian, "jacobian_eigenvalues"));
}

std::vector<double> jacobian_singular_values(const Tensor& jacobian) {
  const RowMatrix m = square_matrix(jacobian, "jacobian_singular_values");
  Eigen::JacobiSVD<Eigen::MatrixXd> svd(m);
  return {svd.singularValues().data(), svd.singularValues().data() + svd.singularValues().size()};
}

std::vector<FixedPointAnalysis> analyze_fixed_points(const LatentMap& f, const Tensor& points,
                                                     double fixed_point_tol, bool with_eigenvalues) {
  GG_CHECK(points.defined() && points.dim() == 2,
           "analyze_fixed_points: expected points [A, k], got " +
               (points.defined() ? points.str() : std::string("undefined")));
  const int64_t n = points.size(0), k = points.size(1);
  const std::vector<double> p = points.to_vector();
  const std::vector<double> residual = vector_field(f, points).to_vector();  // f(z) - z (eq. 4)
  const std::vector<double> jac = latent_jacobians(f, points).to_vector();
  std::vector<FixedPointAnalysis> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    FixedPointAnalysis& a = out[size_t(i)];
    a.z.assign(p.begin() + i * k, p.begin() + (i + 1) * k);
    double r2 = 0;
    for (int64_t c = 0; c < k; ++c) r2 += residual[size_t(i * k + c)] * residual[size_t(i * k + c)];
    a.residual = std::sqrt(r2);
    const RowMatrix j = Eigen::Map<const RowMatrix>(jac.data() + i * k * k, k, k);
    a.spectral_norm = spectral_norm_of(j);
    const std::vector<std::complex<double>> ev = sorted_eigenvalues(j);
    a.spectral_radius = ev.empty() ? 0 : std::abs(ev[0]);
    if (with_eigenvalues) a.eigenvalues = ev;
    a.is_fixed_point = r2 < fixed_point_tol;
    a.is_attractor = a.is_fixed_point && a.spectral_radius < 1;  // Definition 2
    a.is_contractive = a.spectral_norm < 1;
  }
  return out;
}

double predicted_iterations(double rho, double initial_error, double eps) {
  GG_CHECK(rho >= 0 && initial_error >= 0 && eps > 0,
           "predicted_iterations: need rho >= 0, initial_error >= 0 and eps > 0");
  if (initial_error <= eps) return 0;
  if (rho >= 1) return std::numeric_limits<double>::infinity();
  if (rho == 0) return 1;                                // f maps the neighbourhood onto z* in one step
  return std::log(eps / initial_error) / std::log(rho);  // Proposition 3.2
}

double tolerance_to_error(double tol, double rho) {
  GG_CHECK(tol > 0, "tolerance_to_error: tol must be positive");
  if (rho >= 1) return std::numeric_limits<double>::infinity();
  return std::sqrt(tol) / (1 - rho);
}

ConvergenceSpeed convergence_speed(const LatentMap& f, const Trajectories& trajectories) {
  ConvergenceSpeed s;
  std::vector<int64_t> idx;
  for (int64_t i = 0; i < trajectories.size(); ++i)
    if (trajectories.converged(i)) idx.push_back(i);
  if (idx.empty()) {
    s.pearson = std::numeric_limits<double>::quiet_NaN();
    return s;
  }
  const int64_t k = trajectories.dim();
  const Tensor ends = select_rows(trajectories.final, idx);
  const std::vector<double> e = ends.to_vector();
  const std::vector<double> z0 = select_rows(trajectories.start, idx).to_vector();
  const std::vector<double> jac = latent_jacobians(f, ends).to_vector();
  const double tol = trajectories.options.tol;
  std::vector<double> fp, fm;
  for (size_t j = 0; j < idx.size(); ++j) {
    double e0 = 0;
    for (int64_t c = 0; c < k; ++c) e0 += (z0[j * k + c] - e[j * k + c]) * (z0[j * k + c] - e[j * k + c]);
    e0 = std::sqrt(e0);
    const double rho = spectral_norm_of(Eigen::Map<const RowMatrix>(jac.data() + j * k * k, k, k));
    const double eps = tol > 0 ? tolerance_to_error(tol, rho) : std::numeric_limits<double>::min();
    const double t =
        std::isfinite(eps) ? predicted_iterations(rho, e0, eps) : std::numeric_limits<double>::infinity();
    s.samples.push_back(idx[j]);
    s.initial_error.push_back(e0);
    s.rho.push_back(rho);
    s.predicted.push_back(t);
    s.measured.push_back(double(trajectories.iterations[size_t(idx[j])]));
    if (std::isfinite(t)) fp.push_back(t), fm.push_back(s.measured.back());
  }
  s.pearson = pearson_correlation(fp, fm);
  return s;
}

double pearson_correlation(const std::vector<double>& a, const std::vector<double>& b) {
  GG_CHECK(a.size() == b.size(), "pearson_correlation: samples of different lengths " +
                                     std::to_string(a.size()) + " and " + std::to_string(b.size()));
  const size_t n = a.size();
  if (n < 2) return std::numeric_limits<double>::quiet_NaN();
  double ma = 0, mb = 0;
  for (size_t i = 0; i < n; ++i) ma += a[i], mb += b[i];
  ma /= double(n), mb /= double(n);
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < n; ++i) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) * (a[i] - ma);
    sbb += (b[i] - mb) * (b[i] - mb);
  }
  if (saa == 0 || sbb == 0) return std::numeric_limits<double>::quiet_NaN();
  return sab / std::sqrt(saa * sbb);
}

}  // namespace gg
