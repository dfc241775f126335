// The loss terms of Table 2 (paper 002): each value against a hand computation on a model small enough to
// write out, and each gradient against finite differences.
#include <nlohmann/json.hpp>

#include "datasets/corruption.h"
#include "models/variants.h"
#include "tests/helpers.h"

using namespace gg;

namespace {

// A one-layer encoder z = act(W1 x + b1) and a linear decoder x^ = W2 z + b2, in f64: every variant's loss
// can be written out by hand from W1, b1, W2, b2.
AutoencoderConfig tiny(const std::string& code_activation = "identity", bool variational = false) {
  AutoencoderConfig c;
  c.input_shape = {3};
  c.code_dim = 2;
  c.hidden = {};
  c.code_activation = code_activation;
  c.variational = variational;
  c.dtype = DType::f64;
  c.seed = 4;
  return c;
}

struct Weights {
  Tensor w1, b1, w2, b2;
};
Weights weights(const Autoencoder& ae) {
  const auto p = ae.parameters();
  REQUIRE(p.size() == 4);
  return {p[0].detach(), p[1].detach(), p[2].detach(), p[3].detach()};
}

Tensor batch() { return test::input({5, 3}, 21).detach(); }

double loss_of(Autoencoder& ae, const VariantConfig& v, const Tensor& x, uint64_t seed = 1) {
  Generator gen(seed);
  return variant_loss(ae, x, v, gen).total.item();
}

// gradcheck of the total loss with respect to every parameter, the variant's random draws fixed.
void check_parameter_gradients(Autoencoder& ae, const VariantConfig& v, bool second_order) {
  const Tensor x = batch();
  Function f = [&](const std::vector<Tensor>& p) {
    return call_with_parameters(ae, p, [&] {
      Generator gen(3);
      return variant_loss(ae, x, v, gen).total;
    });
  };
  std::vector<Tensor> params;
  for (const Tensor& p : ae.parameters()) params.push_back(p.detach().clone().requires_grad_());
  const auto first = gradcheck(f, params);
  CHECK_MESSAGE(first.ok, v.kind << ": " << first.message);
  if (second_order) {
    const auto second = gradgradcheck(f, params);
    CHECK_MESSAGE(second.ok, v.kind << ": " << second.message);
  }
}

}  // namespace

TEST_CASE("plain and weight decay losses equal their formulas") {
  Autoencoder ae(tiny());
  const auto [w1, b1, w2, b2] = weights(ae);
  const Tensor x = batch();
  const Tensor recon = matmul(matmul(x, w1, false, true) + b1, w2, false, true) + b2;
  const double mse_hand = mean(square(recon - x)).item();
  VariantConfig v;
  CHECK(loss_of(ae, v, x) == doctest::Approx(mse_hand).epsilon(1e-12));
  v.kind = "weight_decay", v.lambda = 0.3;
  CHECK(loss_of(ae, v, x) == doctest::Approx(mse_hand + 0.3 * (sum(square(w1)) + sum(square(w2))).item()).epsilon(1e-12));
  // (The contractive penalties are a regularizer term now: tests/test_contractive_term.cpp.)
}

TEST_CASE("sparse KL and sparse L1 penalties equal their formulas") {
  const Tensor x = batch();
  {
    Autoencoder ae(tiny("sigmoid"));
    const auto [w1, b1, w2, b2] = weights(ae);
    const auto rho_hat = mean(sigmoid(matmul(x, w1, false, true) + b1), {0}).to_vector();
    double kl = 0;
    for (double q : rho_hat) kl += 0.1 * std::log(0.1 / q) + 0.9 * std::log(0.9 / (1 - q));
    VariantConfig v{.kind = "sparse_kl", .lambda = 2.0, .rho = 0.1};
    Generator gen(0);
    CHECK(variant_loss(ae, x, v, gen).regularizer.item() == doctest::Approx(2.0 * kl).epsilon(1e-12));
  }
  {
    Autoencoder ae(tiny("relu"));
    const auto [w1, b1, w2, b2] = weights(ae);
    const double l1 = sum(relu(matmul(x, w1, false, true) + b1)).item() / 5.0;
    VariantConfig v{.kind = "sparse_l1", .lambda = 0.5};
    Generator gen(0);
    CHECK(variant_loss(ae, x, v, gen).regularizer.item() == doctest::Approx(0.5 * l1).epsilon(1e-12));
  }
}

TEST_CASE("variational: reparameterized reconstruction and the Gaussian KL") {
  Autoencoder ae(tiny("identity", true));
  const auto p = ae.parameters();
  const Tensor x = batch();
  const auto q = ae.encode_distribution(x);
  Generator draw(9);
  const Tensor eps = Tensor::randn(q.mean.shape(), draw, DType::f64);
  const Tensor z = q.mean + exp(0.5 * q.logvar) * eps;
  const double recon = mse(ae.decode(z), x).item();
  const double kl = (-0.5 * sum(1.0 + q.logvar - square(q.mean) - exp(q.logvar))).item() / 5.0;
  VariantConfig v{.kind = "variational", .lambda = 0.7};
  Generator gen(9);
  const VariantLoss l = variant_loss(ae, x, v, gen);
  CHECK(l.reconstruction.item() == doctest::Approx(recon).epsilon(1e-12));
  CHECK(l.regularizer.item() == doctest::Approx(0.7 * kl).epsilon(1e-12));
}

TEST_CASE("denoising and masked reconstruct the clean data from a corrupted input") {
  Autoencoder ae(tiny());
  const Tensor x = batch();
  {
    Generator draw(2);
    const Tensor noisy = gaussian_noise(x, 0.2, draw).x;
    VariantConfig v{.kind = "denoising", .corruption = "noise:0.2"};
    Generator gen(2);
    CHECK(variant_loss(ae, x, v, gen).total.item() == doctest::Approx(mse(ae(noisy), x).item()).epsilon(1e-12));
  }
  {
    Generator draw(6);
    const auto hidden = Tensor::rand(x.shape(), draw, DType::f64).to_vector();
    const auto xv = x.to_vector();
    std::vector<double> kept(xv.size()), is_hidden(xv.size());
    for (size_t i = 0; i < xv.size(); ++i) is_hidden[i] = hidden[i] < 0.4, kept[i] = is_hidden[i] ? 0 : xv[i];
    const auto recon = ae(Tensor::from_data(kept, x.shape(), DType::f64)).to_vector();
    double hidden_sq = 0, hidden_n = 0, all_sq = 0;
    for (size_t i = 0; i < xv.size(); ++i) {
      const double e2 = (recon[i] - xv[i]) * (recon[i] - xv[i]);
      all_sq += e2;
      if (is_hidden[i]) hidden_sq += e2, hidden_n += 1;
    }
    VariantConfig v{.kind = "masked", .mask = 0.4};
    Generator gen(6);
    CHECK(variant_loss(ae, x, v, gen).total.item() == doctest::Approx(hidden_sq / hidden_n).epsilon(1e-12));
    v.score = "all";
    Generator again(6);
    CHECK(variant_loss(ae, x, v, again).total.item() == doctest::Approx(all_sq / xv.size()).epsilon(1e-12));
  }
}

TEST_CASE("every variant's gradient reaches every parameter and matches finite differences") {
  for (const auto& kind : variant_registry().names()) {
    CAPTURE(kind);
    AutoencoderConfig c = tiny(kind == "sparse_kl" ? "sigmoid" : kind == "sparse_l1" ? "softplus" : "identity",
                               kind == "variational");
    c.hidden = {4};
    c.activation = "tanh";
    Autoencoder ae(c);
    VariantConfig v;
    v.kind = kind, v.lambda = 0.2, v.corruption = "noise:0.1";
    check_parameter_gradients(ae, v, false);  // second order: the contractive term's, test_contractive_term.cpp
  }
}

TEST_CASE("variant configs: JSON round trip, and unknown kinds, keys and mismatched models are refused") {
  VariantConfig v{.kind = "sparse_kl", .lambda = 0.5, .rho = 0.2};
  const VariantConfig back = nlohmann::json(v).get<VariantConfig>();
  CHECK(back.kind == "sparse_kl");
  CHECK(back.lambda == 0.5);
  CHECK(back.rho == 0.2);
  CHECK_THROWS_WITH_AS(nlohmann::json({{"kind", "plain"}, {"lamda", 1}}).get<VariantConfig>(),
                       doctest::Contains("unknown key 'lamda'"), Error);
  CHECK_THROWS_WITH_AS(nlohmann::json({{"lambda", "big"}}).get<VariantConfig>(),
                       doctest::Contains("variant.lambda: expected a number"), Error);
  CHECK_THROWS_WITH_AS(validate(VariantConfig{.kind = "sparse"}, tiny()), doctest::Contains("unknown variant 'sparse'"),
                       Error);
  CHECK_THROWS_WITH_AS(validate(VariantConfig{.kind = "sparse_kl"}, tiny()),
                       doctest::Contains("needs model.code_activation = \"sigmoid\""), Error);
  CHECK_THROWS_WITH_AS(validate(VariantConfig{.kind = "variational"}, tiny()),
                       doctest::Contains("needs model.variational = true"), Error);
  CHECK_THROWS_WITH_AS(validate(VariantConfig{.kind = "denoising", .corruption = "blur:1"}, tiny()), doctest::Contains("blur"),
                       Error);
}
