// The Jacobian penalty of a pair y = f(x) (regularizers/jacobian_penalty.h), on a small MLP written out with
// engine ops: every route against the engine's batch_jacobian, Hutchinson's estimate, and derivatives of the
// penalty up to the third order. (These were the engine's tests of its former jacobian_frobenius_sq*
// functions; the assertions are theirs.)
#include "regularizers/jacobian_penalty.h"
#include "tests/helpers.h"
#include "tests/models_helpers.h"

using namespace gg;
using gg::test::input;
using gg::test::max_abs_diff;

namespace {

// A small MLP with tanh, its parameters as inputs: x [B, 2] -> 3 -> 2.
Tensor mlp(const Tensor& x, const std::vector<Tensor>& p) { return tanh(linear(tanh(linear(x, p[0], p[1])), p[2], p[3])); }

// The batch means of the routes, as a loss holds them.
Tensor exact(const Tensor& y, const Tensor& x) { return mean(jacobian_sq({y, x})); }
Tensor through_linear(const Tensor& y, const Tensor& h, const Tensor& w) {
  return mean(jacobian_sq({y, {}, h, w}, {"exact", "gram"}));
}
Tensor hutchinson(const Tensor& y, const Tensor& x, int64_t probes, Generator& gen, const std::string& kind,
                  bool create_graph = true) {
  PenaltyOptions o;
  o.probes = probes, o.probe_kind = kind, o.create_graph = create_graph;
  return mean(jacobian_sq({y, x}, {"hutchinson", "reverse"}, o, &gen));
}

}  // namespace

TEST_CASE("third order: the gradient of a Jacobian penalty of a small MLP passes gradgradcheck") {
  Tensor x = input({4, 2}, 20).detach().requires_grad_();
  std::vector<Tensor> params = {input({3, 2}, 21), input({3}, 22), input({2, 3}, 23), input({2}, 24)};
  // The penalty already holds first derivatives of the MLP; gradgradcheck checks two more orders.
  Function penalty = [&x](const std::vector<Tensor>& p) { return exact(mlp(x, p), x); };
  CHECK(gradcheck(penalty, params).ok);
  GradcheckResult r = gradgradcheck(penalty, params);
  CHECK_MESSAGE(r.ok, r.message);
}

TEST_CASE("the Frobenius penalty: exact, through the first layer's Gram matrix, and Hutchinson agree") {
  std::vector<Tensor> p = {input({5, 3}, 41), input({5}, 42), input({4, 5}, 43), input({4}, 44)};
  Tensor x = input({6, 3}, 45);
  Tensor h = linear(x, p[0], p[1]);
  Tensor y = tanh(linear(tanh(h), p[2], p[3]));
  Tensor j = batch_jacobian(y, x);
  const double expect = sum(j * j).item() / 6.0;
  CHECK(exact(y, x).item() == doctest::Approx(expect).epsilon(1e-12));
  CHECK(through_linear(y, h, p[0]).item() == doctest::Approx(expect).epsilon(1e-12));
  // Every exact route gives the same values, per sample.
  const Tensor reverse = jacobian_sq({y, x}, {"exact", "reverse"});
  for (const char* route : {"forward", "loop"})
    CHECK_MESSAGE(max_abs_diff(jacobian_sq({y, x}, {"exact", route}), reverse) < 1e-12, route);
  // Hutchinson: unbiased; with 4000 probes the mean lies within a few standard errors.
  Generator gen(5);
  Tensor est = hutchinson(y, x, 4000, gen, "gaussian", false);
  CHECK(est.item() == doctest::Approx(expect).epsilon(0.05));
  // Each is differentiable: the gradients with respect to the first layer agree too.
  Tensor g_exact = grad(exact(y, x), p[0], {}, {.retain_graph = true});
  Tensor g_gram = grad(through_linear(y, h, p[0]), p[0], {}, {.retain_graph = true});
  CHECK(max_abs_diff(g_exact, g_gram) < 1e-12);
}

TEST_CASE("each Frobenius estimate is differentiable again: gradgradcheck through Hutchinson and the Gram route") {
  Tensor x = input({4, 3}, 61).detach().requires_grad_();
  std::vector<Tensor> params = {input({3, 3}, 62), input({3}, 63), input({2, 3}, 64), input({2}, 65)};
  Function estimate = [&x](const std::vector<Tensor>& p) {
    Generator gen(9);  // the same probes at every evaluation, so the estimate is a smooth function of p
    return hutchinson(mlp(x, p), x, 3, gen, "rademacher");
  };
  Function through_gram = [&x](const std::vector<Tensor>& p) {
    Tensor h = linear(x, p[0], p[1]);
    return through_linear(tanh(linear(tanh(h), p[2], p[3])), h, p[0]);
  };
  for (const Function& f : {estimate, through_gram}) {
    CHECK(gradcheck(f, params).ok);
    GradcheckResult r = gradgradcheck(f, params);
    CHECK_MESSAGE(r.ok, r.message);
  }
}

TEST_CASE("jacobian_sq refuses what it cannot compute, saying why") {
  const Tensor x = input({3, 2}, 70);
  const Tensor y = tanh(x);
  using test::contains;
  using test::error_of;
  CHECK(contains(error_of([&] { jacobian_sq({y, x}, {"hutchinson", "reverse"}); }), "Generator"));
  CHECK(contains(error_of([&] { jacobian_sq({y, x}, {"exact", "gram"}); }), "gram"));
  CHECK(contains(error_of([&] { jacobian_sq({y, x}, {"exact", "sideways"}); }), "sideways"));
  CHECK(contains(error_of([&] { jacobian_sq({y, x}, {"closed_form", ""}); }), "closed_form"));
  CHECK(contains(error_of([&] { jacobian_sq({y, slice(x, 0, 0, 2)}); }), "row by row"));
}
