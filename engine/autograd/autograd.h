// Reverse-mode differentiation: grad mode, anomaly mode, the engine entry points and the functional API.
#pragma once

#include <functional>
#include <vector>

#include "engine/tensor.h"

namespace gg {

// ---- Modes (node.cpp, beside record(), which reads them) ----------------------------------------------
bool grad_enabled();
// Turns graph recording off (or on) for the scope: no node is allocated while it is off.
class GradModeGuard {
 public:
  explicit GradModeGuard(bool enabled);
  ~GradModeGuard();
  GradModeGuard(const GradModeGuard&) = delete;
  GradModeGuard& operator=(const GradModeGuard&) = delete;

 private:
  bool previous_;
};
struct NoGradGuard : GradModeGuard {
  NoGradGuard() : GradModeGuard(false) {}
};

// In anomaly mode every op's output (forward and backward) is checked, and the first NaN or Inf raises an
// error naming the op that made it.
bool anomaly_enabled();
class AnomalyModeGuard {
 public:
  explicit AnomalyModeGuard(bool enabled = true);
  ~AnomalyModeGuard();
  AnomalyModeGuard(const AnomalyModeGuard&) = delete;
  AnomalyModeGuard& operator=(const AnomalyModeGuard&) = delete;

 private:
  bool previous_;
};
// Throws, naming `op`, if `t` holds a NaN or Inf (called by record() in anomaly mode).
void check_finite(const Tensor& t, const char* op);

// ---- Engine (engine.cpp) ------------------------------------------------------------------------------
struct GradOptions {
  bool retain_graph = false;  // keep the saved tensors for another pass (implied by create_graph)
  bool create_graph = false;  // record the backward pass so its result can be differentiated again
  // grad_outputs carry this many leading axes, each index a separate cotangent (PyTorch's
  // is_grads_batched): one pass returns a batch of vector-Jacobian products.
  int64_t batch_axes = 0;
};

// d(sum_i <grad_outputs[i], outputs[i]>)/d(inputs), as torch.autograd.grad. An undefined grad_output
// means ones (for a scalar output). An input the outputs do not depend on gets zeros.
std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs = {}, GradOptions options = {});
Tensor grad(const Tensor& output, const Tensor& input, const Tensor& grad_output = {}, GradOptions options = {});
// The leaves that require grad and that `output` depends on: what backward() accumulates into.
std::vector<Tensor> graph_leaves(const Tensor& output);
// How many backward rules this thread has run so far (shows that a batched pass runs each rule once).
uint64_t backward_rules_run();

// ---- Functional API (functional.cpp) ------------------------------------------------------------------
// f maps the inputs to one output tensor. Each helper differentiates through f once more than its name
// says when create_graph is set, so all of them can sit inside a loss.
using Function = std::function<Tensor(const std::vector<Tensor>&)>;

// (f(x), J^T u)
std::pair<Tensor, std::vector<Tensor>> vjp(const Function& f, const std::vector<Tensor>& x, const Tensor& u,
                                           bool create_graph = false);
// (f(x), J v), by the double-vjp trick: J v = d/du <J^T u, v> with u a dummy cotangent.
std::pair<Tensor, Tensor> jvp(const Function& f, const std::vector<Tensor>& x, const std::vector<Tensor>& v,
                              bool create_graph = false);
// Hessian-vector product of a scalar f: H v.
std::vector<Tensor> hvp(const Function& f, const std::vector<Tensor>& x, const std::vector<Tensor>& v,
                        bool create_graph = false);
// One-hot cotangents for per-sample Jacobians of y [B, m]: [m, B, m] with c[k, b, k] = 1.
Tensor one_hot_cotangents(const Tensor& y);
// Per-sample vector-Jacobian products of y [B, m] (row b a function of row b of x) for a batch of
// cotangents u [K, B, m], in one backward pass: [K, B, ...x]. The graph of y is retained.
Tensor batched_vjp(const Tensor& y, const Tensor& x, const Tensor& u, bool create_graph = false);
// Full Jacobian of y with respect to x, shape y.shape + x.shape, from one backward pass with a batch of
// numel(y) one-hot cotangents.
Tensor jacobian(const Tensor& y, const Tensor& x, bool create_graph = false);
// Per-sample Jacobians of y [B, m] with respect to x [B, ...] when row b of y depends on row b of x only:
// shape [B, m, ...], from one backward pass with m cotangents (not m passes).
Tensor batch_jacobian(const Tensor& y, const Tensor& x, bool create_graph = false);
// The same Jacobians column by column in forward mode (d columns through the double-vjp trick), cheaper
// when x is narrower than y.
Tensor batch_jacobian_forward(const Tensor& y, const Tensor& x, bool create_graph = false);

// ---- Gradient checking (gradcheck.cpp) ----------------------------------------------------------------
struct GradcheckOptions {
  double eps = 1e-6;
  double atol = 1e-5;
  double rtol = 1e-4;
};
struct GradcheckResult {
  bool ok = true;
  double max_abs_error = 0;
  std::string message;  // what differs, where, when !ok
};
// Compares the Jacobian from the engine with central differences, for every element of every input
// (inputs must be f64 and require grad).
GradcheckResult gradcheck(const Function& f, const std::vector<Tensor>& inputs, GradcheckOptions options = {});
// gradcheck of the map (x, u) -> J^T u with a graph recorded: checks the second derivatives.
GradcheckResult gradgradcheck(const Function& f, const std::vector<Tensor>& inputs, uint64_t seed = 7,
                              GradcheckOptions options = {});

}  // namespace gg
