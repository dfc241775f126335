// The autoencoder variants of Table 2 of paper 002, each the reconstruction error plus a regularizer that
// makes the map locally contractive. One function computes any variant's loss for a batch, so a trainer
// needs no per-variant code.
//
//   kind              loss (mean over the batch; reconstruction error = mean squared error per entry)
//   plain             ||x - D(E(x))||^2                              contractive only through the bottleneck k
//   weight_decay      + lambda * sum_l ||W_l||_F^2                    every Linear/Conv weight, not biases
//   denoising         ||x - D(E(x~))||^2, x~ ~ q(x~ | x)              `corruption`, e.g. "noise:0.1"
//   sparse_kl         + lambda * sum_i KL(rho || rho^_i), rho^_i = mean_batch E_i(x)   needs sigmoid codes
//   sparse_l1         + lambda * ||E(x)||_1                           for relu codes
//   variational       ||x - D(z)||^2 + lambda * KL(q(z|x) || N(0, I)), z = mu + sigma * eps
//   masked            ||M o (x - D(E((1 - M) o x)))||^2 / |M|        M hides entries with probability `mask`;
//                                                                   score = "all" puts 1 for M outside the input
//
// The contractive penalties of the table, lambda ||J_E(x)||_F^2 (Rifai et al. 2011) and
// lambda ||J_{D o E}(x)||_F^2, are a regularizer term of the config ({"regularizer": {"kind": "contractive",
// "of": "encoder" | "autoencoder", ...}}, regularizers/contractive.h), not a variant: the Trainer rewrites
// the old spellings variant.kind "contractive" and "contractive_full" into that term (models/training.h).
// The masked loss follows MAE (He et al. 2021) and scores only the hidden entries by default; with
// score = "all" it scores every entry, which is what a set without context between entries (2-D points,
// where a hidden coordinate cannot be inferred from the other) needs to learn the identity on the data.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "engine/registry.h"
#include "models/autoencoder.h"

namespace gg {

struct VariantConfig {
  std::string kind = "plain";
  double lambda = 0.0;                  // regularizer weight (the variational KL weight, beta)
  std::string corruption = "noise:0.1";  // denoising: a datasets/corruption.h spec
  double mask = 0.5;                     // masked: probability that an entry (a pixel, across channels) is hidden
  std::string score = "hidden";          // masked: score the "hidden" entries (MAE) or "all" of them
  double rho = 0.05;                     // sparse_kl: target mean activation of each code unit
};

// Refuses an unknown kind, key or bad value with a message naming it; `model` is checked against the kind
// (sparse_kl needs sigmoid codes, variational a variational encoder).
void validate(const VariantConfig& v, const AutoencoderConfig& model);
void to_json(nlohmann::json& j, const VariantConfig& v);
void from_json(const nlohmann::json& j, VariantConfig& v);

struct VariantLoss {
  Tensor total;           // reconstruction + regularizer, a scalar to differentiate
  Tensor reconstruction;  // the data term alone
  Tensor regularizer;     // lambda * R (zero for plain, denoising and masked, whose regularization is in the data)
};

// One variant's loss: fills out.reconstruction and (where the variant has one) out.regularizer.
using VariantLossFn = void (*)(Autoencoder& model, const Tensor& x, const VariantConfig& v, Generator& gen,
                               VariantLoss& out);
// Every variant by its kind, with a one-line summary (`gradgrad help` lists them).
const Registry<VariantLossFn>& variant_registry();

// The loss of one batch x [B, input_shape...]. `gen` draws the corruption, mask or reparameterization noise,
// so a seed fixes them.
VariantLoss variant_loss(Autoencoder& model, const Tensor& x, const VariantConfig& v, Generator& gen);

// sum_l ||W_l||_F^2 over the model's Linear and Conv weights (parameters named "*.weight").
Tensor weight_norm_sq(const Module& model);

}  // namespace gg
