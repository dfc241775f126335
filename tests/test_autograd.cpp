// The engine's semantics: grad and backward, graph freeing, grad mode, anomaly mode, higher orders.
#include "tests/helpers.h"

using namespace gg;
using gg::test::input;
using gg::test::max_abs_diff;

TEST_CASE("grad(grad(grad(x^3))) is 6, and each order in between is right") {
  Tensor x = Tensor::from_data({0.5, -2.0}, {2}, DType::f64).requires_grad_();
  GradOptions keep;
  keep.create_graph = true;
  Tensor y = sum(x * x * x);
  Tensor g1 = grad(y, x, {}, keep);           // 3x^2
  Tensor g2 = grad(sum(g1), x, {}, keep);     // 6x
  Tensor g3 = grad(sum(g2), x, {}, keep);     // 6
  gg::test::check_values(g1, {0.75, 12.0});
  gg::test::check_values(g2, {3.0, -12.0});
  gg::test::check_values(g3, {6.0, 6.0});
}

TEST_CASE("worked example of docs/autodiff.md: a Jacobian penalty trained by double backward") {
  // f(x) = tanh(w x) at w = 2, x = 0.5. The penalty P(w) = (df/dx)^2 needs d/dw of a derivative.
  Tensor w = Tensor::scalar(2.0, DType::f64).requires_grad_();
  Tensor x = Tensor::scalar(0.5, DType::f64).requires_grad_();
  Tensor f = tanh(w * x);
  GradOptions keep;
  keep.create_graph = true;
  Tensor dfdx = grad(f, x, {}, keep);
  Tensor penalty = dfdx * dfdx;
  Tensor dpdw = grad(penalty, w, {}, {.retain_graph = true});
  CHECK(f.item() == doctest::Approx(0.7615941559557649).epsilon(1e-12));
  CHECK(dfdx.item() == doctest::Approx(0.8399486832280523).epsilon(1e-12));
  CHECK(penalty.item() == doctest::Approx(0.705513790456539).epsilon(1e-12));
  CHECK(dpdw.item() == doctest::Approx(-0.36911656905926127).epsilon(1e-12));
  CHECK(grad(dfdx, x).item() == doctest::Approx(-2.5588000337968984).epsilon(1e-12));
}

TEST_CASE("backward accumulates into leaves' .grad, and detach and no-grad cut the graph") {
  Tensor w = Tensor::from_data({1.0, 2.0}, {2}, DType::f64).requires_grad_();
  Tensor y = sum(w * w);
  y.backward({}, true);
  gg::test::check_values(w.grad(), {2.0, 4.0});
  y.backward();
  gg::test::check_values(w.grad(), {4.0, 8.0});
  w.zero_grad();
  CHECK_FALSE(w.grad().defined());

  Tensor z = w.detach() * w;  // only the second factor carries a gradient
  sum(z).backward();
  gg::test::check_values(w.grad(), {1.0, 2.0});
  {
    NoGradGuard off;
    Tensor q = w * w;
    CHECK_FALSE(q.requires_grad());
    CHECK(q.grad_fn() == nullptr);
  }
  CHECK((w * w).grad_fn() != nullptr);
}

TEST_CASE("a second pass through a freed graph, or a gradient for a tensor that needs none, is an error") {
  Tensor w = Tensor::from_data({1.0, 2.0}, {2}, DType::f64).requires_grad_();
  Tensor y = sum(tanh(w));
  y.backward();
  CHECK_THROWS_WITH_AS(y.backward(), doctest::Contains("already freed by an earlier backward pass"), Error);
  CHECK_THROWS_WITH_AS(grad(y, w), doctest::Contains("'sum' was already freed"), Error);

  Tensor c = Tensor::ones({2}, DType::f64);
  CHECK_THROWS_WITH_AS(grad(sum(w * c), c), doctest::Contains("input 0 (f64[2]) does not require grad"), Error);
  CHECK_THROWS_WITH_AS(grad(sum(c), w), doctest::Contains("output 0 (f64[]) does not require grad"), Error);
  CHECK_THROWS_WITH_AS(grad(w * c, w), doctest::Contains("pass grad_outputs for a non-scalar output"), Error);
}

TEST_CASE("the graph's saved tensors are released after a backward pass") {
  Tensor w = input({1000}, 1);
  Tensor h = tanh(w);
  std::weak_ptr<Storage> saved = h.impl()->storage;
  Tensor y = sum(h * 3.0);
  h = Tensor();  // the user drops h: only the graph still holds its output
  CHECK_FALSE(saved.expired());
  y.backward();
  CHECK(saved.expired());
}

TEST_CASE("anomaly mode names the first op that made a NaN or Inf, forward or backward") {
  Tensor x = Tensor::from_data({1.0, -1.0}, {2}, DType::f64).requires_grad_();
  {
    AnomalyModeGuard on;
    CHECK_THROWS_WITH_AS(sqrt(x), doctest::Contains("anomaly: op 'sqrt' produced NaN"), Error);
    Tensor z = Tensor::from_data({0.0, 4.0}, {2}, DType::f64).requires_grad_();
    Tensor y = sum(sqrt(z));  // finite forward, infinite derivative at 0
    CHECK_THROWS_WITH_AS(y.backward(), doctest::Contains("in the backward of 'sqrt'"), Error);
  }
  CHECK_NOTHROW(sqrt(x));  // off again: NaN flows silently as in IEEE arithmetic
}

namespace {
// A small MLP with tanh, its parameters as inputs: x [B, 2] -> 3 -> 2.
Tensor mlp(const Tensor& x, const std::vector<Tensor>& p) { return tanh(linear(tanh(linear(x, p[0], p[1])), p[2], p[3])); }
}  // namespace

TEST_CASE("vectorized Jacobians: one pass for all rows, equal to the full Jacobian's diagonal blocks") {
  std::vector<Tensor> p = {input({5, 3}, 31), input({5}, 32), input({4, 5}, 33), input({4}, 34)};
  Tensor x = input({6, 3}, 35);
  Tensor y = mlp(x, p);
  Tensor full = jacobian(y, x);  // [6, 4, 6, 3]
  Tensor per = batch_jacobian(y, x);
  Tensor fwd = batch_jacobian_forward(y, x);
  CHECK(per.shape() == Shape{6, 4, 3});
  for (int64_t b = 0; b < 6; ++b)
    for (int64_t k = 0; k < 4; ++k)
      for (int64_t j = 0; j < 3; ++j) {
        CHECK(per.at({b, k, j}) == doctest::Approx(full.at({b, k, b, j})).epsilon(1e-12));
        CHECK(fwd.at({b, k, j}) == doctest::Approx(full.at({b, k, b, j})).epsilon(1e-12));
      }
  // The whole batch of m cotangents goes through each rule once: as many rules run for m = 4 as for m = 1.
  auto rules_for = [&](const Tensor& out) {
    uint64_t before = backward_rules_run();
    batch_jacobian(out, x);
    return backward_rules_run() - before;
  };
  CHECK(rules_for(y) == rules_for(slice(y, 1, 0, 1)) - 1);  // the slice adds exactly one rule
}

TEST_CASE("jvp, vjp and hvp against closed forms") {
  // f(x) = A x for a fixed A: J = A, so J v = A v and J^T u = A^T u.
  Tensor a = input({3, 2}, 51).detach();
  Function f = [&a](const std::vector<Tensor>& x) { return matmul(a, x[0]); };
  Tensor x = input({2, 1}, 52), v = input({2, 1}, 53).detach(), u = input({3, 1}, 54).detach();
  CHECK(max_abs_diff(jvp(f, {x}, {v}).second, matmul(a, v)) < 1e-12);
  CHECK(max_abs_diff(vjp(f, {x}, u).second[0], matmul(a, u, true, false)) < 1e-12);
  // q(x) = 1/2 x^T B x has Hessian (B + B^T)/2.
  Tensor bm = input({2, 2}, 55).detach();
  Function q = [&bm](const std::vector<Tensor>& x) { return sum(matmul(x[0], matmul(bm, x[0]), true, false)) * 0.5; };
  Tensor hv = hvp(q, {x}, {v})[0];
  CHECK(max_abs_diff(hv, matmul(bm + transpose(bm), v) * 0.5) < 1e-12);
}

TEST_CASE("mul keeps each input only for the other's gradient, so relu's rule does not keep the cotangent") {
  // relu's rule is g * mask; recorded for a double backward, keeping g as well as g * mask held every layer's
  // cotangents twice (the conv penalty's peak: 352 MB, 232 MB without).
  Generator gen(3);
  const Tensor w = Tensor::randn({5}, gen, DType::f64).requires_grad_();
  const Tensor mask = gt(Tensor::randn({5}, gen, DType::f64), Tensor::zeros({5}, DType::f64));
  Tensor y;
  std::weak_ptr<TensorImpl> g_impl;
  {
    const Tensor g = w * 3.0;
    g_impl = g.impl();
    y = g * mask;
  }
  CHECK(g_impl.expired());  // y's node kept the mask alone
  CHECK(test::max_abs_diff(grad(sum(y), w), mask * 3.0) == 0.0);
  // With both sides requiring grad, both are kept and both gradients come out.
  const Tensor u = Tensor::randn({5}, gen, DType::f64).requires_grad_();
  const std::vector<Tensor> both = grad({sum(w * u)}, {w, u});
  CHECK(test::max_abs_diff(both[0], u.detach()) == 0.0);
  CHECK(test::max_abs_diff(both[1], w.detach()) == 0.0);
}

TEST_CASE("mul_consuming writes into a buffer that no other handle holds, and only then") {
  Generator gen(5);
  const Tensor b = Tensor::randn({5}, gen, DType::f64);
  {  // the only handle: the product lands in its buffer
    Tensor a = Tensor::randn({4, 5}, gen, DType::f64);
    const Tensor expect = a * b;
    const void* buffer = a.raw();
    const Tensor r = mul_consuming(a, b);
    CHECK(r.raw() == buffer);
    CHECK(max_abs_diff(r, expect) == 0.0);
  }
  {  // a second handle, a view, or a product of another shape: a fresh buffer, a untouched
    const Tensor a = Tensor::randn({4, 5}, gen, DType::f64);
    const Tensor before = a.clone();
    const Tensor other_handle = a;
    CHECK(mul_consuming(a, b).raw() != a.raw());
    const Tensor flat = reshape(a, {20});
    const Tensor view = reshape(flat, {4, 5});
    CHECK(mul_consuming(view, b).raw() != a.raw());
    const Tensor row = Tensor::randn({5}, gen, DType::f64);
    const Tensor grown = mul_consuming(row, a);
    CHECK(grown.shape() == Shape{4, 5});
    CHECK(max_abs_diff(a, before) == 0.0);
  }
  {  // recorded with b requiring grad, the op keeps a for b's gradient: a is not overwritten
    const Tensor w = Tensor::randn({5}, gen, DType::f64).requires_grad_();
    Tensor a = Tensor::randn({4, 5}, gen, DType::f64);
    const Tensor a_values = a.clone();
    const void* buffer = a.raw();
    const Tensor y = mul_consuming(a, w);
    CHECK(y.raw() != buffer);
    CHECK(max_abs_diff(grad(sum(y), w), sum(a_values, {0})) < 1e-12);
  }
}

TEST_CASE("a double backward through convolutions and relu holds one buffer per cotangent, not two") {
  // The exact Jacobian penalty's second backward at the first layer of a conv net: the first pass kept the
  // cotangent g1 of the relu's input ([m, B, 32, 8, 8]); the second makes d g1 (its size) and, through
  // relu's rule, the gradient of the cotangent before the mask (its size again). With the conv rule
  // freeing g1 before it allocates d g1, and relu's rule writing into d g1's buffer, the pass never holds
  // two more buffers of that size than it started with (21.5 MB above its start here; before both changes,
  // more than twice the cotangent's size).
  Generator gen(9);
  const test::ConvPenalty net = test::conv_penalty(gen, 4);
  const size_t cotangent_bytes = size_t(256) * 4 * 32 * 8 * 8 * sizeof(double);  // g1: 17 MB
  Backend& cpu = backend_for(Device::cpu());
  const size_t start = cpu.in_use_bytes();
  cpu.reset_peak_bytes();
  const std::vector<Tensor> g = grad({net.penalty}, {net.w1, net.w2});
  const size_t grown = cpu.peak_bytes() - start;
  MESSAGE("second backward: peak ", grown / 1e6, " MB above its start, layer-1 cotangent ",
          cotangent_bytes / 1e6, " MB");
  CHECK(grown < 2 * cotangent_bytes);
  CHECK(std::isfinite(sum(g[0]).item()));
}

TEST_CASE("relu's mask is made once for a kept graph that is differentiated again and again") {
  // The exact penalty's loop route runs m backward passes through one kept graph, each recorded for the
  // second backward; a mask per pass kept m of them alive beside the m results.
  const int64_t n = 1 << 16, passes = 8;
  const size_t bytes = size_t(n) * sizeof(double);
  Generator gen(11);
  const Tensor x = Tensor::randn({n}, gen, DType::f64).requires_grad_();
  const Tensor y = relu(x);
  GradOptions keep;
  keep.create_graph = true;
  Backend& cpu = backend_for(Device::cpu());
  const size_t start = cpu.in_use_bytes();
  std::vector<Tensor> seeds, results;
  for (int64_t k = 0; k < passes; ++k) {
    seeds.push_back(Tensor::randn({n}, gen, DType::f64).requires_grad_());
    results.push_back(grad(y, x, seeds.back(), keep));  // seed * mask, recorded: its node keeps the mask
  }
  const size_t held = cpu.in_use_bytes() - start;  // the seeds, the results and the masks
  MESSAGE("held ", held / double(bytes), " buffers of x's size after ", passes, " passes");
  CHECK(held < (2 * passes + 2) * bytes);  // one mask: 17 buffers; one per pass: 24
  CHECK(max_abs_diff(results[3], seeds[3].detach() * gt(x.detach(), zeros_like(x))) == 0.0);
}
