// The Poisson-potential regularizer of paper 000 (regularizers/poisson.h, score.h, poisson_grid.h): Green's
// function against the defining properties of a fundamental solution, the Monte-Carlo potential (eq. 10)
// against closed forms, every gradient against finite differences, the regularizer's gradient reaching the
// encoder, and Green's first identity (eq. 6) on a finite-difference grid.
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <numbers>
#include <set>

#include "datasets/corruption.h"
#include "datasets/toy.h"
#include "models/optim.h"
#include "regularizers/poisson.h"
#include "regularizers/poisson_grid.h"
#include "regularizers/score.h"
#include "tests/helpers.h"
#include "tests/models_helpers.h"

using namespace gg;

namespace {

constexpr double pi = std::numbers::pi;

Tensor point(const std::vector<double>& v) {
  return Tensor::from_data(v, {1, static_cast<int64_t>(v.size())}, DType::f64);
}

double green_at(const std::vector<double>& z, const std::vector<double>& y, double eps) {
  return green_function(point(z), point(y), eps).item();
}

// Central-difference Laplacian of z -> G_eps(z, y) at z.
double fd_laplacian(std::vector<double> z, const std::vector<double>& y, double eps, double h) {
  const double g0 = green_at(z, y, eps);
  double lap = 0;
  for (size_t k = 0; k < z.size(); ++k) {
    const double zk = z[k];
    z[k] = zk + h;
    const double gp = green_at(z, y, eps);
    z[k] = zk - h;
    const double gm = green_at(z, y, eps);
    z[k] = zk;
    lap += (gp + gm - 2 * g0) / (h * h);
  }
  return lap;
}

// A tiny f64 SiLU MLP autoencoder 2 -> 5 -> 3 -> 5 -> 2 (code dim 3 != input dim 2, so the chain rule matters).
AutoencoderConfig tiny_config(int64_t code_dim = 3) {
  AutoencoderConfig c;
  c.input_shape = {2};
  c.code_dim = code_dim;
  c.hidden = {5};
  c.activation = "silu";
  c.dtype = DType::f64;
  c.seed = 11;
  return c;
}

Tensor moons(int64_t n, uint64_t seed) {
  return two_moons(ToyOptions{.n = n, .noise = 0.1, .seed = seed}).x.to(DType::f64);
}

PoissonOptions small_options() {
  PoissonOptions o;
  o.quadrature_points = 5;
  o.source.method = "exact";
  o.kde_bandwidth = 0.3;
  return o;
}

std::vector<Tensor> encoder_parameters(Autoencoder& ae) {
  std::vector<Tensor> out;
  for (const auto& [name, p] : ae.named_parameters())
    if (name.rfind("encoder.", 0) == 0) out.push_back(p);
  return out;
}

// L_Pois as a function of the encoder's parameters (the decoder's kept), with every random draw fixed.
Function loss_of_encoder(Autoencoder& ae, const Tensor& x, const PoissonOptions& o, const ScoreFn& score = {}) {
  return [&ae, x, o, score](const std::vector<Tensor>& enc) {
    std::vector<Tensor> all = enc;
    for (const auto& [name, p] : ae.named_parameters())
      if (name.rfind("encoder.", 0) != 0) all.push_back(p.detach());
    return call_with_parameters(ae, all, [&] {
      Generator gen(3);
      return poisson_regularizer(ae, x, o, gen, score).loss;
    });
  };
}

// printf into a string.
template <class... A>
void append(std::string& out, const char* format, A... args) {
  char buffer[512];
  std::snprintf(buffer, sizeof buffer, format, args...);
  out += buffer;
}

double max_abs(const Tensor& t) {
  double m = 0;
  for (double v : t.to_vector()) m = std::max(m, std::abs(v));
  return m;
}

}  // namespace

// ---- Green's function --------------------------------------------------------------------------------------

TEST_CASE("Green function: harmonic away from the source, Laplace G_eps = m eps^2 / (|S| r_eps^(m+2)) (m = 1, 2, 3, 5)") {
  CHECK(unit_sphere_area(1) == doctest::Approx(2.0));
  CHECK(unit_sphere_area(2) == doctest::Approx(2 * pi));
  CHECK(unit_sphere_area(3) == doctest::Approx(4 * pi));
  CHECK(unit_sphere_area(5) == doctest::Approx(8 * pi * pi / 3));
  for (int64_t m : {2, 3, 5}) {
    CAPTURE(m);
    std::vector<double> y(static_cast<size_t>(m), 0.0), z(static_cast<size_t>(m));
    for (int64_t k = 0; k < m; ++k) y[static_cast<size_t>(k)] = 0.1 * static_cast<double>(k), z[static_cast<size_t>(k)] = 0.9 - 0.3 * static_cast<double>(k);
    // eps = 0, r ~ 1: the discrete Laplacian vanishes to the difference error.
    CHECK(std::abs(fd_laplacian(z, y, 0.0, 1e-3)) < 1e-5);
    // eps > 0: the Laplacian is a positive bump of unit mass (positive: Laplace G = +delta, the paper's sign).
    for (double scale : {0.0, 0.2, 1.0}) {
      std::vector<double> w = y;
      w[0] += scale;
      const double eps = 0.5, r2 = scale * scale + eps * eps;
      const double expect = static_cast<double>(m) * eps * eps / (unit_sphere_area(m) * std::pow(r2, 0.5 * static_cast<double>(m + 2)));
      CHECK(fd_laplacian(w, y, eps, 1e-3) == doctest::Approx(expect).epsilon(1e-5));
    }
  }
  // m = 1: G = |r| / 2 has G'' = 0 away from 0 and a unit jump of G' at 0.
  CHECK(std::abs(fd_laplacian({0.7}, {0.0}, 0.0, 1e-3)) < 1e-6);
  CHECK(green_at({0.3}, {0.0}, 0.0) == doctest::Approx(0.15));
  // Values: the signs of G = -Phi.
  CHECK(green_at({2.0, 0.0}, {0.0, 0.0}, 0.0) == doctest::Approx(std::log(2.0) / (2 * pi)));
  CHECK(green_at({0.0, 0.0, 2.0}, {0.0, 0.0, 0.0}, 0.0) == doctest::Approx(-1.0 / (4 * pi * 2.0)));
}

TEST_CASE("Green function: the flux of grad G out of a sphere is 1 round the source, 0 elsewhere") {
  // m = 2: a circle of radius R about c, trapezoid rule in the angle (spectrally accurate for this integrand).
  auto circle_flux = [](std::vector<double> source, std::vector<double> c, double radius, double eps) {
    const int64_t k = 720;
    std::vector<double> pts, normals;
    for (int64_t i = 0; i < k; ++i) {
      const double t = 2 * pi * static_cast<double>(i) / static_cast<double>(k);
      normals.push_back(std::cos(t)), normals.push_back(std::sin(t));
      pts.push_back(c[0] + radius * std::cos(t)), pts.push_back(c[1] + radius * std::sin(t));
    }
    const auto g = green_gradient(Tensor::from_data(pts, {k, 2}, DType::f64), point(source), eps).to_vector();
    double flux = 0;
    for (size_t i = 0; i < normals.size(); ++i) flux += g[i] * normals[i];
    return flux * radius * 2 * pi / static_cast<double>(k);
  };
  CHECK(circle_flux({0.2, -0.1}, {0, 0}, 0.7, 0.0) == doctest::Approx(1.0).epsilon(1e-10));
  CHECK(std::abs(circle_flux({2.0, 0.5}, {0, 0}, 0.7, 0.0)) < 1e-10);
  // Regularized: about the source, flux = R^m / (R^2 + eps^2)^(m/2) -> 1 as eps -> 0.
  CHECK(circle_flux({0, 0}, {0, 0}, 0.5, 0.1) == doctest::Approx(0.25 / 0.26).epsilon(1e-10));
  CHECK(circle_flux({0, 0}, {0, 0}, 0.5, 1e-6) == doctest::Approx(1.0).epsilon(1e-10));

  // m = 3: the unit sphere, midpoint rule in (cos theta, phi), the source off centre.
  auto sphere_flux = [](std::vector<double> source) {
    const int64_t nu = 200, nphi = 400;
    std::vector<double> pts;
    for (int64_t a = 0; a < nu; ++a)
      for (int64_t b = 0; b < nphi; ++b) {
        const double u = -1 + (static_cast<double>(a) + 0.5) * 2 / static_cast<double>(nu);
        const double phi = (static_cast<double>(b) + 0.5) * 2 * pi / static_cast<double>(nphi);
        const double s = std::sqrt(1 - u * u);
        pts.push_back(s * std::cos(phi)), pts.push_back(s * std::sin(phi)), pts.push_back(u);
      }
    const int64_t k = nu * nphi;
    const auto g = green_gradient(Tensor::from_data(pts, {k, 3}, DType::f64), point(source), 0.0).to_vector();
    double flux = 0;
    for (size_t i = 0; i < pts.size(); ++i) flux += g[i] * pts[i];  // the normal of the unit sphere is the point
    return flux * (2.0 / static_cast<double>(nu)) * (2 * pi / static_cast<double>(nphi));
  };
  CHECK(sphere_flux({0.3, 0.1, -0.2}) == doctest::Approx(1.0).epsilon(1e-4));
  CHECK(std::abs(sphere_flux({1.5, 0.2, 0.0})) < 1e-4);
}

TEST_CASE("Green function: the Monte-Carlo potential (eq. 10) of a uniform disk and ball matches the closed form") {
  // A unit source on the ball |y| < a. The free-space potential (Laplace v = 1 inside, 0 outside) is
  //   m = 2: v = r^2/4 + a^2/2 log a - a^2/4 inside, a^2/2 log r outside,
  //   m = 3: v = r^2/6 - a^2/2 inside, -a^3/(3 r) outside.
  // Eq. 10 with y_j uniform on the ball estimates integral G(z, y) q(y) s(y) dy with q = 1/|ball|, so the
  // source weights are s_j = |ball| (importance weights; see the header's note on what eq. 10 integrates).
  const double a = 0.5;
  const int64_t n = 100000;
  for (int64_t m : {2, 3}) {
    CAPTURE(m);
    Generator gen(5);
    const auto dirs = Tensor::randn({n, m}, gen, DType::f64).to_vector();
    const auto radii = Tensor::rand({n}, gen, DType::f64).to_vector();
    std::vector<double> y(dirs.size());
    for (int64_t j = 0; j < n; ++j) {
      double norm = 0;
      for (int64_t k = 0; k < m; ++k) norm += dirs[static_cast<size_t>(j * m + k)] * dirs[static_cast<size_t>(j * m + k)];
      const double r = a * std::pow(radii[static_cast<size_t>(j)], 1.0 / static_cast<double>(m)) / std::sqrt(norm);
      for (int64_t k = 0; k < m; ++k) y[static_cast<size_t>(j * m + k)] = r * dirs[static_cast<size_t>(j * m + k)];
    }
    const double volume = m == 2 ? pi * a * a : 4.0 / 3.0 * pi * a * a * a;
    const Tensor zq = Tensor::from_data(y, {n, m}, DType::f64);
    const Tensor sq = Tensor::full({n}, volume, DType::f64);
    auto exact = [&](double r) {
      if (m == 2) return r < a ? r * r / 4 + a * a / 2 * std::log(a) - a * a / 4 : a * a / 2 * std::log(r);
      return r < a ? r * r / 6 - a * a / 2 : -a * a * a / (3 * r);
    };
    auto exact_slope = [&](double r) {  // dv/dr
      if (m == 2) return r < a ? r / 2 : a * a / (2 * r);
      return r < a ? r / 3 : a * a * a / (3 * r * r);
    };
    for (double r : {0.0, 0.2, 0.4, 0.8, 1.5}) {
      CAPTURE(r);
      std::vector<double> z(static_cast<size_t>(m), 0.0);
      z[0] = r * 0.6, z[1] = r * 0.8;
      const GreenQuadrature q = green_quadrature(point(z), zq, sq, 1e-3);
      CHECK(q.v.item() == doctest::Approx(exact(r)).epsilon(0.01).scale(0.1));
      // The gradient kernel ~ r^(1-m) gives the estimate a large variance near an evaluation point inside the
      // source (infinite for m = 3 as eps -> 0), so the gradient is checked against its own standard error:
      // |estimate - exact| < 4 SE + a smoothing allowance, with SE small enough to make that a real test.
      const double eps = 1e-2;
      const Tensor terms = green_gradient(point(z), zq, eps) * volume;  // [1, n, m]: the summands of eq. 10
      const Tensor est = mean(terms, {0, 1});
      const auto se = sqrt(var(terms, {0, 1}) / static_cast<double>(n)).to_vector();
      const auto g = est.to_vector();
      for (int k = 0; k < 2; ++k) {
        const double exact_k = (k == 0 ? 0.6 : 0.8) * exact_slope(r);
        CAPTURE(k);
        CHECK(std::abs(g[static_cast<size_t>(k)] - exact_k) < 4 * se[static_cast<size_t>(k)] + 5e-4);
        CHECK(se[static_cast<size_t>(k)] < 0.01);
      }
      CHECK(test::max_abs_diff(est, green_quadrature(point(z), zq, sq, eps).grad.reshape({m})) < 1e-12);
    }
  }
}

TEST_CASE("Green function: gradients match finite differences (gradcheck, gradgradcheck, f64)") {
  for (int64_t m : {1, 2, 3}) {
    CAPTURE(m);
    const Tensor zi = test::input({3, m}, 1, -1, 1);
    const Tensor zj = test::input({4, m}, 2, -1, 1);
    for (double eps : {0.3, 0.05}) {
      Function g = [eps](const std::vector<Tensor>& in) { return green_function(in[0], in[1], eps); };
      Function dg = [eps](const std::vector<Tensor>& in) { return green_gradient(in[0], in[1], eps); };
      const auto r1 = gradcheck(g, {zi, zj});
      CHECK_MESSAGE(r1.ok, r1.message);
      const auto r2 = gradcheck(dg, {zi, zj});
      CHECK_MESSAGE(r2.ok, r2.message);
      const auto r3 = gradgradcheck(g, {zi, zj});
      CHECK_MESSAGE(r3.ok, r3.message);
      const auto r4 = gradgradcheck(dg, {zi, zj});
      CHECK_MESSAGE(r4.ok, r4.message);
      // green_gradient is the engine's gradient of green_function in its first argument.
      const Tensor w = test::input({3, 4}, 3).detach();
      const Tensor auto_grad = grad(sum(green_function(zi, zj, eps) * w), zi);
      const Tensor formula = sum(green_gradient(zi, zj, eps) * reshape(w, {3, 4, 1}), {1});
      CHECK(test::max_abs_diff(auto_grad, formula) < 1e-12);
    }
  }
}

// ---- Eq. 10 and the chain rule -------------------------------------------------------------------------------

TEST_CASE("Poisson potential: eq. 10 sums and the input gradient J_f^T grad_z v") {
  Autoencoder ae(tiny_config());
  const Tensor x = moons(7, 1);
  const Tensor xq = moons(5, 2);
  PoissonOptions o = small_options();
  Generator gen(0);
  const PoissonQuadrature q = poisson_quadrature(ae, xq, o, gen);
  CHECK(q.rows.size() == 5);
  const PoissonPotential p = poisson_potential(ae, x, q, o);
  // Eq. 10 written out with green_function / green_gradient.
  const Tensor g = green_function(p.z, q.z, o.eps);    // [7, 5]
  const Tensor dg = green_gradient(p.z, q.z, o.eps);   // [7, 5, 3]
  CHECK(test::max_abs_diff(p.v, sum(g * reshape(q.s, {1, 5}), {1}) / 5.0) < 1e-12);
  CHECK(test::max_abs_diff(p.grad_z, sum(dg * reshape(q.s, {1, 5, 1}), {1}) / 5.0) < 1e-12);
  // The sources are s_phi = ||J_f||_F^2 of the quadrature points.
  const Tensor xl = xq.detach().requires_grad_();
  const Tensor jq = batch_jacobian(ae.encode(xl), xl);  // [5, 3, 2]
  CHECK(test::max_abs_diff(q.s, sum(square(jq), {1, 2})) < 1e-12);
  // The input gradient is J^T grad_z v per sample.
  const Tensor xe = x.detach().requires_grad_();
  const Tensor j = batch_jacobian(ae.encode(xe), xe);  // [7, 3, 2]
  const Tensor expect = sum(j * reshape(p.grad_z, {7, 3, 1}), {1});
  CHECK(test::max_abs_diff(p.grad_x, expect) < 1e-12);
  // A batch of at most M samples is used whole; a larger one gives M distinct rows, fixed by the seed.
  Generator g1(4), g2(4);
  const auto r1 = poisson_quadrature(ae, moons(9, 3), o, g1).rows;
  CHECK(r1 == poisson_quadrature(ae, moons(9, 3), o, g2).rows);
  CHECK(std::set<int64_t>(r1.begin(), r1.end()).size() == 5);
}

// ---- Eq. 7 ------------------------------------------------------------------------------------------------------

TEST_CASE("Poisson regularizer: the corruption normal n(x) of eq. 7 for noise, rotation and zoom") {
  const Tensor x = moons(16, 4);
  for (const char* spec : {"noise:0.1", "rotation:30", "zoom:0.2"}) {
    CAPTURE(spec);
    Generator gen(1);
    const Corrupted c = corrupt(x, parse_corruption(spec), gen);
    const auto n = corruption_normal(c.displacement, 1e-2).to_vector();
    const auto d = c.displacement.to_vector();
    for (size_t b = 0; b < 16; ++b) {
      const double dn = std::hypot(d[2 * b], d[2 * b + 1]);
      CHECK(n[2 * b] == doctest::Approx(d[2 * b] / (dn + 1e-2)).epsilon(1e-12));
      CHECK(n[2 * b + 1] == doctest::Approx(d[2 * b + 1] / (dn + 1e-2)).epsilon(1e-12));
      CHECK(std::hypot(n[2 * b], n[2 * b + 1]) < 1.0);
    }
  }
  // A sample that did not move gets n = 0, also with eps = 0.
  const auto n0 = corruption_normal(Tensor::zeros({2, 2}, DType::f64), 0.0).to_vector();
  for (double v : n0) CHECK(v == 0.0);
}

// ---- Scores ------------------------------------------------------------------------------------------------------

TEST_CASE("Poisson scores: Gaussian mixture, denoising autoencoder (Alain & Bengio) and KDE") {
  const GaussianMixture gm = default_gaussian_mixture();
  const Tensor x = test::input({6, 2}, 8, -1.5, 1.5);
  {  // (a) the mixture's exact score is the engine's gradient of its log density
    const Tensor s = gaussian_mixture_score(gm)(x);
    CHECK(!s.requires_grad());
    CHECK(test::max_abs_diff(s, grad(sum(gm.log_density(x)), x)) < 1e-10);
  }
  {  // (c) the closed-form KDE score is the gradient of the log KDE
    const Tensor ref = test::input({30, 2}, 9, -1, 1).detach();
    for (double h : {0.1, 0.5}) {
      const Tensor s = kde_score(ref, h)(x);
      CHECK(test::max_abs_diff(s, grad(sum(kde_log_density(x, ref, h)), x)) < 1e-10);
    }
    // log KDE of one reference point is the Gaussian log density.
    const Tensor one = point({0.2, -0.1});
    const double lp = kde_log_density(point({0.5, 0.3}), one, 0.5).item();
    CHECK(lp == doctest::Approx(-std::log(2 * pi * 0.25) - (0.09 + 0.16) / (2 * 0.25)).epsilon(1e-12));
  }
  {  // (b) a linear DAE set to the optimum for N(0, I) data with noise sigma: r(x) = x / (1 + sigma^2), so
     // (r(x) - x) / sigma^2 = -x / (1 + sigma^2): the score -x of N(0, I) up to O(sigma^2).
    AutoencoderConfig c;
    c.input_shape = {2};
    c.code_dim = 2;
    c.hidden = {};
    c.dtype = DType::f64;
    Autoencoder dae(c);
    const double sigma = 0.1;
    auto p = dae.parameters();  // encoder W, b; decoder W, b
    REQUIRE(p.size() == 4);
    p[0].copy_(eye(2, DType::f64));
    p[1].copy_(Tensor::zeros({2}, DType::f64));
    p[2].copy_(eye(2, DType::f64) / (1 + sigma * sigma));
    p[3].copy_(Tensor::zeros({2}, DType::f64));
    const Tensor s = denoising_score(dae, sigma)(x);
    CHECK(test::max_abs_diff(s, -x / (1 + sigma * sigma)) < 1e-12);
    CHECK(test::max_abs_diff(s, -x) < 1.5 * sigma * sigma);
  }
  CHECK(test::contains(test::error_of([&] { kde_score(x, 0.0); }), "bandwidth"));
}

// ---- The regularizer ---------------------------------------------------------------------------------------------

TEST_CASE("Poisson regularizer: terms, L_Pois = flux - coupling, and the eq. 8 objective") {
  Autoencoder ae(tiny_config());
  const Tensor x = moons(8, 5);
  PoissonOptions o = small_options();
  Generator gen(3);
  const PoissonTerms t = poisson_regularizer(ae, x, o, gen);
  CHECK(t.quadrature.s.shape() == Shape{5});
  CHECK(t.clean.v.shape() == Shape{8});
  CHECK(t.clean.grad_z.shape() == Shape{8, 3});
  CHECK(t.clean.grad_x.shape() == Shape{8, 2});
  CHECK(t.grad_norm_corrupted.shape() == Shape{8});
  CHECK(t.loss.item() == doctest::Approx(t.flux.item() - t.coupling.item()).epsilon(1e-12));
  CHECK(t.source_mean.item() == doctest::Approx(mean(t.quadrature.s).item()).epsilon(1e-12));
  // flux and coupling are the sample means of eq. 7 and eq. 13.
  CHECK(t.flux.item() == doctest::Approx(mean(sum(t.corrupted.grad_x * t.normal, {1})).item()).epsilon(1e-12));
  CHECK(t.coupling.item() == doctest::Approx(mean(sum(t.clean.grad_x * t.score, {1})).item()).epsilon(1e-12));
  // The built-in score is the KDE of the clean batch; a passed score overrides it; "none" drops the coupling.
  CHECK(test::max_abs_diff(t.score, kde_score(x, o.kde_bandwidth)(x)) < 1e-12);
  {
    Generator g2(3);
    const PoissonTerms t2 = poisson_regularizer(ae, x, o, g2, gaussian_mixture_score(default_gaussian_mixture()));
    CHECK(test::max_abs_diff(t2.score, default_gaussian_mixture().score(x)) < 1e-12);
    CHECK(t2.flux.item() == doctest::Approx(t.flux.item()).epsilon(1e-12));
    PoissonOptions none = o;
    none.score = "none";
    Generator g3(3);
    CHECK(poisson_regularizer(ae, x, none, g3).coupling.item() == 0.0);
  }
  // Eq. 8: reconstruction from Pi(x) + lambda L_Pois.
  o.lambda = 0.7;
  Generator g4(3);
  const PoissonObjective obj = poisson_objective(ae, x, o, g4);
  CHECK(obj.regularizer.item() == doctest::Approx(0.7 * t.loss.item()).epsilon(1e-12));
  CHECK(obj.reconstruction.item() == doctest::Approx(mse(ae(t.x_corrupted), x).item()).epsilon(1e-12));
  CHECK(obj.total.item() == doctest::Approx(obj.reconstruction.item() + obj.regularizer.item()).epsilon(1e-12));
  // Code-space gradients need m == d; with m == d they are used as they are.
  o.gradient = "code";
  Generator g5(3);
  CHECK(test::contains(test::error_of([&] { poisson_regularizer(ae, x, o, g5); }), "regularizer.gradient"));
  Autoencoder square_ae(tiny_config(2));
  Generator g6(3);
  const PoissonTerms tc = poisson_regularizer(square_ae, x, o, g6);
  CHECK(tc.flux.item() == doctest::Approx(mean(sum(tc.corrupted.grad_z * tc.normal, {1})).item()).epsilon(1e-12));
  // Without a graph every term is a plain value.
  PoissonOptions plain = small_options();
  plain.source.create_graph = false;
  Generator g7(3);
  const PoissonTerms tp = poisson_regularizer(ae, x, plain, g7);
  CHECK(!tp.loss.requires_grad());
  CHECK(tp.loss.item() == doctest::Approx(t.loss.item()).epsilon(1e-10));
}

TEST_CASE("Poisson regularizer: the gradient of L_Pois reaches every encoder parameter and matches finite differences") {
  const Tensor x = moons(8, 6);
  struct Case {
    const char* name;
    PoissonOptions options;
    ScoreFn score;
  };
  PoissonOptions rotation = small_options();
  rotation.corruption = "rotation:30";
  rotation.quadrature = "clean";
  PoissonOptions zoom = small_options();
  zoom.corruption = "zoom:0.2";
  zoom.quadrature_points = 256;  // all 8 samples
  const std::vector<Case> cases = {
      {"noise, KDE score, M < B", small_options(), {}},
      {"rotation, mixture score, clean quadrature", rotation, gaussian_mixture_score(default_gaussian_mixture())},
      {"zoom, KDE score, M >= B", zoom, {}},
  };
  // A tanh code layer: every encoder parameter moves L_Pois. An identity code layer: all but the code layer's
  // bias, which only translates every code, and G, s_phi and J_f are all blind to a translation of the codes.
  for (const char* code_activation : {"tanh", "identity"}) {
    AutoencoderConfig config = tiny_config();
    config.code_activation = code_activation;
    Autoencoder ae(config);
    std::vector<Tensor> enc;
    for (const Tensor& p : encoder_parameters(ae)) enc.push_back(p.detach().clone().requires_grad_());
    REQUIRE(enc.size() == 4);  // encoder.1.weight, encoder.1.bias, encoder.3.weight, encoder.3.bias
    for (const Case& c : cases) {
      CAPTURE(code_activation);
      CAPTURE(std::string(c.name));
      const Function f = loss_of_encoder(ae, x, c.options, c.score);
      const std::vector<Tensor> g = grad({f(enc)}, enc);
      for (size_t k = 0; k < g.size(); ++k) {
        CAPTURE(k);
        if (std::string(code_activation) == "identity" && k == 3)
          CHECK(max_abs(g[k]) < 1e-10);  // translation invariance
        else
          CHECK(max_abs(g[k]) > 1e-4);
      }
      const auto r = gradcheck(f, enc, {.eps = 1e-6, .atol = 1e-6, .rtol = 1e-4});
      CHECK_MESSAGE(r.ok, r.message);
    }
  }
}

TEST_CASE("Poisson regularizer: the source s_phi keeps its graph, and L_Pois depends on it") {
  Autoencoder ae(tiny_config());
  const Tensor x = moons(8, 7);
  Generator gen(3);
  const PoissonTerms t = poisson_regularizer(ae, x, small_options(), gen);
  REQUIRE(t.quadrature.s.requires_grad());
  REQUIRE(!t.quadrature.s.is_leaf());
  // d s_phi / d phi is nonzero on every encoder weight and hidden bias (the code bias does not enter J_f).
  const std::vector<Tensor> ds = grad({sum(t.quadrature.s)}, encoder_parameters(ae), {}, {.retain_graph = true});
  for (size_t k = 0; k < 3; ++k) CHECK(max_abs(ds[k]) > 1e-6);
  // d L_Pois / d s_j is nonzero: the loss reaches phi through the source, not only through the codes.
  const Tensor dl_ds = grad(t.loss, t.quadrature.s, Tensor(), {.retain_graph = true});
  CHECK(max_abs(dl_ds) > 1e-6);
  // And the part of dL/dphi that flows through s is not negligible: compare with the source detached.
  const std::vector<Tensor> full = grad({t.loss}, encoder_parameters(ae), {}, {.retain_graph = true});
  const PoissonPotential clean = poisson_potential(ae, x, {t.quadrature.rows, t.quadrature.x, t.quadrature.z,
                                                           t.quadrature.s.detach()}, small_options());
  const PoissonPotential corrupted = poisson_potential(ae, t.x_corrupted, {t.quadrature.rows, t.quadrature.x,
                                                       t.quadrature.z, t.quadrature.s.detach()}, small_options());
  const Tensor detached = boundary_flux(corrupted.grad_x, t.normal) - score_coupling(t.score, clean.grad_x);
  CHECK(detached.item() == doctest::Approx(t.loss.item()).epsilon(1e-12));
  const std::vector<Tensor> partial = grad({detached}, encoder_parameters(ae));
  double diff = 0;
  for (size_t k = 0; k < full.size(); ++k) diff = std::max(diff, test::max_abs_diff(full[k], partial[k]));
  CHECK(diff > 1e-6);
}

TEST_CASE("Poisson objective: two short trainings on two moons that differ only in lambda end with different weights") {
  const Tensor x = moons(64, 8);
  auto train = [&](double lambda) {
    AutoencoderConfig c = tiny_config(2);
    c.hidden = {8};
    Autoencoder ae(c);
    PoissonOptions o;
    o.lambda = lambda;
    o.quadrature_points = 32;
    o.source.method = "exact";
    Adam opt(ae.parameters(), {.lr = 1e-2});
    double first = 0, last = 0;
    for (int step = 0; step < 5; ++step) {
      Generator gen(100 + static_cast<uint64_t>(step));
      const PoissonObjective obj = poisson_objective(ae, x, o, gen);
      REQUIRE(std::isfinite(obj.total.item()));
      (step == 0 ? first : last) = obj.total.item();
      opt.step(grad({obj.total}, ae.parameters()));
    }
    std::vector<Tensor> enc;
    for (const Tensor& p : encoder_parameters(ae)) enc.push_back(p.detach().clone());
    return enc;
  };
  const auto plain = train(0.0);
  const auto regularized = train(1.0);
  double diff = 0;
  for (size_t k = 0; k < plain.size(); ++k) diff = std::max(diff, test::max_abs_diff(plain[k], regularized[k]));
  CHECK(diff > 1e-4);
}

// ---- Options --------------------------------------------------------------------------------------------------

TEST_CASE("Poisson options: JSON round trip and refusals naming the key") {
  PoissonOptions o;
  o.lambda = 0.5;
  o.eps = 0.05;
  o.quadrature_points = 64;
  o.corruption = "rotation:30";
  o.gradient = "code";
  o.source.method = "hutchinson";
  o.source.probes = 4;
  nlohmann::json j = o;
  CHECK(j["kind"] == "poisson");
  const PoissonOptions back = j.get<PoissonOptions>();
  CHECK(nlohmann::json(back) == j);
  CHECK(back.source.probes == 4);
  // A training config's regularizer object.
  const auto parsed = nlohmann::json::parse(R"({"kind": "poisson", "lambda": 0.2, "corruption": "zoom:0.2"})")
                          .get<PoissonOptions>();
  CHECK(parsed.lambda == 0.2);
  CHECK(parsed.quadrature_points == 256);
  CHECK(parsed.eps == 1e-2);
  auto refusal = [](const char* text) {
    return test::error_of([&] { nlohmann::json::parse(text).get<PoissonOptions>(); });
  };
  CHECK(test::contains(refusal(R"({"lamda": 1})"), "'lamda'"));
  CHECK(test::contains(refusal(R"({"kind": "contractive"})"), "regularizer.kind"));
  CHECK(test::contains(refusal(R"({"eps": -1})"), "regularizer.eps"));
  CHECK(test::contains(refusal(R"({"eps": "small"})"), "regularizer.eps"));
  CHECK(test::contains(refusal(R"({"quadrature_points": 0})"), "regularizer.quadrature_points"));
  CHECK(test::contains(refusal(R"({"quadrature_points": 2.5})"), "regularizer.quadrature_points"));
  CHECK(test::contains(refusal(R"({"corruption": "blur:1"})"), "regularizer.corruption"));
  CHECK(test::contains(refusal(R"({"gradient": "latent"})"), "regularizer.gradient"));
  CHECK(test::contains(refusal(R"({"score": "oracle"})"), "regularizer.score"));
  CHECK(test::contains(refusal(R"({"kde_bandwidth": 0})"), "regularizer.kde_bandwidth"));
  CHECK(test::contains(refusal(R"({"lambda": -0.1})"), "regularizer.lambda"));
  CHECK(test::contains(refusal(R"({"source": {"method": "magic"}})"), "regularizer.source.method"));
  CHECK(test::contains(refusal(R"({"source": {"probes": 0}})"), "regularizer.source.probes"));
  CHECK(test::contains(refusal(R"({"source": {"probs": 2}})"), "'probs'"));
  CHECK(test::contains(refusal(R"([1, 2])"), "regularizer"));
}

// ---- Green's first identity on a grid (eq. 6, 11-13) ----------------------------------------------------------

namespace {
// A fixed small tanh encoder 2 -> 6 -> 2: its s_phi is smooth and not constant.
AutoencoderConfig grid_encoder() {
  AutoencoderConfig c;
  c.input_shape = {2};
  c.code_dim = 2;
  c.hidden = {6};
  c.activation = "tanh";
  c.dtype = DType::f64;
  c.seed = 3;
  return c;
}
}  // namespace

TEST_CASE("Poisson grid check: Green's first identity R = flux - coupling to discretization accuracy") {
  Autoencoder ae(grid_encoder());
  const GaussianMixture gm = default_gaussian_mixture();
  const SourceFn s = encoder_source(ae);
  GridCheckOptions o;
  o.n = 48;
  const GridCheck coarse = poisson_grid_check(gm, s, o);
  o.n = 96;
  const GridCheck fine = poisson_grid_check(gm, s, o);
  MESSAGE("n=48: R=" << coarse.source << " flux=" << coarse.flux << " coupling=" << coarse.coupling
                     << " residual=" << coarse.residual);
  MESSAGE("n=96: R=" << fine.source << " flux=" << fine.flux << " coupling=" << fine.coupling
                     << " residual=" << fine.residual);
  // The terms are all of order one and the boundary term is not negligible (p does not vanish on the boundary).
  CHECK(std::abs(fine.flux) > 0.05 * fine.source);
  CHECK(std::abs(fine.coupling) > 0.05 * fine.source);
  CHECK(std::abs(coarse.residual) < 5e-3 * coarse.source);
  CHECK(std::abs(fine.residual) < 1.2e-3 * fine.source);
  CHECK(std::abs(fine.residual) < 0.3 * std::abs(coarse.residual));  // second order: / 4 when h halves
  // Refining changes the terms themselves by little (they converge, not only their balance).
  CHECK(fine.flux == doctest::Approx(coarse.flux).epsilon(1e-2));
  CHECK(fine.coupling == doctest::Approx(coarse.coupling).epsilon(1e-2));
}

TEST_CASE("Poisson grid check: the Monte-Carlo estimators against the grid (numbers for docs/poisson.md)") {
  // Run with -s to see the table that docs/poisson.md quotes:
  //   build/gg_tests -s -tc="Poisson grid check: the Monte-Carlo*"
  Autoencoder ae(grid_encoder());
  GridCheckOptions o;
  o.n = 128;
  o.samples = 8192;
  o.quadrature_points = 256;
  // The small-noise limit of the eq. 7 proxy for Gaussian noise Pi(x) = x + sigma xi in d = 2 (docs/poisson.md):
  // E[grad v(x + sigma xi) . n] -> (sigma / d) E|xi|^2 / (|xi| + eps_n / sigma) E[Laplace v], |xi| ~ Rayleigh.
  auto noise_factor = [&](double sigma) {
    double e = 0;
    const int64_t k = 200000;
    for (int64_t i = 0; i < k; ++i) {
      const double r = (static_cast<double>(i) + 0.5) * 10.0 / static_cast<double>(k);
      e += r * r / (r + o.normal_eps / sigma) * r * std::exp(-r * r / 2) * 10.0 / static_cast<double>(k);
    }
    return sigma / 2 * e;
  };
  std::string report;
  for (const char* corruption : {"noise:0.1", "noise:0.3", "rotation:30", "zoom:0.2"}) {
    CAPTURE(corruption);
    o.corruption = corruption;
    const GridCheck c = poisson_grid_check(default_gaussian_mixture(), encoder_source(ae), o);
    // Sampling agrees with the grid where it should: R and the coupling of the Dirichlet potential (eq. 13).
    CHECK(c.mc_source == doctest::Approx(c.source).epsilon(0.03));
    CHECK(c.dirichlet.coupling == doctest::Approx(c.coupling).epsilon(0.05));
    // Green's identity for the two free-space potentials: the weighted one has Laplacian s on Omega (so its
    // flux - coupling is R again, another split), eq. 10 as written has Laplacian p_Omega s.
    CHECK(c.weighted.boundary_flux - c.weighted.coupling == doctest::Approx(c.source).epsilon(0.05));
    CHECK(c.quadrature.boundary_flux - c.quadrature.coupling == doctest::Approx(c.source_density_weighted).epsilon(0.1));
    if (std::string(corruption) == "noise:0.1") {
      append(report, "\n[poisson grid check] n=%lld h=%.5f mass Z=%.6f\n", static_cast<long long>(c.n), c.h, c.mass);
      append(report, "  grid (Dirichlet): R=%.6f flux=%.6f coupling=%.6f flux-coupling=%.6f residual=%.2e\n",
                  c.source, c.flux, c.coupling, c.flux - c.coupling, c.residual);
      append(report, "  integral p_Omega^2 s = %.6f\n", c.source_density_weighted);
      append(report, "  Monte Carlo (%lld samples, M=%lld): E[s]=%.6f\n", static_cast<long long>(c.samples),
                  static_cast<long long>(o.quadrature_points), c.mc_source);
      auto row = [&](const char* name, const PotentialTerms& t) {
        append(report, "  %-10s boundary_flux=%9.6f coupling=%9.6f flux-coupling=%9.6f\n", name, t.boundary_flux,
                    t.coupling, t.boundary_flux - t.coupling);
      };
      row("dirichlet", c.dirichlet);
      row("quadrature", c.quadrature);
      row("weighted", c.weighted);
    }
    append(report, "  %-11s proxy(eq.7): dirichlet=%9.6f quadrature=%9.6f weighted=%9.6f | L_Pois(eq.9) with "
                "eq.10: %9.6f | inside: %lld/%lld",
                corruption, c.dirichlet.flux_proxy, c.quadrature.flux_proxy, c.weighted.flux_proxy,
                c.quadrature.loss(), static_cast<long long>(c.proxy_samples), static_cast<long long>(c.samples));
    if (std::string(corruption).rfind("noise:", 0) == 0) {
      const double k = noise_factor(parse_corruption(corruption).amount);
      append(report, " | small-noise limit: dirichlet/weighted %.6f, quadrature %.6f", k * c.source,
                  k * c.source_density_weighted);
    }
    append(report, "\n");
  }
  MESSAGE(report);
}
