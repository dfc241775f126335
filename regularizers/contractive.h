// The contractive source s_phi(x) = ||J_f(x)||_F^2 (paper 000, eq. 3) of an autoencoder's encoder f, per
// sample, and the penalty R_CAE = E[s_phi(x)] (the batch mean), differentiable with respect to the encoder's
// parameters (every path keeps its graph, so the penalty can sit in a loss and be trained).
//
// Methods (PenaltyOptions::method) and their routes (PenaltyOptions::route). B is the batch, d the input
// width (numel of one sample), m the code width, H the first Linear layer's width (mlp encoders).
//
//   exact        the whole per-sample Jacobian J_b (m x d), one of four routes:
//                  reverse  one backward pass with m one-hot cotangents [m, B, m] batched (is_grads_batched):
//                           m rows of every J_b at once; s_b = sum of their squares
//                  forward  d forward-mode columns of every J_b by the double-vjp trick (the engine's
//                           batch_jacobian_forward): a d-wide pass instead of an m-wide one
//                  gram     mlp encoders only. With h = W x + b the first Linear layer, J_x = J_h W, so
//                           ||J_x,b||_F^2 = sum_k r_bk (W W^T) r_bk^T over the m rows r_bk of J_h,b. The
//                           batched pass stops at h (rows [m B, H]) and rowwise_quadratic_form contracts them
//                           with W W^T: products of width H instead of d, and nothing [m, B, d] is formed
//                  loop     m separate backward passes, one per code unit: the textbook baseline (benchmarks;
//                           never picked by auto)
//   hutchinson   s_b ~ (1/k) sum_p ||J_b^T u_bp||^2 with k probes u (E[u u^T] = I: Rademacher +-1 or
//                Gaussian, drawn from `gen`), all k through one batched pass. Unbiased per sample: for one
//                probe Var = 2 sum_{i != j} (J J^T)_ij^2 (Rademacher) or 2 ||J J^T||_F^2 (Gaussian), divided by
//                k. Routes reverse or gram (the same two ways as exact, with k random cotangents instead of
//                m one-hot ones)
//   closed_form  Rifai et al. 2011's formula for a one-layer sigmoid encoder h = sigmoid(W x + b):
//                s = sum_i (h_i (1 - h_i))^2 sum_j W_ij^2. Applies to arch "mlp", hidden [], code_activation
//                "sigmoid" (not variational); any other model is refused with an error saying why
//   auto         the cost model below picks the method and the route
//
// A variational encoder's f is its mean (Autoencoder::encode).
//
// Cost model (contractive_cost; FLOPs of one training step's penalty part, forward and backward, on top of
// the plain reconstruction step 3 B (F_enc + F_dec)). F is one sample's encoder forward FLOPs from the
// model's layer widths (2 in out per Linear, 2 C_in C_out 9 H_out W_out per 3x3 conv), F_rest the same
// without the first Linear layer (d -> H). A batched backward pass of P cotangents costs about P B F (input
// gradients only), and the loss's backward through that recorded pass twice as much again, hence 3 P B F:
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
// the toy 2-64-2 encoder exact/reverse; for a 2-input encoder with an 8-wide code exact/forward.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>

#include "models/autoencoder.h"

namespace gg {

struct PenaltyOptions {
  std::string method = "auto";  // "exact", "hutchinson", "closed_form" or "auto" (picked by the cost model)
  int64_t probes = 1;           // hutchinson: number of random probes
  std::string probe_kind = "rademacher";  // hutchinson: "rademacher" or "gaussian"
  bool create_graph = true;     // keep the graph, so the result can be differentiated (it sits in a loss);
                                // a run-time switch, not part of the JSON
  std::string route = "auto";   // exact: "auto", "reverse", "forward", "gram", "loop"; hutchinson: "auto",
                                // "reverse", "gram"; closed_form: "auto"
  int64_t auto_max_width = 64;  // auto: Hutchinson only when min(m, d) exceeds this
};

// Throws an Error naming the key unless every field holds a valid value (method, route and their pairing).
void validate(const PenaltyOptions& o);
// JSON with keys method, probes, probe_kind, route, auto_max_width. from_json fills missing keys with the
// defaults and refuses an unknown key (naming it and the valid ones), a wrongly typed or a bad value.
void to_json(nlohmann::json& j, const PenaltyOptions& o);
void from_json(const nlohmann::json& j, PenaltyOptions& o);

// True for the one-layer sigmoid encoder the closed form covers (mlp, hidden [], code_activation sigmoid,
// not variational); otherwise false, with the reason in *why when given.
bool has_closed_form(const AutoencoderConfig& model, std::string* why = nullptr);

// What a call computes: method "exact", "hutchinson" or "closed_form"; route "reverse", "forward", "gram",
// "loop" (exact), "reverse" or "gram" (hutchinson), "" (closed_form).
struct ContractivePlan {
  std::string method, route;
};

// The cost model's numbers for a model and batch: FLOPs per training step as described above (< 0 where a
// path does not apply to the model), and the plan that `options` resolves to (auto resolved by them).
struct ContractiveCost {
  int64_t batch = 0, m = 0, d = 0;
  int64_t first_linear_width = 0;  // H where the gram route applies (mlp), 0 otherwise
  double encoder_flops = 0;        // F: one sample's forward through the encoder
  double encoder_rest_flops = 0;   // F_rest: the same after the first Linear layer (mlp), else F
  double decoder_flops = 0;        // one sample's forward through the decoder
  double plain_step = 0;           // 3 B (F_enc + F_dec): a reconstruction step's forward and backward
  double reverse = 0, forward = 0, gram = -1, loop = 0, hutchinson_reverse = 0, hutchinson_gram = -1,
         closed_form = -1;
  ContractivePlan plan;
  double planned = 0;  // the cost of `plan`
};
// Validates `options` against the model (closed_form on a model without one, gram on a conv encoder and
// route/method mismatches are Errors saying why).
ContractiveCost contractive_cost(const AutoencoderConfig& model, int64_t batch, const PenaltyOptions& options);

struct ContractiveSource {
  Tensor x;  // the input leaf the Jacobian is taken against (x detached, requiring grad)
  Tensor z;  // f(x) = model.encode(x): [B, m]
  Tensor s;  // s_phi(x_b) = ||J_f(x_b)||_F^2 per sample: [B], differentiable with respect to the parameters
  ContractivePlan plan;  // the method and route used
};

// Encodes x [B, input_shape...] and returns its per-sample source s_phi (eq. 3). `gen` draws the Hutchinson
// probes (other methods do not touch it).
ContractiveSource contractive_source(Autoencoder& model, const Tensor& x, const PenaltyOptions& options,
                                     Generator& gen);
// R_CAE on the batch: the mean of contractive_source(...).s, a scalar.
Tensor contractive_penalty(Autoencoder& model, const Tensor& x, const PenaltyOptions& options, Generator& gen);

}  // namespace gg
