// The contractive source s_phi(x) = ||J_f(x)||_F^2 (paper 000, eq. 3) of an autoencoder's encoder f, per
// sample, and the penalty R_CAE = E[s_phi(x)] (the batch mean), differentiable with respect to the encoder's
// parameters (every path keeps its graph, so the penalty can sit in a loss and be trained).
//
// Methods (PenaltyOptions::method, regularizers/jacobian_penalty.h) and their routes (PenaltyOptions::route).
// B is the batch, d the input width (numel of one sample), m the output width (the code width k for the
// encoder; d for the whole map D o E), H the first Linear layer's width (mlp encoders).
//
//   exact        the whole per-sample Jacobian J_b (m x d) by route reverse, forward, gram (mlp encoders
//                only: through the first Linear layer) or loop (benchmarks; never picked by auto), computed
//                by jacobian_sq (jacobian_penalty.h, where the routes are described)
//   hutchinson   Hutchinson's estimate with k probes, route reverse or gram (jacobian_penalty.h)
//   closed_form  Rifai et al. 2011's formula for a one-layer sigmoid encoder h = sigmoid(W x + b):
//                s = sum_i (h_i (1 - h_i))^2 sum_j W_ij^2. Applies to arch "mlp", hidden [], code_activation
//                "sigmoid" (not variational); any other model is refused with an error saying why
//   auto         the cost model below picks the method and the route
//
// Whose Jacobian (JacobianOf): the encoder f = E (the default; s_phi of eq. 3, R_CAE its batch mean) or the
// whole map D o E (the "R-Contractive" penalty, m = d). A variational encoder's f is its mean
// (Autoencoder::encode). The closed form is the encoder's only.
//
// Cost model (contractive_cost; FLOPs of one training step's penalty part, forward and backward, on top of
// the plain reconstruction step 3 B (F_enc + F_dec)). F is one sample's forward FLOPs through the map (the
// encoder, or encoder and decoder) from the model's layer widths (2 in out per Linear, 2 C_in C_out 9 H_out
// W_out per 3x3 conv), F_rest the same without the first Linear layer (d -> H). A batched backward pass of P
// cotangents costs about P B F (input gradients only), and the loss's backward through that recorded pass
// twice as much again, hence 3 P B F:
//
//   reverse      3 m B F
//   forward      3 (d + 2) B F          (a 1-wide recorded pass and its backward, then d columns)
//   gram         3 m B F_rest + 4 m B H^2 + 4 H^2 d
//                                       (the quadratic form: one GEMM forward, one backward; W W^T the same)
//   loop         3 m B F                (the reverse route's FLOPs in m passes; not a candidate)
//   hutchinson   min(3 k B F, 3 k B F_rest + 4 k B H^2 + 4 H^2 d)   with k = probes
//   closed_form  10 B m + 4 m d         (elementwise only)
//
// auto picks, in order:
//   1. closed_form when the model has one (a one-layer sigmoid encoder);
//   2. otherwise the cheapest exact route among reverse, forward and gram (where it applies), unless m and d
//      are both large, min(m, d) > auto_max_width (64 by default), and Hutchinson with the given probes is
//      cheaper still: then hutchinson, by its cheaper route. The exact routes cost in proportion to
//      min(m, d) passes' worth of products, Hutchinson to k, so "both large" is where exactness stops being
//      affordable; below it the exact value is cheap enough to be worth having without noise.
// An explicit method with route "auto" picks the cheapest of that method's routes the same way.
// With the MNIST MLP 784-512-32 (B = 128) auto picks exact/gram; with code 128, hutchinson/reverse; for
// the toy 2-64-2 encoder exact/reverse; for a 2-input encoder with an 8-wide code exact/forward. The Poisson
// step's source sets auto_max_width to 8 (poisson_source_defaults in poisson.h), so there the 784-512-32 MLP
// takes hutchinson/reverse.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>

#include "models/autoencoder.h"
#include "regularizers/jacobian_penalty.h"

namespace gg {

// Whose Jacobian a contractive penalty measures.
enum class JacobianOf { encoder, autoencoder };
const char* jacobian_of_name(JacobianOf of);  // "encoder" or "autoencoder"

// True for the one-layer sigmoid encoder the closed form covers (mlp, hidden [], code_activation sigmoid,
// not variational); otherwise false, with the reason in *why when given.
bool has_closed_form(const AutoencoderConfig& model, std::string* why = nullptr);

// What a call computes: method "exact", "hutchinson" or "closed_form"; route "reverse", "forward", "gram",
// "loop" (exact), "reverse" or "gram" (hutchinson), "" (closed_form).
using ContractivePlan = JacobianPlan;

// The cost model's numbers for a model and batch: FLOPs per training step as described above (< 0 where a
// path does not apply to the model), and the plan that `options` resolves to (auto resolved by them).
struct ContractiveCost {
  int64_t batch = 0, m = 0, d = 0;
  int64_t first_linear_width = 0;  // H where the gram route applies (mlp), 0 otherwise
  double encoder_flops = 0;        // one sample's forward through the encoder
  double encoder_rest_flops = 0;   // the same after the first Linear layer (mlp), else the same
  double decoder_flops = 0;        // one sample's forward through the decoder
  double map_flops = 0;            // F: through the map differentiated (the encoder, or encoder and decoder)
  double plain_step = 0;           // 3 B (F_enc + F_dec): a reconstruction step's forward and backward
  double reverse = 0, forward = 0, gram = -1, loop = 0, hutchinson_reverse = 0, hutchinson_gram = -1,
         closed_form = -1;
  ContractivePlan plan;
  double planned = 0;  // the cost of `plan`
};
// Validates `options` against the model (closed_form on a model without one or of the whole map, gram on a
// conv encoder and route/method mismatches are Errors saying why).
ContractiveCost contractive_cost(const AutoencoderConfig& model, int64_t batch, const PenaltyOptions& options,
                                 JacobianOf of = JacobianOf::encoder);

struct ContractiveSource {
  Tensor x;  // the input leaf the Jacobian is taken against (x detached, requiring grad)
  Tensor z;  // the code model.encode(x): [B, k]
  Tensor y;  // the map's output whose Jacobian is measured: z (encoder) or D(z) flattened [B, d] (autoencoder)
  Tensor s;  // ||J(x_b)||_F^2 per sample (s_phi of eq. 3 for the encoder): [B], differentiable with respect to
             // the parameters
  ContractivePlan plan;  // the method and route used
  Tensor jacobian_rows;  // J(x_b)^T e_c for every output unit c, [k, B, input_shape...], where the route
                         // computed them (exact by reverse); undefined otherwise
};

// Encodes x [B, input_shape...] and returns the per-sample source (eq. 3 for the encoder). `gen` draws the
// Hutchinson probes (other methods do not touch it).
ContractiveSource contractive_source(Autoencoder& model, const Tensor& x, const PenaltyOptions& options,
                                     Generator& gen, JacobianOf of = JacobianOf::encoder);
// R_CAE on the batch (eq. 3's batch mean): the mean of contractive_source(...).s, a scalar.
Tensor contractive_penalty(Autoencoder& model, const Tensor& x, const PenaltyOptions& options, Generator& gen,
                           JacobianOf of = JacobianOf::encoder);

// The contractive term of a config's "regularizer" section (regularizer.h):
//   {"kind": "contractive", "lambda": L, "of": "encoder" | "autoencoder", "penalty": PenaltyOptions}
// lambda * mean_b ||J(x_b)||_F^2; "of" defaults to "encoder" (R_CAE, eq. 3), "autoencoder" is the Jacobian of
// D o E. lambda is required; an unknown key or a bad value is an Error naming it.
struct ContractiveTerm {
  double lambda = 0;
  JacobianOf of = JacobianOf::encoder;
  PenaltyOptions penalty;
};
void to_json(nlohmann::json& j, const ContractiveTerm& t);
void from_json(const nlohmann::json& j, ContractiveTerm& t);
// lambda * contractive_penalty(...) for one batch.
Tensor contractive_term(Autoencoder& model, const Tensor& x, const ContractiveTerm& term, Generator& gen);

}  // namespace gg
