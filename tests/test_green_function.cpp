// Green's function of the Poisson-potential regularizer (paper 000, regularizers/poisson.h) against the
// defining properties of a fundamental solution: harmonic away from the source, unit flux round it, the
// Monte-Carlo potential (eq. 10) against closed forms, and its gradients against finite differences.
#include <doctest/doctest.h>

#include <cmath>
#include <numbers>

#include "regularizers/poisson.h"
#include "tests/helpers.h"

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

