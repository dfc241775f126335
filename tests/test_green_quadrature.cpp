// The fused primitive behind eq. 10 (regularizers/green_quadrature.cpp): its forward and its fused backward
// against eq. 10 written out with green_function / green_gradient (ordinary ops, differentiated by the
// engine), finite differences to the second order, batched cotangents, and the same numbers on any thread
// count.
#include <doctest/doctest.h>

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

Tensor fused(const Tensor& z, const Tensor& y, const Tensor& s, double eps) {
  const GreenQuadrature q = green_quadrature(z, y, s, eps);
  return concat({reshape(q.v, {z.size(0), 1}), q.grad}, 1);
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
