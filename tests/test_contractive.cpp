// The contractive source s_phi(x) = ||J_f(x)||_F^2 (regularizers/contractive.h): every exact route against
// the engine's batch_jacobian and the closed form, Hutchinson against its standard error, first and second
// derivatives with respect to the parameters through every method, and the cost model's picks.
#include <nlohmann/json.hpp>

#include "regularizers/contractive.h"
#include "tests/helpers.h"
#include "tests/models_helpers.h"

using namespace gg;

namespace {

AutoencoderConfig mlp(int64_t d, std::vector<int64_t> hidden, int64_t m, const std::string& act = "tanh",
                      const std::string& code_act = "tanh") {
  AutoencoderConfig c;
  c.input_shape = {d};
  c.code_dim = m;
  c.hidden = std::move(hidden);
  c.activation = act;
  c.code_activation = code_act;
  c.dtype = DType::f64;
  c.seed = 5;
  return c;
}

AutoencoderConfig conv(int64_t hw, int64_t width, int64_t m) {
  AutoencoderConfig c;
  c.arch = "conv";
  c.input_shape = {1, hw, hw};
  c.code_dim = m;
  c.width = width;
  c.activation = "tanh";
  c.code_activation = "tanh";
  c.dtype = DType::f64;
  c.seed = 6;
  return c;
}

PenaltyOptions opts(const std::string& method, const std::string& route = "auto", int64_t probes = 1,
                    const std::string& kind = "rademacher") {
  PenaltyOptions o;
  o.method = method;
  o.route = route;
  o.probes = probes;
  o.probe_kind = kind;
  return o;
}

Tensor batch_of(const AutoencoderConfig& c, int64_t b, uint64_t seed) {
  Shape s{b};
  s.insert(s.end(), c.input_shape.begin(), c.input_shape.end());
  return test::input(s, seed).detach();
}

std::vector<double> source(Autoencoder& ae, const Tensor& x, const PenaltyOptions& o, uint64_t seed = 1) {
  Generator gen(seed);
  return contractive_source(ae, x, o, gen).s.to_vector();
}

// ||J_b||_F^2 from the engine's per-sample Jacobians.
std::vector<double> jacobian_norms(Autoencoder& ae, const Tensor& x) {
  const Tensor xl = x.detach().requires_grad_();
  const Tensor j = batch_jacobian(ae.encode(xl), xl);
  return sum(square(reshape(j, {x.size(0), -1})), {1}).to_vector();
}

void check_close(const std::vector<double>& a, const std::vector<double>& b, double rel, const std::string& what) {
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i)
    CHECK_MESSAGE(std::abs(a[i] - b[i]) <= rel * std::max(1.0, std::abs(b[i])),
                  what << " [" << i << "]: " << a[i] << " vs " << b[i]);
}

// The penalty as a function of the parameters (random draws fixed), for gradcheck.
Function penalty_of_parameters(Autoencoder& ae, const Tensor& x, const PenaltyOptions& o) {
  return [&ae, x, o](const std::vector<Tensor>& p) {
    return call_with_parameters(ae, p, [&] {
      Generator gen(3);
      return contractive_penalty(ae, x, o, gen);
    });
  };
}

std::vector<Tensor> parameter_copies(const Autoencoder& ae) {
  std::vector<Tensor> out;
  for (const Tensor& p : ae.parameters()) out.push_back(p.detach().clone().requires_grad_());
  return out;
}

}  // namespace

TEST_CASE("contractive: every exact route equals the closed form of a one-layer sigmoid encoder to 1e-10") {
  Autoencoder ae(mlp(5, {}, 3, "tanh", "sigmoid"));
  const Tensor x = batch_of(ae.config(), 6, 11) * 2.0;
  const auto closed = source(ae, x, opts("closed_form"));
  // By hand: z = sigmoid(x W^T + b), s = sum_i (z_i (1 - z_i))^2 sum_j W_ij^2.
  const Tensor w = ae.parameters()[0].detach(), b = ae.parameters()[1].detach();
  const Tensor z = sigmoid(matmul(x, w, false, true) + b);
  check_close(closed, sum(square(z * (1.0 - z)) * sum(square(w), {1}), {1}).to_vector(), 1e-12, "hand");
  for (const char* route : {"reverse", "forward", "gram", "loop"})
    check_close(source(ae, x, opts("exact", route)), closed, 1e-10, route);
  check_close(jacobian_norms(ae, x), closed, 1e-10, "batch_jacobian");
  Generator gen(1);
  const ContractiveSource auto_src = contractive_source(ae, x, opts("auto"), gen);
  CHECK(auto_src.plan.method == "closed_form");
  CHECK(contractive_penalty(ae, x, opts("closed_form"), gen).item() ==
        doctest::Approx(mean(auto_src.s).item()).epsilon(1e-14));
}

TEST_CASE("contractive: exact per-sample values equal the norms of the engine's batch_jacobian") {
  SUBCASE("mlp, code narrower than the input") {
    Autoencoder ae(mlp(6, {5, 4}, 3));
    const Tensor x = batch_of(ae.config(), 4, 12);
    const auto ref = jacobian_norms(ae, x);
    for (const char* route : {"reverse", "forward", "gram", "loop"})
      check_close(source(ae, x, opts("exact", route)), ref, 1e-10, route);
  }
  SUBCASE("mlp, input narrower than the code: forward and reverse agree") {
    Autoencoder ae(mlp(2, {7}, 8));
    const Tensor x = batch_of(ae.config(), 5, 13);
    const auto rev = source(ae, x, opts("exact", "reverse"));
    check_close(source(ae, x, opts("exact", "forward")), rev, 1e-10, "forward vs reverse");
    check_close(jacobian_norms(ae, x), rev, 1e-10, "batch_jacobian");
    const Tensor xl = x.detach().requires_grad_();
    const Tensor jf = batch_jacobian_forward(ae.encode(xl), xl);
    check_close(sum(square(reshape(jf, {5, -1})), {1}).to_vector(), rev, 1e-10, "batch_jacobian_forward");
  }
  SUBCASE("variational mlp: the Jacobian of the mean") {
    AutoencoderConfig c = mlp(4, {5}, 2, "tanh", "identity");
    c.variational = true;
    Autoencoder ae(c);
    const Tensor x = batch_of(c, 3, 14);
    const auto ref = jacobian_norms(ae, x);
    for (const char* route : {"reverse", "forward", "gram"})
      check_close(source(ae, x, opts("exact", route)), ref, 1e-10, route);
  }
  SUBCASE("conv (Table 3 layout)") {
    Autoencoder ae(conv(16, 1, 3));
    const Tensor x = batch_of(ae.config(), 2, 15);
    const auto ref = jacobian_norms(ae, x);
    for (const char* route : {"reverse", "forward", "loop"})
      check_close(source(ae, x, opts("exact", route)), ref, 1e-10, route);
  }
}

TEST_CASE("contractive: the exact routes give the same gradient with respect to the parameters") {
  Autoencoder ae(mlp(4, {5}, 3));
  const Tensor x = batch_of(ae.config(), 3, 16);
  std::vector<double> ref;
  for (const char* route : {"reverse", "forward", "gram", "loop"}) {
    Generator gen(1);
    const Tensor pen = contractive_penalty(ae, x, opts("exact", route), gen);
    std::vector<double> g;
    for (const Tensor& t : grad({pen}, ae.parameters())) {
      auto v = t.to_vector();
      g.insert(g.end(), v.begin(), v.end());
    }
    if (ref.empty()) ref = g;
    else check_close(g, ref, 1e-10, route);
  }
}

TEST_CASE("contractive: Hutchinson is unbiased per sample, within 4 standard errors of the exact value") {
  Autoencoder ae(mlp(5, {6}, 4));
  const Tensor x = batch_of(ae.config(), 3, 17) * 2.0;
  const auto exact = source(ae, x, opts("exact"));
  for (const char* kind : {"rademacher", "gaussian"})
    for (const char* route : {"reverse", "gram"}) {
      // n one-probe estimates per sample give the estimator's spread sd and the standard error of their
      // mean; one batched estimate with k probes has standard error sd / sqrt(k), small enough that a bias
      // of a percent would show.
      const int n = 2000, k = 100000;
      const size_t b = exact.size();
      std::vector<double> sum1(b), sum2(b);
      Generator gen(21);
      for (int i = 0; i < n; ++i) {
        const auto s = contractive_source(ae, x, opts("hutchinson", route, 1, kind), gen).s.to_vector();
        for (size_t j = 0; j < b; ++j) sum1[j] += s[j], sum2[j] += s[j] * s[j];
      }
      const auto batched = contractive_source(ae, x, opts("hutchinson", route, k, kind), gen).s.to_vector();
      for (size_t j = 0; j < b; ++j) {
        const double mean = sum1[j] / n, sd = std::sqrt((sum2[j] - n * mean * mean) / (n - 1));
        const double se = sd / std::sqrt(double(n)), se_k = sd / std::sqrt(double(k));
        CHECK(sd > 0.05 * exact[j]);  // a real spread, not an exact value in disguise
        CHECK_MESSAGE(std::abs(mean - exact[j]) < 4 * se, kind << " " << route << " sample " << j << ": mean " << mean
                                                               << " exact " << exact[j] << " se " << se);
        CHECK_MESSAGE(std::abs(batched[j] - exact[j]) < 4 * se_k, kind << " " << route << " batched sample " << j << ": "
                                                                    << batched[j] << " exact " << exact[j] << " se "
                                                                    << se_k);
      }
    }
}

TEST_CASE("contractive: gradcheck and gradgradcheck with respect to the parameters through every method") {
  struct Case {
    AutoencoderConfig model;
    PenaltyOptions options;
  };
  const std::vector<Case> cases = {
      {mlp(2, {3}, 2), opts("exact", "reverse")},
      {mlp(2, {3}, 2), opts("exact", "forward")},
      {mlp(2, {3}, 2), opts("exact", "gram")},
      {mlp(2, {3}, 2), opts("exact", "loop")},
      {mlp(2, {3}, 2), opts("hutchinson", "reverse", 2, "gaussian")},
      {mlp(2, {3}, 2), opts("hutchinson", "gram", 2, "rademacher")},
      {mlp(3, {}, 2, "tanh", "sigmoid"), opts("closed_form")},
  };
  for (const Case& c : cases) {
    Autoencoder ae(c.model);
    const Tensor x = batch_of(c.model, 3, 18);
    const Function f = penalty_of_parameters(ae, x, c.options);
    const std::string what = c.options.method + "/" + c.options.route;
    const auto first = gradcheck(f, parameter_copies(ae));
    CHECK_MESSAGE(first.ok, what << ": " << first.message);
    const auto second = gradgradcheck(f, parameter_copies(ae));
    CHECK_MESSAGE(second.ok, what << ": " << second.message);
  }
}

TEST_CASE("contractive: gradcheck through a conv encoder") {
  Autoencoder ae(conv(16, 1, 2));
  const Tensor x = batch_of(ae.config(), 2, 19);
  const auto first = gradcheck(penalty_of_parameters(ae, x, opts("exact", "reverse")), parameter_copies(ae));
  CHECK_MESSAGE(first.ok, first.message);
}

TEST_CASE("rowwise_quadratic_form: values, gradients and second derivatives") {
  const Tensor a = test::input({5, 3}, 30), w = test::input({3, 4}, 31), m = test::input({3, 3}, 32);
  const Tensor q = rowwise_quadratic_form(a, matmul(w, w, false, true));
  const Tensor wa = matmul(a, w);
  check_close(q.to_vector(), sum(square(wa), {1}).to_vector(), 1e-12, "a W W^T a^T");
  // Through M = W W^T (the gram route's use) and with a general, non-symmetric M.
  const Function via_w = [](const std::vector<Tensor>& in) {
    return rowwise_quadratic_form(in[0], matmul(in[1], in[1], false, true));
  };
  const Function general = [](const std::vector<Tensor>& in) { return rowwise_quadratic_form(in[0], in[1]); };
  for (const auto& [f, inputs] : {std::pair{via_w, std::vector{a, w}}, std::pair{general, std::vector{a, m}}}) {
    const auto first = gradcheck(f, inputs);
    CHECK_MESSAGE(first.ok, first.message);
    const auto second = gradgradcheck(f, inputs);
    CHECK_MESSAGE(second.ok, second.message);
  }
}

TEST_CASE("contractive: auto picks what the cost model says") {
  auto pick = [](const AutoencoderConfig& c, int64_t batch, const PenaltyOptions& o = {}) {
    const ContractiveCost cost = contractive_cost(c, batch, o);
    return cost.plan.method + "/" + cost.plan.route;
  };
  AutoencoderConfig toy = mlp(2, {64}, 2), wide_code = mlp(2, {64}, 8);
  AutoencoderConfig mnist32 = mlp(784, {512}, 32), mnist128 = mlp(784, {512}, 128);
  AutoencoderConfig conv32 = conv(28, 32, 32), conv128 = conv(28, 32, 128);
  CHECK(pick(toy, 256) == "exact/reverse");
  CHECK(pick(wide_code, 256) == "exact/forward");
  CHECK(pick(mnist32, 128) == "exact/gram");
  CHECK(pick(mnist128, 128) == "hutchinson/reverse");
  CHECK(pick(mnist128, 128, opts("exact")) == "exact/gram");
  CHECK(pick(conv32, 64) == "exact/reverse");
  CHECK(pick(conv128, 64) == "hutchinson/reverse");
  CHECK(pick(mlp(784, {}, 32, "tanh", "sigmoid"), 128) == "closed_form/");
  PenaltyOptions wide;
  wide.auto_max_width = 256;  // "both large" moved up: exact again
  CHECK(pick(mnist128, 128, wide) == "exact/gram");

  // The numbers behind the picks: the documented formulas at the MNIST MLP size (F = 2 (784 512 + 512 32)).
  const ContractiveCost c = contractive_cost(mnist32, 128, {});
  const double F = 2.0 * (784 * 512 + 512 * 32), Frest = 2.0 * 512 * 32;
  CHECK(c.encoder_flops == F);
  CHECK(c.reverse == doctest::Approx(3.0 * 32 * 128 * F));
  CHECK(c.gram == doctest::Approx(3.0 * 32 * 128 * Frest + 4.0 * 32 * 128 * 512 * 512 + 4.0 * 512 * 512 * 784));
  CHECK(c.forward == doctest::Approx(3.0 * 786 * 128 * F));
  CHECK(c.closed_form < 0);
  CHECK(c.planned == std::min({c.reverse, c.forward, c.gram}));

  // contractive_source runs the plan the cost model names.
  Autoencoder small(mlp(2, {4}, 5));
  Generator gen(1);
  CHECK(contractive_source(small, batch_of(small.config(), 3, 20), {}, gen).plan.route ==
        contractive_cost(small.config(), 3, {}).plan.route);
}

TEST_CASE("contractive: refusals name the reason") {
  using test::contains;
  using test::error_of;
  const std::string closed = error_of([] { contractive_cost(mlp(4, {3}, 2), 8, opts("closed_form")); });
  CHECK(contains(closed, "closed_form"));
  CHECK(contains(closed, "hidden"));
  CHECK(contains(error_of([] { contractive_cost(mlp(4, {}, 2), 8, opts("closed_form")); }), "code_activation"));
  CHECK(contains(error_of([] { contractive_cost(conv(16, 1, 2), 8, opts("exact", "gram")); }), "conv"));
  CHECK(contains(error_of([] { contractive_cost(mlp(4, {3}, 2), 8, opts("hutchinson", "forward")); }), "hutchinson"));
  CHECK(contains(error_of([] { contractive_cost(mlp(4, {3}, 2), 8, opts("exact", "sideways")); }), "sideways"));
  CHECK(contains(error_of([] { contractive_cost(mlp(4, {3}, 2), 8, opts("hutchinson", "auto", 0)); }), "probes"));
}

TEST_CASE("contractive: PenaltyOptions JSON round trip, unknown keys refused by name") {
  PenaltyOptions o = opts("hutchinson", "gram", 4, "gaussian");
  o.auto_max_width = 32;
  const nlohmann::json j = o;
  const PenaltyOptions back = j.get<PenaltyOptions>();
  CHECK(back.method == "hutchinson");
  CHECK(back.route == "gram");
  CHECK(back.probes == 4);
  CHECK(back.probe_kind == "gaussian");
  CHECK(back.auto_max_width == 32);
  CHECK(nlohmann::json::parse("{}").get<PenaltyOptions>().method == "auto");
  using test::contains;
  using test::error_of;
  const std::string unknown = error_of([] { nlohmann::json::parse(R"({"method": "exact", "prob": 2})").get<PenaltyOptions>(); });
  CHECK(contains(unknown, "'prob'"));
  CHECK(contains(unknown, "probes"));
  CHECK(contains(error_of([] { nlohmann::json::parse(R"({"probes": "2"})").get<PenaltyOptions>(); }), "penalty.probes"));
  CHECK(contains(error_of([] { nlohmann::json::parse(R"({"method": "magic"})").get<PenaltyOptions>(); }), "magic"));
}

TEST_CASE("contractive: create_graph = false gives the same values with no graph") {
  Autoencoder ae(mlp(3, {4}, 2));
  Autoencoder one(mlp(3, {}, 2, "tanh", "sigmoid"));
  const Tensor x = batch_of(ae.config(), 4, 22);
  for (const PenaltyOptions& base : {opts("exact", "reverse"), opts("exact", "forward"), opts("exact", "gram"),
                                     opts("exact", "loop"), opts("hutchinson", "gram", 3), opts("closed_form")}) {
    Autoencoder& model = base.method == "closed_form" ? one : ae;
    PenaltyOptions values = base;
    values.create_graph = false;
    Generator g1(4), g2(4);
    const ContractiveSource with = contractive_source(model, x, base, g1);
    const ContractiveSource without = contractive_source(model, x, values, g2);
    CHECK(with.s.requires_grad());
    CHECK_FALSE(without.s.requires_grad());
    check_close(without.s.to_vector(), with.s.to_vector(), 1e-14, base.method + "/" + base.route);
  }
}
