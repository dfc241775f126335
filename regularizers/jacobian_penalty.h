// The squared Frobenius norm of per-sample Jacobians, s_b = ||J_b||_F^2 with J_b = d y_b / d x_b, for a pair
// y [B, ...] = f(x [B, ...]) computed row by row (row b of y depends on row b of x only). This is the one
// implementation of the contractive penalty's maths (paper 000, eq. 3): contractive.h builds the
// autoencoder-level source s_phi and its cost model on it, and gg_bench's hand-written model calls it too.
// The engine provides only the generic machinery it uses (batched_vjp, one_hot_cotangents,
// batch_jacobian_forward).
//
// Every route returns s [B], differentiable again when create_graph is set (the default, so it can sit in a
// loss: the gradient of the penalty is then a second derivative). m is the width of a row of y, d of x.
//
//   exact        reverse  one backward pass with m one-hot cotangents [m, B, m] batched (is_grads_batched):
//                         m rows of every J_b at once; s_b = the sum of their squares
//                forward  d forward-mode columns of every J_b (the engine's batch_jacobian_forward): a d-wide
//                         pass instead of an m-wide one
//                gram     when y depends on x only through a first linear layer h = x W^T + b: J_x = J_h W,
//                         so s_b = sum_k r_bk (W W^T) r_bk^T over the m rows r_bk of J_h,b. The batched pass
//                         stops at h (rows [m B, H]) and rowwise_quadratic_form contracts them with W W^T:
//                         products of width H instead of d, and nothing [m, B, d] is formed
//                loop     m separate backward passes, one per output unit: the textbook baseline
//                auto     reverse, or forward when d < m (the narrower side)
//   hutchinson   s_b ~ (1/k) sum_p ||J_b^T u_bp||^2 with k probes u (E[u u^T] = I: Rademacher +-1 or Gaussian,
//                drawn from `gen`), all k through one batched pass; routes reverse (auto) or gram, the same two
//                ways as exact with k random cotangents instead of m one-hot ones. Unbiased per sample: for one
//                probe Var = 2 sum_{i != j} (J J^T)_ij^2 (Rademacher) or 2 ||J J^T||_F^2 (Gaussian), over k.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>

#include "engine/gradgrad.h"

namespace gg {

// How a Jacobian penalty is computed. "closed_form" and "auto" are an autoencoder's (contractive_cost
// resolves them from the model); jacobian_sq takes the other methods.
struct PenaltyOptions {
  std::string method = "auto";  // "exact", "hutchinson", "closed_form" or "auto" (picked by the cost model)
  int64_t probes = 1;           // hutchinson: number of random probes
  std::string probe_kind = "rademacher";  // hutchinson: "rademacher" or "gaussian"
  bool create_graph = true;     // keep the graph, so the result can be differentiated (it sits in a loss);
                                // false makes a plain value (for visualization)
  std::string route = "auto";   // exact: "auto", "reverse", "forward", "gram", "loop"; hutchinson: "auto",
                                // "reverse", "gram"; closed_form: "auto"
  int64_t auto_max_width = 64;  // auto: Hutchinson only when min(m, d) exceeds this
};

// Throws an Error naming the key ("<path>.method", ...) unless every field holds a valid value (method,
// route and their pairing).
void validate(const PenaltyOptions& o, const std::string& path = "penalty");
// JSON with keys method, probes, probe_kind, route, auto_max_width, create_graph. from_json fills missing
// keys with the defaults and refuses an unknown key (naming it and the valid ones), a wrongly typed or a bad
// value; its errors start with the object's path ("penalty" when read on its own).
void to_json(nlohmann::json& j, const PenaltyOptions& o);
void from_json(const nlohmann::json& j, PenaltyOptions& o);

// The pair whose Jacobians are measured.
struct JacobianPair {
  Tensor y;       // [B, ...] (flattened to [B, m]); row b a function of row b of x only
  Tensor x;       // [B, ...]: the tensor the Jacobian is taken against (it requires grad)
  Tensor h;       // route gram: the first linear layer's output h = x W^T + b [B, H], y's only path to x
  Tensor weight;  // route gram: that layer's W [H, d]
};

// What a call computes: method "exact" or "hutchinson" and one of its routes above ("auto" resolved by width).
struct JacobianPlan {
  std::string method = "exact";
  std::string route = "auto";
};

// s_b for every sample [B], by `plan`; options supply probes, probe_kind and create_graph, and `gen` draws
// the Hutchinson probes (required for that method only). Where the route computes the Jacobian's rows
// themselves (exact by reverse: J_b^T e_c for every code unit c, [m, B, ...x]) and `rows` is given, they are
// returned there, for a caller that needs J^T u for some other u as well (the Poisson regularizer); else
// *rows is left undefined.
Tensor jacobian_sq(const JacobianPair& pair, const JacobianPlan& plan = {}, const PenaltyOptions& options = {},
                   Generator* gen = nullptr, Tensor* rows = nullptr);

// k random cotangents [k, B, m] for y [B, m] with E[u u^T] = I: "rademacher" (+-1) or "gaussian".
Tensor random_probes(const Tensor& y, int64_t k, const std::string& kind, Generator& gen);

}  // namespace gg
