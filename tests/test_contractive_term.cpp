// The contractive regularizer term (regularizers/contractive.h: ContractiveTerm) and its spellings: the
// term's values against hand computations (moved here from the variants' tests when the contractive variants
// became this term), its first and second derivatives, and one value for the same model, weights and batch
// whichever way it is asked for: gg_bench's penalty, the old variant spelling, the regularizer section.
#include <nlohmann/json.hpp>

#include "bench/autoencoder.h"
#include "models/training.h"
#include "regularizers/contractive.h"
#include "regularizers/regularizer.h"
#include "tests/helpers.h"
#include "tests/models_helpers.h"

using namespace gg;
using nlohmann::json;

namespace {

// A one-layer encoder z = act(W1 x + b1) and a linear decoder x^ = W2 z + b2, in f64 (as test_variants.cpp).
AutoencoderConfig tiny(const std::string& code_activation = "identity") {
  AutoencoderConfig c;
  c.input_shape = {3};
  c.code_dim = 2;
  c.hidden = {};
  c.code_activation = code_activation;
  c.dtype = DType::f64;
  c.seed = 4;
  return c;
}

Tensor batch() { return test::input({5, 3}, 21).detach(); }

ContractiveTerm term(double lambda, JacobianOf of = JacobianOf::encoder, int64_t probes = 0) {
  ContractiveTerm t;
  t.lambda = lambda, t.of = of;
  t.penalty.method = probes == 0 ? "exact" : "hutchinson";
  t.penalty.probes = std::max<int64_t>(probes, 1);
  return t;
}

// The reconstruction plus the term: what the old contractive variants' loss was.
Tensor loss_with(Autoencoder& ae, const Tensor& x, const ContractiveTerm& t, Generator& gen) {
  return mse(ae(x), x) + contractive_term(ae, x, t, gen);
}

// A two-moons Trainer whose MLP is gg_bench's autoencoder 2 -> 8 -> 3 -> 8 -> 2 (tanh), in f64.
json moons_config() {
  return {{"seed", 7},
          {"data", {{"name", "two-moons"}, {"n", 128}, {"test_n", 32}}},
          {"model", {{"hidden", {8}}, {"code_dim", 3}, {"activation", "tanh"}, {"code_activation", "tanh"},
                     {"dtype", "f64"}}},
          {"training", {{"epochs", 1}, {"batch_size", 32}}}};
}

double term_value(Trainer& t, const Tensor& x, uint64_t seed = 11) {
  Generator gen(seed);
  const BatchLoss l = t.batch_loss(x, gen);
  REQUIRE(l.terms.size() == 1);
  CHECK(l.terms[0].first == "contractive");
  return l.terms[0].second.item();
}

}  // namespace

TEST_CASE("contractive terms equal their formulas: a linear encoder's Jacobian is W1, the whole map's W2 W1") {
  Autoencoder ae(tiny());
  const auto p = ae.parameters();
  const Tensor w1 = p[0].detach(), w2 = p[2].detach();
  const Tensor x = batch();
  const double mse_hand = mse(ae(x), x).item();
  Generator gen(1);
  CHECK(loss_with(ae, x, term(0.3), gen).item() ==
        doctest::Approx(mse_hand + 0.3 * sum(square(w1)).item()).epsilon(1e-12));
  CHECK(loss_with(ae, x, term(0.3, JacobianOf::autoencoder), gen).item() ==
        doctest::Approx(mse_hand + 0.3 * sum(square(matmul(w2, w1))).item()).epsilon(1e-12));
}

TEST_CASE("contractive on a sigmoid encoder matches Rifai et al.'s closed form") {
  // ||J_E(x)||^2 = sum_i (h_i (1 - h_i))^2 sum_j W1_ij^2 for h = sigmoid(W1 x + b1).
  Autoencoder ae(tiny("sigmoid"));
  const auto p = ae.parameters();
  const Tensor w1 = p[0].detach(), b1 = p[1].detach();
  const Tensor x = batch();
  const Tensor h = sigmoid(matmul(x, w1, false, true) + b1);
  const Tensor closed = sum(square(h * (1.0 - h)) * sum(square(w1), {1}).reshape({1, 2})) / 5.0;
  Generator gen(0);
  CHECK(contractive_term(ae, x, term(1.0), gen).item() == doctest::Approx(closed.item()).epsilon(1e-12));
  // Hutchinson's estimate is unbiased: many probes come close to the exact value.
  CHECK(contractive_term(ae, x, term(1.0, JacobianOf::encoder, 4000), gen).item() ==
        doctest::Approx(closed.item()).epsilon(0.05));
}

TEST_CASE("the contractive terms' gradients match finite differences to the second order") {
  AutoencoderConfig c = tiny();
  c.hidden = {4};
  c.activation = "tanh";
  Autoencoder ae(c);
  const Tensor x = batch();
  std::vector<Tensor> params;
  for (const Tensor& p : ae.parameters()) params.push_back(p.detach().clone().requires_grad_());
  for (JacobianOf of : {JacobianOf::encoder, JacobianOf::autoencoder}) {
    CAPTURE(jacobian_of_name(of));
    const Function f = [&](const std::vector<Tensor>& values) {
      return call_with_parameters(ae, values, [&] {
        Generator gen(3);
        return loss_with(ae, x, term(0.2, of), gen);
      });
    };
    const auto first = gradcheck(f, params);
    CHECK_MESSAGE(first.ok, first.message);
    const auto second = gradgradcheck(f, params);
    CHECK_MESSAGE(second.ok, second.message);
  }
}

TEST_CASE("one penalty value: gg_bench's routes, the variant spelling and the regularizer section agree") {
  json old_spelling = moons_config(), section = moons_config();
  old_spelling["variant"] = {{"kind", "contractive"}, {"lambda", 0.25}};
  section["regularizer"] = {{"kind", "contractive"}, {"lambda", 0.25}};
  Trainer a(old_spelling, make_regularizer_loss), b(section, make_regularizer_loss);
  CHECK(a.config()["variant"] == b.config()["variant"]);  // the old spelling is recorded in the canonical form
  CHECK(a.config()["regularizer"][0]["penalty"] == json{{"method", "exact"}});
  const Tensor x = slice(a.train_set().x, 0, 0, 32).to(DType::f64);
  const double via_variant = term_value(a, x), via_section = term_value(b, x);
  CHECK(via_variant == via_section);

  // gg_bench's hand-written model with the Trainer's weights: every route of its penalty gives that value.
  bench::Autoencoder ae(2, 8, 3, 0);
  const std::vector<Tensor> weights = a.model().parameters();
  REQUIRE(weights.size() == ae.params.size());
  for (size_t i = 0; i < weights.size(); ++i) ae.params[i] = weights[i].detach().clone().requires_grad_();
  const Tensor xl = x.detach().requires_grad_();
  for (bench::Penalty route : {bench::Penalty::exact_vectorized, bench::Penalty::exact_gram, bench::Penalty::exact_loop}) {
    CAPTURE(bench::penalty_name(route));
    const double bench_value = 0.25 * ae.penalty(xl, ae.encode(xl), route).item();
    CHECK(std::abs(bench_value - via_section) <= 1e-12 * std::abs(via_section));
  }
}

TEST_CASE("one penalty value: contractive_full and \"of\": \"autoencoder\" agree, exact and by Hutchinson") {
  for (int64_t probes : {0, 3}) {
    CAPTURE(probes);
    json old_spelling = moons_config(), section = moons_config();
    old_spelling["variant"] = {{"kind", "contractive_full"}, {"lambda", 0.5}, {"probes", probes}};
    json penalty = probes == 0 ? json{{"method", "exact"}} : json{{"method", "hutchinson"}, {"probes", probes}};
    section["regularizer"] = json::array({{{"kind", "contractive"}, {"lambda", 0.5}, {"of", "autoencoder"},
                                           {"penalty", penalty}}});
    Trainer a(old_spelling, make_regularizer_loss), b(section, make_regularizer_loss);
    CHECK(a.config() == b.config());
    const Tensor x = slice(a.train_set().x, 0, 0, 32).to(DType::f64);
    const double via_variant = term_value(a, x), via_section = term_value(b, x);
    CHECK(via_variant == via_section);
    if (probes == 0) {  // the Jacobian of D o E, straight from the generic penalty
      const Tensor xl = x.detach().requires_grad_();
      const double direct = 0.5 * mean(jacobian_sq({a.model()(xl), xl}, {"exact", "reverse"})).item();
      CHECK(std::abs(direct - via_section) <= 1e-12 * std::abs(via_section));
    }
  }
}

TEST_CASE("the old spelling is rewritten into the canonical regularizer list") {
  json c = moons_config();
  c["variant"] = {{"kind", "contractive_full"}, {"lambda", 0.1}, {"probes", 4}};
  c["regularizer"] = {{"kind", "poisson"}, {"lambda", 0.2}};
  const json canonical = canonical_config(c);
  CHECK(canonical["variant"]["kind"] == "plain");
  CHECK_FALSE(canonical["variant"].contains("probes"));
  const json expect = json::array({{{"kind", "contractive"},
                                    {"lambda", 0.1},
                                    {"of", "autoencoder"},
                                    {"penalty", {{"method", "hutchinson"}, {"probes", 4}}}},
                                   {{"kind", "poisson"}, {"lambda", 0.2}}});
  CHECK(canonical["regularizer"] == expect);
  CHECK(canonical_config(canonical) == canonical);  // idempotent: a recorded config.json reads back the same
  CHECK(find_regularizer_term(canonical, "poisson")->at("lambda") == 0.2);
  CHECK(find_regularizer_term(canonical, "sparsity") == nullptr);
  // Two contractive terms, one of them spelled as the variant, are refused by name.
  c["regularizer"] = {{"kind", "contractive"}, {"lambda", 0.2}};
  CHECK(test::contains(test::error_of([&] { canonical_config(c); }), "'contractive'"));
  // Without the regularizers' factory the error says which layer builds the term.
  c.erase("regularizer");
  CHECK(test::contains(test::error_of([&] { Trainer t(c); }), "regularizers/regularizer.h"));
}

TEST_CASE("epoch records name their terms, and records of older metrics.json files still read") {
  EpochRecord r;
  r.epoch = 2, r.loss = 1.5, r.reconstruction = 1.0, r.variant_term = 0.1;
  r.regularizers = {{"contractive", 0.15}, {"poisson", 0.25}};
  r.regularizer_total = 0.4;
  const json j = r;
  CHECK(j["regularizers"]["poisson"] == 0.25);
  const EpochRecord back = j.get<EpochRecord>();
  CHECK(back.regularizers == r.regularizers);
  CHECK(back.variant_term == 0.1);
  const json old = {{"epoch", 1}, {"loss", 2.0}, {"reconstruction", 1.5}, {"regularizer", 0.2}, {"extra", 0.3},
                    {"test_mse", 1.4}, {"lr", 1e-3}, {"seconds", 0.5}};
  const EpochRecord read = old.get<EpochRecord>();
  CHECK(read.variant_term == 0.2);
  CHECK(read.regularizer_total == 0.3);
  CHECK(read.regularizers.empty());
}
