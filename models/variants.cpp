#include "models/variants.h"

#include <nlohmann/json.hpp>

#include "datasets/corruption.h"
#include "models/config_reader.h"

namespace gg {

void validate(const VariantConfig& v, const AutoencoderConfig& model) {
  GG_CHECK(v.kind != "contractive" && v.kind != "contractive_full",
           "variant.kind: \"" + v.kind + "\" is a regularizer term now ({\"regularizer\": {\"kind\": \"contractive\", "
           "...}}); the Trainer rewrites a config that still says it (complete_config in models/training.cpp)");
  variant_registry().at(v.kind, "variant.kind");
  GG_CHECK(v.lambda >= 0, "variant.lambda: must be >= 0, got " + std::to_string(v.lambda));
  GG_CHECK(v.mask > 0 && v.mask < 1, "variant.mask: must be in (0, 1), got " + std::to_string(v.mask));
  GG_CHECK(v.rho > 0 && v.rho < 1, "variant.rho: must be in (0, 1), got " + std::to_string(v.rho));
  GG_CHECK(v.score == "hidden" || v.score == "all", "variant.score: must be \"hidden\" or \"all\", got \"" + v.score + "\"");
  if (v.kind == "denoising") parse_corruption(v.corruption);
  if (v.kind == "sparse_kl")
    GG_CHECK(model.code_activation == "sigmoid",
             "variant sparse_kl needs model.code_activation = \"sigmoid\" (the KL is of mean activations in (0, 1)), "
             "got \"" + model.code_activation + "\"");
  GG_CHECK((v.kind == "variational") == model.variational,
           v.kind == "variational" ? "variant variational needs model.variational = true"
                                   : "model.variational = true needs variant.kind = \"variational\"");
}

GG_CONFIG_FIELDS(VariantConfig, kind, lambda, corruption, mask, score, rho)

void to_json(nlohmann::json& j, const VariantConfig& v) { write_fields(j, v); }

void from_json(const nlohmann::json& j, VariantConfig& out) {
  ConfigReader r(j, "variant");
  VariantConfig v;
  read_fields(r, v);
  r.done();
  out = v;
}

Tensor weight_norm_sq(const Module& model) {
  Tensor total;
  for (const auto& [name, p] : model.named_parameters()) {
    if (name.size() < 7 || name.compare(name.size() - 7, 7, ".weight") != 0) continue;
    const Tensor term = sum(square(p));
    total = total.defined() ? total + term : term;
  }
  GG_CHECK(total.defined(), "weight_norm_sq: the model has no parameter named *.weight");
  return total;
}

namespace {

// KL(rho || rho_hat) summed over code units, rho_hat the batch mean of each unit's activation.
Tensor sparsity_kl(const Tensor& code, double rho) {
  const Tensor rho_hat = mean(code, {0});
  return sum(rho * log(rho / rho_hat) + (1 - rho) * log((1 - rho) / (1 - rho_hat)));
}

}  // namespace

namespace {

// The reconstruction of x itself, with lambda * ||W||^2 for weight_decay.
void plain_loss(Autoencoder& model, const Tensor& x, const VariantConfig& v, Generator&, VariantLoss& out) {
  out.reconstruction = mse(model(x), x);
  if (v.kind == "weight_decay") out.regularizer = v.lambda * weight_norm_sq(model);
}

void denoising_loss(Autoencoder& model, const Tensor& x, const VariantConfig& v, Generator& gen, VariantLoss& out) {
  const Tensor noisy = corrupt(x, parse_corruption(v.corruption), gen).x;
  out.reconstruction = mse(model(noisy), x);
}

void sparse_loss(Autoencoder& model, const Tensor& x, const VariantConfig& v, Generator&, VariantLoss& out) {
  const Tensor code = model.encode(x);
  out.reconstruction = mse(model.decode(code), x);
  out.regularizer = v.lambda * (v.kind == "sparse_kl" ? sparsity_kl(code, v.rho) : sum(abs(code)) / double(x.size(0)));
}

void variational_loss(Autoencoder& model, const Tensor& x, const VariantConfig& v, Generator& gen, VariantLoss& out) {
  const auto q = model.encode_distribution(x);
  const Tensor eps = Tensor::randn(q.mean.shape(), gen, x.dtype(), x.device());
  const Tensor z = q.mean + exp(0.5 * q.logvar) * eps;  // reparameterization: gradients reach mu and sigma
  out.reconstruction = mse(model.decode(z), x);
  const Tensor kl = -0.5 * sum(1.0 + q.logvar - square(q.mean) - exp(q.logvar)) / double(x.size(0));
  out.regularizer = v.lambda * kl;
}

void masked_loss(Autoencoder& model, const Tensor& x, const VariantConfig& v, Generator& gen, VariantLoss& out) {
  Shape mask_shape = x.shape();
  if (x.dim() == 4) mask_shape[1] = 1;  // hide whole pixels, across channels
  const Tensor hidden = lt(Tensor::rand(mask_shape, gen, x.dtype(), x.device()), scalar_like(v.mask, x));
  const Tensor recon = model((1.0 - hidden) * x);
  if (v.score == "all") {
    out.reconstruction = mse(recon, x);
  } else {
    const Tensor hidden_entries = sum(expand(hidden, x.shape()));
    out.reconstruction = sum(square(hidden * (x - recon))) / maximum(hidden_entries, scalar_like(1.0, x));
  }
}

}  // namespace

const Registry<VariantLossFn>& variant_registry() {
  static const Registry<VariantLossFn> registry(
      "variant", {{"plain", "||x - D(E(x))||^2: contractive only through the bottleneck", plain_loss},
                  {"weight_decay", "+ lambda sum_l ||W_l||_F^2 over every Linear/Conv weight", plain_loss},
                  {"denoising", "||x - D(E(x~))||^2 with x~ drawn by `corruption`", denoising_loss},
                  {"sparse_kl", "+ lambda sum_i KL(rho || mean_batch E_i(x)); needs sigmoid codes", sparse_loss},
                  {"sparse_l1", "+ lambda ||E(x)||_1", sparse_loss},
                  {"variational", "||x - D(z)||^2 + lambda KL(q(z|x) || N(0, I))", variational_loss},
                  {"masked", "||M o (x - D(E((1 - M) o x)))||^2 / |M|, entries hidden with probability `mask`",
                   masked_loss}});
  return registry;
}

VariantLoss variant_loss(Autoencoder& model, const Tensor& x, const VariantConfig& v, Generator& gen) {
  VariantLoss out;
  out.regularizer = scalar_like(0.0, x);
  variant_registry().at(v.kind, "variant_loss: variant.kind").make(model, x, v, gen, out);
  out.total = out.reconstruction + out.regularizer;
  return out;
}

}  // namespace gg
