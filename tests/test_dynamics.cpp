// The latent vector field toolkit (dynamics/) on maps whose dynamics are known in closed form: iteration of a
// linear contraction (eq. 3, appendix D's stopping rule), Proposition 3.2's iteration count, spectral norms,
// eigenvalues and Definition 2, attractor merging, basins and Chamfer similarity on a two-well gradient flow.
#include <algorithm>
#include <cmath>
#include <complex>
#include <set>

#include "dynamics/attractors.h"
#include "dynamics/spectrum.h"
#include "tests/helpers.h"

using namespace gg;

namespace {

// Row-vector form of z -> A z: [m, k] @ A^T.
LatentMap linear_map(const std::vector<double>& a, int64_t k) {
  const Tensor m = Tensor::from_data(a, {k, k}, DType::f64);
  return [m](const Tensor& z) { return matmul(z, m, false, true); };
}

// A = Q diag(0.9, 0.5, 0.2) Q^T with Q a rotation: symmetric, spectral norm = spectral radius = 0.9, and the
// slowest direction u1 = Q e1.
const double kTheta = 0.7, kPhi = -0.4;
std::vector<double> q_matrix() {
  const double c = std::cos(kTheta), s = std::sin(kTheta), c2 = std::cos(kPhi), s2 = std::sin(kPhi);
  // Rotation in the (0,1) plane, then in the (1,2) plane.
  const double r1[9] = {c, -s, 0, s, c, 0, 0, 0, 1};
  const double r2[9] = {1, 0, 0, 0, c2, -s2, 0, s2, c2};
  std::vector<double> q(9, 0.0);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      for (int l = 0; l < 3; ++l) q[size_t(i * 3 + j)] += r2[i * 3 + l] * r1[l * 3 + j];
  return q;
}
std::vector<double> symmetric_a() {
  const std::vector<double> q = q_matrix();
  const double lambda[3] = {0.9, 0.5, 0.2};
  std::vector<double> a(9, 0.0);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      for (int l = 0; l < 3; ++l)
        a[size_t(i * 3 + j)] += q[size_t(i * 3 + l)] * lambda[l] * q[size_t(j * 3 + l)];
  return a;
}
std::vector<double> top_eigenvector() {
  const std::vector<double> q = q_matrix();
  return {q[0], q[3], q[6]};
}

// Gradient flow on the two-well potential V(x, y) = (x^2 - 1)^2 / 4 + 0.5 y^2, one Euler step of size h:
// f(x, y) = (x - h (x^3 - x), (1 - h) y). Fixed points (+-1, 0) with J = diag(1 - 2h, 1 - h) (attractors) and
// (0, 0) with J = diag(1 + h, 1 - h) (a saddle).
const double kStep = 0.1;
LatentMap two_wells() {
  return [](const Tensor& z) {
    const Tensor x = slice(z, 1, 0, 1), y = slice(z, 1, 1, 2);
    return concat({x - (x * x * x - x) * kStep, y * (1 - kStep)}, 1);
  };
}

double norm_of_row(const std::vector<double>& v, int64_t i, int64_t k) {
  double s = 0;
  for (int64_t c = 0; c < k; ++c) s += v[size_t(i * k + c)] * v[size_t(i * k + c)];
  return std::sqrt(s);
}

}  // namespace

TEST_CASE("iterate: a linear contraction converges to its fixed point 0, each sample stopping on its own") {
  const LatentMap f = linear_map(symmetric_a(), 3);
  const Tensor z0 = test::input({7, 3}, 11, -5, 5).detach();
  const Trajectories t = iterate(f, z0);
  REQUIRE(t.size() == 7);
  CHECK(t.final.shape() == Shape{7, 3});
  CHECK(t.num_converged() == 7);
  const std::vector<double> fin = t.final.to_vector();
  std::set<int64_t> counts;
  for (int64_t i = 0; i < 7; ++i) {
    CHECK(t.converged(i));
    CHECK(t.last_step_sq[size_t(i)] < 1e-6);
    // ||z_{t+1} - z_t|| >= (1 - 0.9) ||z_t|| for this A, and z_{t+1} = A z_t: at the stop ||z|| < 0.9 * 1e-3
    // / 0.1.
    CHECK(norm_of_row(fin, i, 3) < 0.9 * std::sqrt(1e-6) / 0.1);
    counts.insert(t.iterations[size_t(i)]);
  }
  CHECK(counts.size() > 1);  // samples stop independently

  SUBCASE("the cap stops every sample, unconverged") {
    IterateOptions o;
    o.max_iters = 5;
    const Trajectories c = iterate(f, z0, o);
    CHECK(c.num_converged() == 0);
    for (int64_t i = 0; i < 7; ++i) {
      CHECK(c.iterations[size_t(i)] == 5);
      CHECK(c.outcome[size_t(i)] == IterOutcome::max_iters);
    }
    // Five applications of A, exactly.
    Tensor z = z0;
    for (int s = 0; s < 5; ++s) z = f(z);
    CHECK(test::max_abs_diff(c.final, z) < 1e-12);
  }
  SUBCASE("batching changes nothing; paths and visits cover every iterate") {
    IterateOptions o;
    o.batch_size = 3;
    o.record_every = 4;
    std::vector<std::vector<int64_t>> seen(7);
    const Trajectories b = iterate(
        f, z0, o, [&](const std::vector<int64_t>& samples, int64_t step, const std::vector<double>& z) {
          REQUIRE(z.size() == samples.size() * 3);
          for (int64_t s : samples) seen[size_t(s)].push_back(step);
        });
    CHECK(test::max_abs_diff(b.final, t.final) < 1e-12);
    CHECK(b.iterations == t.iterations);
    for (int64_t i = 0; i < 7; ++i) {
      const int64_t n = t.iterations[size_t(i)];
      REQUIRE(seen[size_t(i)].size() == size_t(n + 1));
      for (int64_t s = 0; s <= n; ++s) CHECK(seen[size_t(i)][size_t(s)] == s);
      const Tensor p = b.path(i);
      const auto& steps = b.paths[size_t(i)].steps;
      CHECK(steps.front() == 0);
      CHECK(steps.back() == n);
      CHECK(p.size(0) == int64_t(steps.size()));
      for (size_t s = 1; s + 1 < steps.size(); ++s) CHECK(steps[s] % 4 == 0);
      CHECK(test::max_abs_diff(slice(p, 0, 0, 1), slice(z0, 0, i, i + 1)) == 0);
      CHECK(test::max_abs_diff(slice(p, 0, p.size(0) - 1, p.size(0)), slice(b.final, 0, i, i + 1)) == 0);
    }
  }
  SUBCASE("progress counts every sample once as it finishes, batch by batch, capped ones included") {
    for (int64_t cap : {int64_t(3000), int64_t(5)}) {
      IterateOptions o;
      o.batch_size = 3;
      o.max_iters = cap;
      std::vector<int64_t> finished;
      o.progress = [&](int64_t done, int64_t total, int64_t step) {
        CHECK(total == 7);
        CHECK((step >= 1 && step <= cap));
        finished.push_back(done);
      };
      const Trajectories p = iterate(f, z0, o);
      REQUIRE(!finished.empty());
      CHECK(std::is_sorted(finished.begin(), finished.end()));
      CHECK(finished.back() == 7);
      // Each step of a batch reports once: as many calls as the batches' longest trajectories together.
      int64_t steps = 0;
      for (int64_t b0 = 0; b0 < 7; b0 += 3) {
        int64_t longest = 0;
        for (int64_t i = b0; i < std::min<int64_t>(7, b0 + 3); ++i)
          longest = std::max(longest, p.iterations[size_t(i)]);
        steps += longest + (longest == cap);  // a batch stopped by the cap reports once more
      }
      CHECK(int64_t(finished.size()) == steps);
      CHECK(!p.options.progress);  // the callback is the caller's, not kept in the result
    }
  }
  SUBCASE("an expanding map diverges to Inf and is flagged") {
    const Tensor big = Tensor::from_data({1e200, 1e200}, {1, 2}, DType::f64);
    const Trajectories d = iterate([](const Tensor& z) { return z * z; }, big);
    CHECK(d.outcome[0] == IterOutcome::diverged);
    CHECK(std::isfinite(d.final.to_vector()[0]));
  }
  SUBCASE("appendix D's defaults and the foundation-model preset") {
    const IterateOptions d;
    CHECK(d.tol == 1e-6);
    CHECK(d.max_iters == 3000);
    CHECK(IterateOptions::foundation().tol == 1e-5);
    CHECK(IterateOptions::foundation().max_iters == 500);
  }
}

TEST_CASE("Proposition 3.2 predicts the iterations a linear map takes to converge") {
  const LatentMap f = linear_map(symmetric_a(), 3);
  const std::vector<double> u = top_eigenvector();
  const double rho = 0.9, tol = 1e-6;
  const double eps = tolerance_to_error(tol, rho);
  CHECK(eps == doctest::Approx(1e-2));
  // Starts on the slowest eigenvector at several distances from z* = 0.
  const std::vector<double> radii = {0.05, 0.3, 1, 2.5, 7, 20, 100, 1000};
  std::vector<double> z0;
  for (double r : radii)
    for (double c : u) z0.push_back(r * c);
  const Trajectories t = iterate(f, Tensor::from_data(z0, {int64_t(radii.size()), 3}, DType::f64));
  for (size_t i = 0; i < radii.size(); ++i) {
    const double predicted = predicted_iterations(rho, radii[i], eps);  // log(eps / e0) / log(rho)
    const double measured = double(t.iterations[i]);
    CAPTURE(radii[i]);
    CHECK(std::abs(measured - predicted) <= 2);
    // The stopping test sees ||e_t|| one application later: exactly ceil(T) + 1 on this eigenvector.
    CHECK(measured == std::ceil(predicted) + 1);
  }
  // Figure 11's analysis on the same run: rho from the Jacobian at each endpoint, near-perfect correlation.
  const ConvergenceSpeed s = convergence_speed(f, t);
  REQUIRE(s.samples.size() == radii.size());
  const std::vector<double> starts = t.start.to_vector(), ends = t.final.to_vector();
  for (size_t i = 0; i < radii.size(); ++i) {
    CHECK(s.rho[i] == doctest::Approx(0.9).epsilon(1e-12));
    double e0 = 0;  // the distance to the sample's own endpoint, the estimate of z*
    for (size_t c = 0; c < 3; ++c)
      e0 += (starts[i * 3 + c] - ends[i * 3 + c]) * (starts[i * 3 + c] - ends[i * 3 + c]);
    CHECK(s.initial_error[i] == doctest::Approx(std::sqrt(e0)).epsilon(1e-12));
    CHECK(s.predicted[i] ==
          doctest::Approx(predicted_iterations(rho, s.initial_error[i], eps)).epsilon(1e-9));
    CHECK(s.measured[i] == double(t.iterations[i]));
  }
  CHECK(s.pearson > 0.99);

  // A generic start decays faster than its slowest component: the prediction bounds the count from above.
  const Trajectories g = iterate(f, test::input({20, 3}, 3, -4, 4).detach());
  for (int64_t i = 0; i < 20; ++i) {
    const double e0 = norm_of_row(g.start.to_vector(), i, 3);
    CHECK(double(g.iterations[size_t(i)]) <= std::ceil(predicted_iterations(rho, e0, eps)) + 1);
  }
  CHECK(predicted_iterations(0.5, 1e-3, 1e-2) == 0);
  CHECK(std::isinf(predicted_iterations(1.0, 1, 1e-2)));
  CHECK(predicted_iterations(0.5, 1, 0.125) == doctest::Approx(3));
}

TEST_CASE("Spectral norm by power iteration, eigenvalues, and Definition 2 on linear maps") {
  SUBCASE("symmetric: norm = radius = 0.9") {
    const LatentMap f = linear_map(symmetric_a(), 3);
    const Tensor z = Tensor::from_data({0.3, -1, 2}, {1, 3}, DType::f64);
    CHECK(test::max_abs_diff(latent_jacobian(f, z), Tensor::from_data(symmetric_a(), {3, 3}, DType::f64)) <
          1e-12);
    const SpectralNormEstimate e = spectral_norm_power(f, z);
    CHECK(e.converged);
    CHECK(e.sigma == doctest::Approx(0.9).epsilon(1e-6));
    const std::vector<double> u = top_eigenvector();
    double align = 0;
    for (int i = 0; i < 3; ++i) align += e.right_vector[size_t(i)] * u[size_t(i)];
    CHECK(std::abs(align) == doctest::Approx(1).epsilon(1e-4));
    const auto ev = jacobian_eigenvalues(latent_jacobian(f, z));
    REQUIRE(ev.size() == 3);
    CHECK(ev[0].real() == doctest::Approx(0.9));
    CHECK(ev[1].real() == doctest::Approx(0.5));
    CHECK(ev[2].real() == doctest::Approx(0.2));
    for (const auto& l : ev) CHECK(std::abs(l.imag()) < 1e-12);
  }
  SUBCASE("non-normal: eigenvalues inside the unit circle, spectral norm above 1") {
    // A = [[0.5, 1], [0, 0.3]]: eigenvalues 0.5 and 0.3; sigma_max^2 is the largest eigenvalue of A^T A,
    // (tr + sqrt(tr^2 - 4 det)) / 2 with tr = 0.25 + 1 + 0.09 and det = (0.5 * 0.3)^2.
    const std::vector<double> a = {0.5, 1.0, 0.0, 0.3};
    const LatentMap f = linear_map(a, 2);
    const double tr = 1.34, det = 0.0225;
    const double sigma = std::sqrt((tr + std::sqrt(tr * tr - 4 * det)) / 2);
    const Tensor origin = Tensor::zeros({1, 2}, DType::f64);
    const SpectralNormEstimate e = spectral_norm_power(f, origin, {500, 1e-12, 3});
    CHECK(e.sigma == doctest::Approx(sigma).epsilon(1e-8));
    CHECK(jacobian_singular_values(latent_jacobian(f, origin))[0] == doctest::Approx(sigma).epsilon(1e-12));
    const auto fp = analyze_fixed_points(f, origin);
    REQUIRE(fp.size() == 1);
    CHECK(fp[0].residual == 0);
    CHECK(fp[0].spectral_radius == doctest::Approx(0.5));
    CHECK(fp[0].spectral_norm == doctest::Approx(sigma));
    CHECK(fp[0].is_fixed_point);
    CHECK(fp[0].is_attractor);          // Definition 2: |lambda| < 1 ...
    CHECK_FALSE(fp[0].is_contractive);  // ... although ||J|| > 1
  }
  SUBCASE("a scaled rotation: complex eigenvalues 0.8 e^{+-i theta}") {
    const double th = 0.6, r = 0.8;
    const LatentMap f =
        linear_map({r * std::cos(th), -r * std::sin(th), r * std::sin(th), r * std::cos(th)}, 2);
    const Tensor z = Tensor::from_data({1, 1}, {2}, DType::f64);
    const auto ev = jacobian_eigenvalues(latent_jacobian(f, z));
    REQUIRE(ev.size() == 2);
    CHECK(ev[0].real() == doctest::Approx(r * std::cos(th)));
    CHECK(ev[0].imag() == doctest::Approx(r * std::sin(th)));  // the positive imaginary part first
    CHECK(ev[1].imag() == doctest::Approx(-r * std::sin(th)));
    CHECK(spectral_norm_power(f, z).sigma == doctest::Approx(r).epsilon(1e-6));
  }
  CHECK(pearson_correlation({1, 2, 3, 4}, {2, 4, 6, 8}) == doctest::Approx(1));
  CHECK(pearson_correlation({1, 2, 3}, {3, 2, 1}) == doctest::Approx(-1));
  CHECK(pearson_correlation({1, 2, 3, 4}, {1, -1, -1, 1}) == doctest::Approx(0));
  CHECK(std::isnan(pearson_correlation({1, 1, 1}, {1, 2, 3})));
}

TEST_CASE(
    "Two wells: attractors merged by cosine, fixed points classified by Definition 2, basins on a grid") {
  const LatentMap f = two_wells();
  SUBCASE("attractors and their counts") {
    const Tensor z0 = Tensor::from_data({1.7, 0.3, 0.2, -0.8, -0.4, 0.1, -1.9, -0.6, 0.6, 0.9, 2.0, 0.0},
                                        {6, 2}, DType::f64);
    const Trajectories t = iterate(f, z0);
    REQUIRE(t.num_converged() == 6);
    const AttractorSet a = find_attractors(t);
    REQUIRE(a.size() == 2);
    CHECK(a.assignment == std::vector<int64_t>{0, 0, 1, 1, 0, 0});
    CHECK(a.counts == std::vector<int64_t>{4, 2});
    CHECK(a.by_count() == std::vector<int64_t>{0, 1});
    const std::vector<double> p = a.points.to_vector();
    CHECK(p[0] == doctest::Approx(1).epsilon(1e-2));
    CHECK(std::abs(p[1]) < 1e-2);
    CHECK(p[2] == doctest::Approx(-1).epsilon(1e-2));

    const auto fp = analyze_fixed_points(f, Tensor::from_data({1, 0, -1, 0, 0, 0}, {3, 2}, DType::f64));
    for (int i = 0; i < 2; ++i) {
      CHECK(fp[size_t(i)].is_attractor);
      CHECK(fp[size_t(i)].eigenvalues[0].real() == doctest::Approx(0.9));  // 1 - h
      CHECK(fp[size_t(i)].eigenvalues[1].real() == doctest::Approx(0.8));  // 1 - 2h
      CHECK(fp[size_t(i)].spectral_norm == doctest::Approx(0.9));
    }
    CHECK(fp[2].is_fixed_point);
    CHECK_FALSE(fp[2].is_attractor);  // the saddle: eigenvalue 1 + h
    CHECK(fp[2].spectral_radius == doctest::Approx(1.1));
    // A start on the saddle's stable manifold x = 0 converges to it: an endpoint that is no attractor.
    const Trajectories s = iterate(f, Tensor::from_data({0, 0.5}, {1, 2}, DType::f64));
    REQUIRE(s.converged(0));
    CHECK_FALSE(analyze_fixed_points(f, s.final)[0].is_attractor);
  }
  SUBCASE("the merge rule: cosine 0.99, an optional distance, and zero vectors") {
    const Tensor pts = Tensor::from_data({1, 0, 2, 0.01, 0, 0, 0, 0, 0.5, 0.5}, {5, 2}, DType::f64);
    const AttractorSet byCos = find_attractors(pts);
    CHECK(byCos.assignment == std::vector<int64_t>{0, 0, 1, 1, 2});  // (1,0) ~ (2,0.01); the zeros are one
    AttractorMerge dist;
    dist.cos_threshold = 2;  // off
    dist.distance_threshold = 0.5;
    CHECK(find_attractors(pts, {}, dist).assignment == std::vector<int64_t>{0, 1, 2, 2, 3});
    CHECK(find_attractors(pts, {true, false, true, true, false}).assignment ==
          std::vector<int64_t>{0, -1, 1, 1, -1});
    CHECK(match_attractors(Tensor::from_data({3, 0.02, -1, 0, 0.7, 0.71}, {3, 2}, DType::f64),
                           byCos.points) == std::vector<int64_t>{0, -1, 2});
    CHECK(cosine_similarity(std::vector<double>{1, 0}.data(), std::vector<double>{0, 0}.data(), 2) == 0);
  }
  SUBCASE("basins of attraction: the sign of x") {
    Grid2d g;
    g.x_min = -2, g.x_max = 2, g.y_min = -1, g.y_max = 1, g.nx = 8, g.ny = 4;
    const Tensor centres = g.points();
    CHECK(centres.at({0, 0}) == doctest::Approx(-1.75));
    CHECK(centres.at({0, 1}) == doctest::Approx(-0.75));
    CHECK(centres.at({9, 0}) == doctest::Approx(-1.25));  // row j = 1, column i = 1
    CHECK(centres.at({9, 1}) == doctest::Approx(-0.25));
    const Basins b = basins_of_attraction(f, g);
    REQUIRE(b.attractors.size() == 2);
    REQUIRE(b.labels().size() == 32);
    const int64_t left = b.labels()[0];
    for (int64_t j = 0; j < 4; ++j)
      for (int64_t i = 0; i < 8; ++i) CHECK(b.labels()[size_t(j * 8 + i)] == (i < 4 ? left : 1 - left));
    CHECK(b.attractors.counts == std::vector<int64_t>{16, 16});
    // The field of eq. 4 on the same grid, f(z) - z = (-h (x^3 - x), -h y).
    const FieldSample s = sample_field(f, g);
    for (int64_t p = 0; p < 32; ++p) {
      const double x = centres.at({p, 0}), y = centres.at({p, 1});
      CHECK(s.vectors.at({p, 0}) == doctest::Approx(-kStep * (x * x * x - x)));
      CHECK(s.vectors.at({p, 1}) == doctest::Approx(-kStep * y));
      CHECK(s.norms[size_t(p)] == doctest::Approx(std::hypot(kStep * (x * x * x - x), kStep * y)));
    }
  }
}

TEST_CASE("Chamfer similarity of attractor sets on small hand cases") {
  const Tensor a = Tensor::from_data({1, 0}, {1, 2}, DType::f64);
  const Tensor b = Tensor::from_data({2, 0, 0, 3}, {2, 2}, DType::f64);
  // a -> b: best cosine 1; b -> a: 1 and 0, mean 0.5; C = (1 + 0.5) / 2.
  CHECK(chamfer_similarity(a, b) == doctest::Approx(0.75));
  CHECK(chamfer_similarity(b, a) == doctest::Approx(0.75));
  CHECK(chamfer_similarity(b, b) == doctest::Approx(1));
  const Tensor c = Tensor::from_data({1, 0, 0, 2}, {2, 2}, DType::f64),
               d = Tensor::from_data({1, 1}, {1, 2}, DType::f64);
  CHECK(chamfer_similarity(c, d) == doctest::Approx(std::sqrt(0.5)));
  const Tensor e = Tensor::from_data({-1, 0}, {1, 2}, DType::f64);
  CHECK(chamfer_similarity(a, e) == doctest::Approx(-1));
  CHECK_THROWS_AS(chamfer_similarity(a, Tensor::zeros({0, 2}, DType::f64)), Error);
}
