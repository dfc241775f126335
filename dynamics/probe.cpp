#include "dynamics/probe.h"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>

#include "engine/gradgrad.h"

namespace gg {

namespace {

using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// The dictionary's rows scaled to unit norm, with the norms (0 for a zero row, which is never chosen).
struct Atoms {
  RowMatrix unit;
  Eigen::VectorXd norm;
  explicit Atoms(const Tensor& dictionary) {
    GG_CHECK(dictionary.defined() && dictionary.dim() == 2,
             "omp: expected a dictionary [M, d], got " +
                 (dictionary.defined() ? dictionary.str() : std::string("undefined")));
    const std::vector<double> v = dictionary.to_vector();
    unit = Eigen::Map<const RowMatrix>(v.data(), dictionary.size(0), dictionary.size(1));
    norm = unit.rowwise().norm();
    for (Eigen::Index i = 0; i < unit.rows(); ++i)
      if (norm(i) > 0) unit.row(i) /= norm(i);
  }
};

// One OMP run on y. After each chosen atom, on_step(s, reconstruction) is called with s = atoms so far.
// Least squares by an incrementally grown thin QR of the chosen (unit) atoms: A_S = Q R, y_S = Q Q^T y,
// coefficients R^{-1} Q^T y. Gram-Schmidt is applied twice per atom, which keeps Q orthonormal to rounding.
template <class OnStep>
OmpResult run_omp(const Atoms& atoms, const Eigen::VectorXd& y, int64_t max_atoms, double residual_tol,
                  OnStep&& on_step) {
  const Eigen::Index m = atoms.unit.rows(), d = atoms.unit.cols();
  GG_CHECK(y.size() == d,
           "omp: target of " + std::to_string(y.size()) + " values for atoms of " + std::to_string(d));
  GG_CHECK(max_atoms >= 0, "omp: max_atoms must be >= 0");
  const int64_t cap = std::min<int64_t>({max_atoms, m, d});
  Eigen::MatrixXd q(d, cap), r = Eigen::MatrixXd::Zero(cap, cap);
  Eigen::VectorXd qty(cap), recon = Eigen::VectorXd::Zero(d), residual = y;
  std::vector<char> usable(static_cast<size_t>(m));
  for (Eigen::Index i = 0; i < m; ++i) usable[size_t(i)] = atoms.norm(i) > 0;
  OmpResult out;
  const double y_norm = y.norm();
  out.residual_norms.push_back(y_norm);
  int64_t s = 0;
  while (s < cap && residual.norm() > residual_tol * y_norm) {
    const Eigen::VectorXd corr = atoms.unit * residual;
    Eigen::Index best = -1;
    double best_abs = 0;
    for (Eigen::Index i = 0; i < m; ++i)
      if (usable[size_t(i)] && std::abs(corr(i)) > best_abs) best = i, best_abs = std::abs(corr(i));
    if (best < 0) break;  // no usable atom correlates with the residual
    usable[size_t(best)] = 0;
    const Eigen::VectorXd a = atoms.unit.row(best).transpose();
    Eigen::VectorXd v = a, proj = Eigen::VectorXd::Zero(s);
    for (int pass = 0; pass < 2; ++pass) {
      const Eigen::VectorXd c = q.leftCols(s).transpose() * v;
      v -= q.leftCols(s) * c;
      proj += c;
    }
    const double vn = v.norm();
    if (vn <= 1e-10) continue;  // the atom lies in the span already: skip it for good
    q.col(s) = v / vn;
    r.col(s).head(s) = proj;
    r(s, s) = vn;
    qty(s) = q.col(s).dot(y);
    recon += q.col(s) * qty(s);
    residual = y - recon;
    out.atoms.push_back(best);
    ++s;
    out.residual_norms.push_back(residual.norm());
    on_step(s, recon);
  }
  if (s > 0) {
    const Eigen::VectorXd c = r.topLeftCorner(s, s).triangularView<Eigen::Upper>().solve(qty.head(s));
    for (int64_t j = 0; j < s; ++j) out.coefficients.push_back(c(j) / atoms.norm(out.atoms[size_t(j)]));
  }
  out.reconstruction.assign(recon.data(), recon.data() + d);
  return out;
}

}  // namespace

ProbeDictionary noise_attractor_dictionary(Autoencoder& model, int64_t n_atoms, uint64_t seed,
                                           const IterateOptions& options, bool converged_only) {
  const int64_t k = model.config().code_dim;
  const int64_t n = n_atoms <= 0 ? k : n_atoms;  // section 4.1 draws N = k codes
  Generator gen(seed);
  ProbeDictionary p;
  p.starts = Tensor::randn({n, k}, gen, model.config().dtype, model.device());  // Z_n ~ N(0, I)
  p.trajectories = iterate(model, p.starts, options);           // Z*_n: f(Z*_n) = Z*_n
  if (converged_only) {
    std::vector<int64_t> keep;
    for (int64_t i = 0; i < n; ++i)
      if (p.trajectories.converged(i)) keep.push_back(i);
    p.atoms = select_rows(p.trajectories.final, keep);
  } else {
    p.atoms = p.trajectories.final;
  }
  if (p.atoms.size(0) > 0) p.decoded = decode_batched(model, p.atoms);
  return p;
}

Tensor random_orthonormal_basis(int64_t k, uint64_t seed) {
  GG_CHECK(k >= 1, "random_orthonormal_basis: k must be >= 1");
  Generator gen(seed);
  const std::vector<double> g = Tensor::randn({k, k}, gen, DType::f64, Device::cpu()).to_vector();
  const Eigen::MatrixXd a = Eigen::Map<const RowMatrix>(g.data(), k, k);
  const Eigen::HouseholderQR<Eigen::MatrixXd> qr(a);
  Eigen::MatrixXd q = qr.householderQ() * Eigen::MatrixXd::Identity(k, k);
  for (int64_t i = 0; i < k; ++i)
    if (qr.matrixQR()(i, i) < 0) q.col(i) *= -1;  // diag(R) > 0 makes Q unique, hence Haar-distributed
  const RowMatrix rows = q.transpose();           // row i = column i of Q
  return Tensor::from_data(std::vector<double>(rows.data(), rows.data() + k * k), {k, k}, DType::f64, Device::cpu());
}

OmpResult omp(const Tensor& dictionary, const Tensor& y, int64_t max_atoms, double residual_tol) {
  const Atoms atoms(dictionary);
  GG_CHECK(y.defined() && (y.dim() == 1 || (y.dim() == 2 && y.size(0) == 1)),
           "omp: expected a target [d] or [1, d], got " + (y.defined() ? y.str() : std::string("undefined")));
  const std::vector<double> v = y.to_vector();
  const Eigen::VectorXd target = Eigen::Map<const Eigen::VectorXd>(v.data(), Eigen::Index(v.size()));
  return run_omp(atoms, target, max_atoms, residual_tol, [](int64_t, const Eigen::VectorXd&) {});
}

std::vector<Tensor> omp_reconstructions(const Tensor& dictionary, const Tensor& targets,
                                        const std::vector<int64_t>& atom_counts) {
  const Atoms atoms(dictionary);
  GG_CHECK(targets.defined() && targets.dim() == 2 && targets.size(1) == atoms.unit.cols(),
           "omp_reconstructions: targets must be [n, " + std::to_string(atoms.unit.cols()) + "], got " +
               (targets.defined() ? targets.str() : std::string("undefined")));
  GG_CHECK(
      !atom_counts.empty() && atom_counts[0] >= 1 && std::is_sorted(atom_counts.begin(), atom_counts.end()),
      "omp_reconstructions: atom_counts must be increasing and >= 1");
  const int64_t n = targets.size(0), d = targets.size(1), nc = static_cast<int64_t>(atom_counts.size());
  const std::vector<double> y = targets.to_vector();
  std::vector<std::vector<double>> out(static_cast<size_t>(nc),
                                       std::vector<double>(static_cast<size_t>(n * d)));
#pragma omp parallel for schedule(dynamic, 4)
  for (int64_t i = 0; i < n; ++i) {
    const Eigen::VectorXd target = Eigen::Map<const Eigen::VectorXd>(y.data() + i * d, d);
    size_t next = 0;  // the next count to fill
    auto store = [&](const Eigen::VectorXd& recon, size_t c) {
      std::copy(recon.data(), recon.data() + d, out[c].data() + i * d);
    };
    const OmpResult res =
        run_omp(atoms, target, atom_counts.back(), 1e-12, [&](int64_t s, const Eigen::VectorXd& recon) {
          while (next < atom_counts.size() && atom_counts[next] == s) store(recon, next++);
        });
    const Eigen::VectorXd last = Eigen::Map<const Eigen::VectorXd>(res.reconstruction.data(), d);
    while (next < atom_counts.size()) store(last, next++);
  }
  std::vector<Tensor> t;
  for (const auto& v : out) t.push_back(Tensor::from_data(v, {n, d}, DType::f64, targets.device()));
  return t;
}

ProbeCurve probe_reconstruction_curve(Autoencoder& model, const Tensor& dictionary, const Tensor& test_x,
                                      const std::vector<int64_t>& atom_counts, int64_t batch_size) {
  NoGradGuard no_grad;
  const DType t = model.config().dtype;
  const Tensor x = test_x.dtype() == t ? test_x : test_x.to(t);
  const Tensor z = encode_batched(model, x, batch_size);
  const Tensor recon_x = decode_batched(model, z, batch_size);  // D(E(x)): the best OMP can hope for
  const std::vector<Tensor> zs = omp_reconstructions(dictionary, z, atom_counts);
  ProbeCurve c;
  c.atom_counts = atom_counts;
  const Tensor z64 = z.to(DType::f64);
  for (const Tensor& zr : zs) {
    c.latent_mse.push_back(mean(square(zr - z64)).item());
    const Tensor out = decode_batched(model, zr.to(t), batch_size);
    c.output_mse.push_back(mean(square(out - x)).item());
    c.output_mse_to_reconstruction.push_back(mean(square(out - recon_x)).item());
  }
  return c;
}

std::vector<int64_t> doubling_counts(int64_t max_atoms) {
  GG_CHECK(max_atoms >= 1, "doubling_counts: max_atoms must be >= 1");
  std::vector<int64_t> c;
  for (int64_t s = 1; s < max_atoms; s *= 2) c.push_back(s);
  c.push_back(max_atoms);
  return c;
}

}  // namespace gg
