// Toy sets: each lies on the curve its name promises, draws are fixed by the seed, noise has the asked spread,
// and the Gaussian mixture's density and score are exact.
#include <set>

#include "datasets/toy.h"
#include "tests/helpers.h"

using namespace gg;

namespace {
std::vector<double> points(const Dataset& d) { return d.x.to_vector(); }
}  // namespace

TEST_CASE("toy sets: seeded, sized, labelled, and different seeds give different draws") {
  for (const auto& name : toy_registry().names()) {
    CAPTURE(name);
    const Dataset a = make_toy_set(name, {300, 0.1, 7}), b = make_toy_set(name, {300, 0.1, 7}),
                  c = make_toy_set(name, {300, 0.1, 8});
    CHECK(a.size() == 300);
    CHECK(a.x.dtype() == DType::f32);
    CHECK(a.x.size(1) == (name == "swiss-roll-3d" ? 3 : 2));
    CHECK(points(a) == points(b));
    CHECK(points(a) != points(c));
    CHECK(a.labels.size() == (a.num_classes > 0 ? 300u : 0u));
    for (int32_t l : a.labels) CHECK((l >= 0 && l < a.num_classes));
  }
  CHECK_THROWS_WITH_AS(make_toy_set("moons", {}), doctest::Contains("known: banana"), Error);
  CHECK_THROWS_WITH_AS(two_moons({0, 0.1, 0}), doctest::Contains("n must be positive"), Error);
}

TEST_CASE("toy sets without noise lie on their curves") {
  const ToyOptions clean{400, 0.0, 3};
  {
    const Dataset d = two_moons(clean);
    const auto p = points(d);
    for (int64_t i = 0; i < d.size(); ++i) {
      const double x = p[2 * i], y = p[2 * i + 1];
      if (d.labels[i] == 0) {
        CHECK(std::hypot(x, y) == doctest::Approx(1).epsilon(1e-5));
        CHECK(y >= -1e-6);
      } else {
        CHECK(std::hypot(x - 1, y - 0.5) == doctest::Approx(1).epsilon(1e-5));
        CHECK(y <= 0.5 + 1e-6);
      }
    }
  }
  {
    const Dataset d = rings(clean);
    const auto p = points(d);
    for (int64_t i = 0; i < d.size(); ++i)
      CHECK(std::hypot(p[2 * i], p[2 * i + 1]) == doctest::Approx(d.labels[i] ? 0.5 : 1.0).epsilon(1e-5));
  }
  {
    // r = theta / (3 pi) with the point at angle theta (arm 0) or theta + pi (arm 1).
    const Dataset d = spiral(clean);
    const auto p = points(d);
    for (int64_t i = 0; i < d.size(); ++i) {
      const double x = p[2 * i], y = p[2 * i + 1], r = std::hypot(x, y), theta = 3 * M_PI * r;
      const double phase = d.labels[i] ? M_PI : 0.0;
      CHECK(x == doctest::Approx(r * std::cos(theta + phase)).epsilon(1e-3));
      CHECK(y == doctest::Approx(r * std::sin(theta + phase)).epsilon(1e-3));
    }
  }
  {
    const Dataset d = swiss_roll_3d(clean);
    const auto p = points(d);
    for (int64_t i = 0; i < d.size(); ++i) {
      const double r = std::hypot(p[3 * i], p[3 * i + 2]);
      CHECK((r >= 1.0 / 3 - 1e-5 && r <= 1 + 1e-5));
      CHECK((p[3 * i + 1] >= 0 && p[3 * i + 1] < 1));
    }
  }
}

TEST_CASE("toy noise is isotropic Gaussian with the asked spread, on top of the same clean points") {
  const Dataset clean = two_moons({20000, 0.0, 5}), noisy = two_moons({20000, 0.2, 5});
  const auto a = points(clean), b = points(noisy);
  double s = 0, ss = 0;
  for (size_t i = 0; i < a.size(); ++i) s += b[i] - a[i], ss += (b[i] - a[i]) * (b[i] - a[i]);
  const double n = static_cast<double>(a.size()), m = s / n;
  CHECK(std::abs(m) < 0.01);
  CHECK(std::sqrt(ss / n - m * m) == doctest::Approx(0.2).epsilon(0.02));
}

TEST_CASE("banana: x1 standard normal, x2 a parabola in x1 with spread 0.5") {
  const auto p = points(banana({20000, 0.0, 1}));
  double m1 = 0, v1 = 0, r = 0, rr = 0;
  const double n = p.size() / 2.0;
  for (size_t i = 0; i < p.size(); i += 2) {
    const double x1 = p[i], res = p[i + 1] - (0.5 * x1 * x1 - 1);
    m1 += x1, v1 += x1 * x1, r += res, rr += res * res;
  }
  CHECK(std::abs(m1 / n) < 0.03);
  CHECK(v1 / n == doctest::Approx(1).epsilon(0.05));
  CHECK(std::abs(r / n) < 0.02);
  CHECK(std::sqrt(rr / n) == doctest::Approx(0.5).epsilon(0.03));
}

TEST_CASE("Gaussian mixture: samples follow the components, density integrates to 1, score is its gradient") {
  const GaussianMixture g = default_gaussian_mixture();
  const Dataset d = g.sample(40000, 11);
  // Component frequencies and means.
  std::vector<double> count(4, 0), sx(4, 0), sy(4, 0);
  const auto p = points(d);
  for (int64_t i = 0; i < d.size(); ++i) {
    const int k = d.labels[i];
    count[k] += 1, sx[k] += p[2 * i], sy[k] += p[2 * i + 1];
  }
  for (int k = 0; k < 4; ++k) {
    CHECK(count[k] / d.size() == doctest::Approx(g.weights[k]).epsilon(0.05));
    CHECK(sx[k] / count[k] == doctest::Approx(g.means[k][0]).epsilon(0.03));
    CHECK(sy[k] / count[k] == doctest::Approx(g.means[k][1]).epsilon(0.03));
  }
  // The density on a fine grid over [-4, 4]^2 sums to 1 (midpoint rule).
  const int64_t side = 400;
  const double h = 8.0 / side;
  std::vector<double> grid;
  for (int64_t i = 0; i < side; ++i)
    for (int64_t j = 0; j < side; ++j) grid.push_back(-4 + h * (i + 0.5)), grid.push_back(-4 + h * (j + 0.5));
  const Tensor log_p = g.log_density(Tensor::from_data(grid, {side * side, 2}, DType::f64));
  CHECK(sum(exp(log_p)).item() * h * h == doctest::Approx(1).epsilon(1e-4));
  // The closed-form score equals the engine's gradient of the log density, and finite differences.
  const Tensor x = test::input({16, 2}, 3, -2, 2);
  const Tensor autodiff = grad(std::vector<Tensor>{sum(g.log_density(x))}, std::vector<Tensor>{x})[0];
  CHECK(test::max_abs_diff(g.score(x), autodiff) < 1e-10);
  const auto xv = x.to_vector();
  const auto sv = g.score(x).to_vector();
  const double e = 1e-6;
  for (int j = 0; j < 2; ++j) {
    auto up = xv, dn = xv;
    up[j] += e, dn[j] -= e;
    const double fd = (g.log_density(Tensor::from_data(up, {16, 2}, DType::f64)).at({0}) -
                       g.log_density(Tensor::from_data(dn, {16, 2}, DType::f64)).at({0})) / (2 * e);
    CHECK(sv[j] == doctest::Approx(fd).epsilon(1e-6));
  }
}

TEST_CASE("Gaussian mixture: a bad specification names the component and the problem") {
  GaussianMixture g = default_gaussian_mixture();
  g.covariances[2] = {1, 2, 2, 1};  // symmetric, eigenvalues 3 and -1
  CHECK_THROWS_WITH_AS(g.sample(10, 0), doctest::Contains("component 2: covariance is not positive definite"), Error);
  g = default_gaussian_mixture();
  g.weights[0] = 0.5;
  CHECK_THROWS_WITH_AS(g.validate(), doctest::Contains("weights sum to"), Error);
  CHECK_THROWS_WITH_AS(default_gaussian_mixture().score(Tensor::zeros({3, 3})),
                       doctest::Contains("expected points of shape [N, 2], got [3,3]"), Error);
}
