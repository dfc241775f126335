#include "models/variants.h"

#include <nlohmann/json.hpp>

#include "datasets/corruption.h"

namespace gg {

const std::vector<std::string>& variant_kinds() {
  static const std::vector<std::string> kinds = {"plain",     "weight_decay", "denoising", "contractive",
                                                 "contractive_full", "sparse_kl", "sparse_l1", "variational",
                                                 "masked"};
  return kinds;
}

void validate(const VariantConfig& v, const AutoencoderConfig& model) {
  bool known = false;
  std::string list;
  for (const auto& k : variant_kinds()) known = known || k == v.kind, list += (list.empty() ? "" : ", ") + k;
  GG_CHECK(known, "variant.kind: unknown variant '" + v.kind + "' (known: " + list + ")");
  GG_CHECK(v.lambda >= 0, "variant.lambda: must be >= 0, got " + std::to_string(v.lambda));
  GG_CHECK(v.mask > 0 && v.mask < 1, "variant.mask: must be in (0, 1), got " + std::to_string(v.mask));
  GG_CHECK(v.rho > 0 && v.rho < 1, "variant.rho: must be in (0, 1), got " + std::to_string(v.rho));
  GG_CHECK(v.probes >= 0, "variant.probes: must be >= 0");
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

void to_json(nlohmann::json& j, const VariantConfig& v) {
  j = {{"kind", v.kind}, {"lambda", v.lambda}, {"corruption", v.corruption},
       {"mask", v.mask}, {"score", v.score}, {"rho", v.rho}, {"probes", v.probes}};
}

void from_json(const nlohmann::json& j, VariantConfig& v) {
  GG_CHECK(j.is_object(), "variant: expected a JSON object, got " + j.dump());
  v = VariantConfig{};
  for (const auto& [key, value] : j.items()) {
    const std::string where = "variant." + key;
    auto number = [&] {
      GG_CHECK(value.is_number(), where + ": expected a number, got " + value.dump());
      return value.get<double>();
    };
    if (key == "kind") {
      GG_CHECK(value.is_string(), where + ": expected a string, got " + value.dump());
      v.kind = value.get<std::string>();
    } else if (key == "corruption") {
      GG_CHECK(value.is_string(), where + ": expected a string such as \"noise:0.1\", got " + value.dump());
      v.corruption = value.get<std::string>();
    } else if (key == "score") {
      GG_CHECK(value.is_string(), where + ": expected \"hidden\" or \"all\", got " + value.dump());
      v.score = value.get<std::string>();
    } else if (key == "lambda") {
      v.lambda = number();
    } else if (key == "mask") {
      v.mask = number();
    } else if (key == "rho") {
      v.rho = number();
    } else if (key == "probes") {
      GG_CHECK(value.is_number_integer(), where + ": expected an integer, got " + value.dump());
      v.probes = value.get<int64_t>();
    } else {
      fail("variant: unknown key '" + key + "' (known: kind, lambda, corruption, mask, score, rho, probes)");
    }
  }
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

Tensor flatten_rows(const Tensor& t) { return reshape(t, {t.size(0), -1}); }

// ||J||_F^2 per sample, mean over the batch: exact or by Hutchinson's estimate.
Tensor jacobian_penalty(const Tensor& y, const Tensor& x, int64_t probes, Generator& gen) {
  return probes == 0 ? jacobian_frobenius_sq(flatten_rows(y), x)
                     : jacobian_frobenius_sq_hutchinson(flatten_rows(y), x, probes, gen);
}

// KL(rho || rho_hat) summed over code units, rho_hat the batch mean of each unit's activation.
Tensor sparsity_kl(const Tensor& code, double rho) {
  const Tensor rho_hat = mean(code, {0});
  return sum(rho * log(rho / rho_hat) + (1 - rho) * log((1 - rho) / (1 - rho_hat)));
}

}  // namespace

VariantLoss variant_loss(Autoencoder& model, const Tensor& x, const VariantConfig& v, Generator& gen) {
  const int64_t batch = x.size(0);
  VariantLoss out;
  out.regularizer = scalar_like(0.0, x);
  if (v.kind == "plain" || v.kind == "weight_decay") {
    out.reconstruction = mse(model(x), x);
    if (v.kind == "weight_decay") out.regularizer = v.lambda * weight_norm_sq(model);
  } else if (v.kind == "denoising") {
    const Tensor noisy = corrupt(x, parse_corruption(v.corruption), gen).x;
    out.reconstruction = mse(model(noisy), x);
  } else if (v.kind == "contractive" || v.kind == "contractive_full") {
    const Tensor input = x.detach().requires_grad_();  // the Jacobian is taken with respect to the data
    const Tensor code = model.encode(input);
    const Tensor recon = model.decode(code);
    out.reconstruction = mse(recon, x);
    out.regularizer = v.lambda * jacobian_penalty(v.kind == "contractive" ? code : recon, input, v.probes, gen);
  } else if (v.kind == "sparse_kl" || v.kind == "sparse_l1") {
    const Tensor code = model.encode(x);
    out.reconstruction = mse(model.decode(code), x);
    out.regularizer = v.lambda * (v.kind == "sparse_kl" ? sparsity_kl(code, v.rho) : sum(abs(code)) / double(batch));
  } else if (v.kind == "variational") {
    const auto q = model.encode_distribution(x);
    const Tensor eps = Tensor::randn(q.mean.shape(), gen, x.dtype(), x.device());
    const Tensor z = q.mean + exp(0.5 * q.logvar) * eps;  // reparameterization: gradients reach mu and sigma
    out.reconstruction = mse(model.decode(z), x);
    const Tensor kl = -0.5 * sum(1.0 + q.logvar - square(q.mean) - exp(q.logvar)) / double(batch);
    out.regularizer = v.lambda * kl;
  } else if (v.kind == "masked") {
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
  } else {
    fail("variant_loss: unknown variant '" + v.kind + "'");
  }
  out.total = out.reconstruction + out.regularizer;
  return out;
}

}  // namespace gg
