// The fused primitive behind eq. 10 (regularizers/green_quadrature.cpp): its forward and its fused backward
// against eq. 10 written out with green_function / green_gradient (ordinary ops, differentiated by the
// engine), finite differences to the second order, batched cotangents, and the same numbers on any thread
// count.
#include <doctest/doctest.h>

#include <cmath>

#include "engine/threads.h"
#include "regularizers/poisson.h"
#include "tests/helpers.h"

using namespace gg;

namespace {

// Eq. 10 in ordinary ops, packed as [v | grad v]: [N, k + 1].
Tensor written_out(const Tensor& z, const Tensor& y, const Tensor& s, double eps) {
  const int64_t n = z.size(0), m = y.size(0), k = z.size(1);
  const Tensor v = matmul(green_function(z, y, eps), reshape(s, {m, 1})) / static_cast<double>(m);
  const Tensor g = sum(green_gradient(z, y, eps) * reshape(s, {1, m, 1}), {1}) / static_cast<double>(m);
  return concat({reshape(v, {n, 1}), g}, 1);
}

Tensor fused(const Tensor& z, const Tensor& y, const Tensor& s, double eps,
             const std::vector<int64_t>& self = {}) {
  const GreenQuadrature q = green_quadrature(z, y, s, eps, true, self);
  return concat({reshape(q.v, {z.size(0), 1}), q.grad}, 1);
}

// written_out with the self pairs' terms taken out of grad v, by a [N, M, 1] mask; v keeps them at r = 0.
Tensor written_out_without(const Tensor& z, const Tensor& y, const Tensor& s, double eps,
                           const std::vector<int64_t>& self) {
  const int64_t n = z.size(0), m = y.size(0), k = z.size(1);
  std::vector<double> keep(static_cast<size_t>(n * m), 1.0);
  for (int64_t i = 0; i < n; ++i)
    if (self[static_cast<size_t>(i)] >= 0)
      keep[static_cast<size_t>(i * m + self[static_cast<size_t>(i)])] = 0;
  const Tensor mask = Tensor::from_data(keep, {n, m, 1}, z.dtype());
  const Tensor at_zero =
      green_function(Tensor::zeros({1, k}, z.dtype()), Tensor::zeros({1, k}, z.dtype()), eps);
  const Tensor kernel = where(reshape(mask, {n, m}), green_function(z, y, eps), at_zero);
  const Tensor v = matmul(kernel, reshape(s, {m, 1})) / static_cast<double>(m);
  const Tensor g =
      sum(green_gradient(z, y, eps) * mask * reshape(s, {1, m, 1}), {1}) / static_cast<double>(m);
  return concat({reshape(v, {n, 1}), g}, 1);
}

}  // namespace

TEST_CASE("green_quadrature: the fused pass equals eq. 10 written out, value and gradient, for k = 1..10") {
  for (int64_t k : {1, 2, 3, 4, 5, 10}) {  // k <= 8 integer powers, k = 10 exp/log
    CAPTURE(k);
    const Tensor z = test::input({7, k}, 11, -1, 1);
    const Tensor y = test::input({5, k}, 12, -1, 1);
    const Tensor s = test::input({5}, 13, 0.1, 2);
    for (double eps : {0.3, 1e-2}) {
      CAPTURE(eps);
      const Tensor a = fused(z, y, s, eps), b = written_out(z, y, s, eps);
      const double size = max(abs(b)).item();
      CHECK(test::max_abs_diff(a, b) < 1e-12 * size);
      // The fused backward against the engine's gradient of the written-out form, for one cotangent.
      const Tensor w = test::input({7, k + 1}, 14).detach();
      const std::vector<Tensor> ga = grad({sum(a * w)}, {z, y, s});
      const std::vector<Tensor> gb = grad({sum(b * w)}, {z, y, s});
      for (size_t i = 0; i < 3; ++i) {
        CAPTURE(i);
        CHECK(test::max_abs_diff(ga[i], gb[i]) < 1e-11 * std::max(1.0, max(abs(gb[i])).item()));
      }
    }
  }
}

TEST_CASE("green_quadrature: gradcheck and gradgradcheck in f64 through the fused levels") {
  for (int64_t k : {1, 2, 3}) {
    CAPTURE(k);
    const Tensor z = test::input({4, k}, 21, -1, 1);
    const Tensor y = test::input({3, k}, 22, -1, 1);
    const Tensor s = test::input({3}, 23, 0.1, 2);
    const Function f = [](const std::vector<Tensor>& in) { return fused(in[0], in[1], in[2], 0.2); };
    const auto first = gradcheck(f, {z, y, s});
    CHECK_MESSAGE(first.ok, first.message);
    const auto second = gradgradcheck(f, {z, y, s});  // the rule of the fused backward: its composite
    CHECK_MESSAGE(second.ok, second.message);
  }
}

TEST_CASE("green_quadrature: partial derivatives stay partial when the sources are computed from the codes") {
  // In the Poisson step s_phi is computed through the quadrature codes' own graph. The fused backward's rule
  // must still give the partial derivative in each input; a total derivative would count the path s -> y
  // twice, and the second-order check through the composition would fail.
  const Tensor z = test::input({4, 2}, 31, -1, 1);
  const Tensor y = test::input({3, 2}, 32, -1, 1);
  const Function f = [](const std::vector<Tensor>& in) {
    const Tensor s = sum(square(in[1]), {1}) + 0.5;  // depends on y
    return fused(in[0], in[1], s, 0.2);
  };
  const auto first = gradcheck(f, {z, y});
  CHECK_MESSAGE(first.ok, first.message);
  const auto second = gradgradcheck(f, {z, y});
  CHECK_MESSAGE(second.ok, second.message);
}

TEST_CASE("green_quadrature: a batch of cotangents gives each cotangent's vector-Jacobian product") {
  const Tensor z = test::input({6, 3}, 41, -1, 1);
  const Tensor y = test::input({5, 3}, 42, -1, 1);
  const Tensor s = test::input({5}, 43, 0.1, 2);
  const Tensor out = fused(z, y, s, 0.1);
  const Tensor u = test::input({2, 3, 6, 4}, 44).detach();  // two lead axes
  GradOptions o;
  o.batch_axes = 2;
  o.retain_graph = true;
  const std::vector<Tensor> batched = grad({out}, {z, y, s}, {u}, o);
  CHECK(batched[0].shape() == Shape{2, 3, 6, 3});
  CHECK(batched[2].shape() == Shape{2, 3, 5});
  for (int64_t a = 0; a < 2; ++a)
    for (int64_t b = 0; b < 3; ++b) {
      GradOptions keep;
      keep.retain_graph = true;
      const Tensor ub = reshape(slice(slice(u, 0, a, a + 1), 1, b, b + 1), {6, 4});
      const std::vector<Tensor> one = grad({out}, {z, y, s}, {ub}, keep);
      for (size_t i = 0; i < 3; ++i) {
        const Tensor part = reshape(slice(slice(batched[i], 0, a, a + 1), 1, b, b + 1), one[i].shape());
        CHECK(test::max_abs_diff(part, one[i]) < 1e-14);
      }
    }
}

TEST_CASE("green_quadrature: grad v alone (no v) equals the full pass, and its backward the written-out one") {
  // Without v, widths up to 4 take the fixed-width loops of the forward and of the backward (whose cotangent
  // then has no part on v); k = 5 and 10 keep the array passes.
  for (int64_t k : {1, 2, 3, 4, 5, 10}) {
    CAPTURE(k);
    const Tensor z = test::input({9, k}, 15, -1, 1);
    const Tensor y = test::input({7, k}, 16, -1, 1);
    const Tensor s = test::input({7}, 17, 0.1, 2);
    for (double eps : {0.3, 1e-2}) {
      CAPTURE(eps);
      const GreenQuadrature alone = green_quadrature(z, y, s, eps, /*with_value=*/false);
      CHECK(!alone.v.defined());
      const Tensor full = written_out(z, y, s, eps);
      const Tensor b = slice(full, 1, 1, k + 1);
      CHECK(test::max_abs_diff(alone.grad, b) < 1e-12 * max(abs(b)).item());
      const Tensor w = test::input({9, k}, 18).detach();
      const std::vector<Tensor> ga = grad({sum(alone.grad * w)}, {z, y, s});
      const std::vector<Tensor> gb = grad({sum(b * w)}, {z, y, s});
      for (size_t i = 0; i < 3; ++i) {
        CAPTURE(i);
        CHECK(test::max_abs_diff(ga[i], gb[i]) < 1e-11 * std::max(1.0, max(abs(gb[i])).item()));
      }
    }
  }
}

TEST_CASE("green_quadrature: gradcheck and gradgradcheck in f64 of grad v alone") {
  for (int64_t k : {1, 2, 3, 4, 5}) {
    CAPTURE(k);
    const Tensor z = test::input({4, k}, 24, -1, 1);
    const Tensor y = test::input({3, k}, 25, -1, 1);
    const Tensor s = test::input({3}, 26, 0.1, 2);
    const Function f = [](const std::vector<Tensor>& in) {
      return green_quadrature(in[0], in[1], in[2], 0.2, /*with_value=*/false).grad;
    };
    const auto first = gradcheck(f, {z, y, s});
    CHECK_MESSAGE(first.ok, first.message);
    const auto second = gradgradcheck(f, {z, y, s});
    CHECK_MESSAGE(second.ok, second.message);
  }
}

TEST_CASE("green_quadrature: the same numbers on one thread and on several, in f32") {
  Generator gen(5);
  const Tensor z = Tensor::randn({300, 2}, gen).requires_grad_();  // large enough for a parallel region
  const Tensor y = Tensor::randn({280, 2}, gen).requires_grad_();
  const Tensor s = Tensor::rand({280}, gen).requires_grad_();
  const Tensor w = Tensor::randn({300, 3}, gen);
  const int before = num_threads();
  auto run = [&](int threads) {
    set_num_threads(threads);
    const Tensor out = fused(z, y, s, 1e-2);
    std::vector<Tensor> all = grad({sum(out * w)}, {z, y, s});
    const Tensor alone = green_quadrature(z, y, s, 1e-2, /*with_value=*/false).grad;  // the fixed-width loops
    for (const Tensor& g : grad({sum(alone * slice(w, 1, 1, 3))}, {z, y, s})) all.push_back(g);
    all.push_back(alone);
    all.push_back(out);
    return all;
  };
  const std::vector<Tensor> one = run(1), two = run(2);
  set_num_threads(before);
  for (size_t i = 0; i < one.size(); ++i) CHECK(test::max_abs_diff(one[i], two[i]) == 0.0);
  // f32 against f64 on the same points.
  const Tensor ref =
      fused(z.detach().to(DType::f64), y.detach().to(DType::f64), s.detach().to(DType::f64), 1e-2);
  CHECK(test::max_abs_diff(one.back().to(DType::f64), ref) < 1e-4 * max(abs(ref)).item());
}

TEST_CASE("green_quadrature: mismatched inputs are refused by name") {
  const Tensor z = test::input({4, 2}, 51), y = test::input({3, 2}, 52);
  CHECK_THROWS_WITH(green_quadrature(z, y, test::input({4}, 53), 0.1),
                    doctest::Contains("green_quadrature: expected sources [3]"));
  CHECK_THROWS_WITH(green_quadrature(z, test::input({3, 3}, 54), test::input({3}, 53), 0.1),
                    doctest::Contains("green_quadrature: expected codes [N, m] and [M, m]"));
  CHECK_THROWS_WITH(green_quadrature(z, y, test::input({3}, 53).detach().to(DType::f32), 0.1),
                    doctest::Contains("differ in dtype"));
  CHECK_THROWS_WITH(green_quadrature(z, y, test::input({3}, 53), -1.0),
                    doctest::Contains("eps must be >= 0"));
}

TEST_CASE("green_quadrature: a self pair's term leaves grad v and its derivatives, and v keeps it") {
  const std::vector<int64_t> self = {-1, 2, 0, -1, 3};  // rows 1, 2, 4 are quadrature points 2, 0, 3
  for (int64_t k : {1, 2, 3, 5, 10}) {                  // fixed-width loops (k <= 4) and the general ones
    CAPTURE(k);
    const Tensor z = test::input({5, k}, 31, -1, 1);
    const Tensor y = test::input({4, k}, 32, -1, 1);
    const Tensor s = test::input({4}, 33, 0.1, 2);
    const Tensor a = fused(z, y, s, 0.3, self), b = written_out_without(z, y, s, 0.3, self);
    CHECK(test::max_abs_diff(a, b) < 1e-12 * max(abs(b)).item());
    CHECK(test::max_abs_diff(a, fused(z, y, s, 0.3)) > 1e-3 * max(abs(b)).item());  // the pairs did count
    const Tensor alone = green_quadrature(z, y, s, 0.3, /*with_value=*/false, self).grad;
    CHECK(test::max_abs_diff(alone, slice(b, 1, 1, k + 1)) < 1e-12 * max(abs(b)).item());
    const Tensor w = test::input({5, k + 1}, 34).detach();
    const std::vector<Tensor> ga = grad({sum(a * w)}, {z, y, s});
    const std::vector<Tensor> gb = grad({sum(b * w)}, {z, y, s}, {}, {.retain_graph = true});
    const std::vector<Tensor> gc = grad({sum(alone * slice(w, 1, 1, k + 1))}, {z, y, s});
    const std::vector<Tensor> gd = grad({sum(slice(b, 1, 1, k + 1) * slice(w, 1, 1, k + 1))}, {z, y, s});
    for (size_t i = 0; i < 3; ++i) {
      CAPTURE(i);
      CHECK(test::max_abs_diff(ga[i], gb[i]) < 1e-11 * std::max(1.0, max(abs(gb[i])).item()));
      CHECK(test::max_abs_diff(gc[i], gd[i]) < 1e-11 * std::max(1.0, max(abs(gd[i])).item()));
    }
  }
}

TEST_CASE("green_quadrature: gradcheck and gradgradcheck in f64 with self pairs") {
  const std::vector<int64_t> self = {1, -1, 0, 2};
  for (int64_t k : {2, 5}) {
    for (bool with_value : {true, false}) {
      CAPTURE(k);
      CAPTURE(with_value);
      const Tensor z = test::input({4, k}, 41, -1, 1);
      const Tensor y = test::input({3, k}, 42, -1, 1);
      const Tensor s = test::input({3}, 43, 0.1, 2);
      const Function f = [&](const std::vector<Tensor>& in) {
        return with_value ? fused(in[0], in[1], in[2], 0.2, self)
                          : green_quadrature(in[0], in[1], in[2], 0.2, false, self).grad;
      };
      const auto first = gradcheck(f, {z, y, s});
      CHECK_MESSAGE(first.ok, first.message);
      const auto second = gradgradcheck(f, {z, y, s});
      CHECK_MESSAGE(second.ok, second.message);
    }
  }
}

TEST_CASE(
    "green_quadrature: where the codes are the quadrature points, leaving the self pairs out changes no "
    "derivative") {
  // z_i - z_i is 0 as a function of the codes, so its term's derivatives cancel: the total derivative through
  // shared codes is the same with the pairs computed (finite here: eps 0.3) and with them left out.
  std::vector<int64_t> self(6);
  for (int64_t i = 0; i < 6; ++i) self[static_cast<size_t>(i)] = i;
  for (int64_t k : {2, 5}) {
    CAPTURE(k);
    const Tensor u = test::input({6, k}, 51, -1, 1);
    const Tensor s = test::input({6}, 52, 0.1, 2);
    const Tensor w = test::input({6, k}, 53).detach();
    const Tensor with = green_quadrature(u, u, s, 0.3, false, self).grad;
    const Tensor computed = green_quadrature(u, u, s, 0.3, false).grad;
    CHECK(test::max_abs_diff(with, computed) < 1e-12 * max(abs(computed)).item());
    const std::vector<Tensor> ga = grad({sum(with * w)}, {u, s}, {}, {.create_graph = true});
    const std::vector<Tensor> gb = grad({sum(computed * w)}, {u, s}, {}, {.create_graph = true});
    for (size_t i = 0; i < 2; ++i) CHECK(test::max_abs_diff(ga[i], gb[i]) < 1e-10 * max(abs(gb[i])).item());
    // And the second order, through the rule of the fused backward.
    const Tensor ha = grad(sum(square(ga[0])), u), hb = grad(sum(square(gb[0])), u);
    CHECK(test::max_abs_diff(ha, hb) < 1e-9 * max(abs(hb)).item());
  }
}

TEST_CASE("green_quadrature: 32-wide f32 codes at eps 0.01 stay finite with their self pairs named") {
  // g1(eps^2) = 1 / (|S^31| eps^32) is about 7e67: beyond f32. Distinct codes in [-1, 1]^32 lie far apart.
  Generator gen(7);
  const Tensor u = (Tensor::rand({40, 32}, gen) * 2.0 - 1.0).requires_grad_();
  const Tensor s = Tensor::rand({40}, gen) + 0.5;
  std::vector<int64_t> self(40);
  for (int64_t i = 0; i < 40; ++i) self[static_cast<size_t>(i)] = i;
  const Tensor computed = green_quadrature(u, u, s, 1e-2, false).grad;
  CHECK_FALSE(std::isfinite(sum(computed).item()));  // 0 times infinity on the diagonal
  const Tensor named = green_quadrature(u, u, s, 1e-2, false, self).grad;
  const Tensor ref = green_quadrature(u.detach().to(DType::f64), u.detach().to(DType::f64), s.to(DType::f64),
                                      1e-2, false, self)
                         .grad;
  REQUIRE(std::isfinite(sum(named).item()));
  CHECK(test::max_abs_diff(named.to(DType::f64), ref) < 1e-4 * max(abs(ref)).item());
  const Tensor du = grad(sum(named), u);
  CHECK(std::isfinite(sum(du).item()));
}

TEST_CASE("green_quadrature: a self pair list of the wrong length or naming no quadrature point is refused") {
  const Tensor z = test::input({2, 2}, 61), y = test::input({3, 2}, 62), s = test::input({3}, 63, 0.1, 2);
  CHECK_THROWS_WITH(green_quadrature(z, y, s, 0.1, true, {0}),
                    doctest::Contains("expected one self pair per evaluation code (2), got 1"));
  CHECK_THROWS_WITH(green_quadrature(z, y, s, 0.1, true, {0, 3}),
                    doctest::Contains("self pair 3 is not a quadrature point (0..2) or -1"));
}

TEST_CASE(
    "green_quadrature and green_gradient: 128-wide f32 codes, whose 1 / |S^127| = 3e55 is beyond f32 alone") {
  Generator gen(8);
  const Tensor z = Tensor::rand({6, 128}, gen) * 0.4 - 0.2;  // r2 = r^2 + eps^2 near 4: g1 near 1
  const Tensor y = Tensor::rand({5, 128}, gen) * 0.4 - 0.2;
  const Tensor s = Tensor::rand({5}, gen) + 0.5;
  const double eps = 2.0;
  auto f64 = [](const Tensor& t) { return t.to(DType::f64); };
  const Tensor want = fused(f64(z), f64(y), f64(s), eps);
  REQUIRE(max(abs(want)).item() > 1e-3);
  REQUIRE(max(abs(want)).item() < 1e3);
  CHECK(test::max_abs_diff(f64(fused(z, y, s, eps)), want) < 1e-4 * max(abs(want)).item());
  const Tensor g64 = green_gradient(f64(z), f64(y), eps), g32 = green_gradient(z, y, eps);
  CHECK(test::max_abs_diff(f64(g32), g64) < 1e-4 * max(abs(g64)).item());
  const Tensor v64 = green_function(f64(z), f64(y), eps), v32 = green_function(z, y, eps);
  CHECK(test::max_abs_diff(f64(v32), v64) < 1e-4 * max(abs(v64)).item());
}
