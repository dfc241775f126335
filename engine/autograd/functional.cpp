// Higher-order helpers built on grad(): every one is differentiable again when create_graph is set.
#include "engine/autograd/autograd.h"
#include "engine/ops/ops.h"

namespace gg {

namespace {

// The inputs as tensors that require grad: the caller's own when they do, fresh aliases otherwise.
std::vector<Tensor> as_differentiable(const std::vector<Tensor>& x) {
  std::vector<Tensor> out;
  for (const Tensor& t : x) out.push_back(t.requires_grad() ? t : t.detach().requires_grad_());
  return out;
}

GradOptions batched(bool create_graph) {
  GradOptions o;
  o.batch_axes = 1;
  o.create_graph = create_graph;
  o.retain_graph = true;  // the caller's graph stays usable (a loss usually goes through it again)
  return o;
}

void check_rows(const Tensor& y, const Tensor& x, const char* op) {
  GG_CHECK(y.dim() == 2 && x.dim() >= 1 && y.size(0) == x.size(0),
           std::string(op) + ": needs y [B, m] computed row by row from x [B, ...], got y " + y.str() + " and x " +
               x.str());
}

}  // namespace

Tensor one_hot_cotangents(const Tensor& y) {
  GG_CHECK(y.dim() == 2, "one_hot_cotangents: output must be [B, m], got " + y.str());
  const int64_t b = y.size(0), m = y.size(1);
  return expand(reshape(eye(m, y.dtype(), y.device()), {m, 1, m}), {m, b, m});
}

Tensor batched_vjp(const Tensor& y, const Tensor& x, const Tensor& u, bool create_graph) {
  return grad(std::vector<Tensor>{y}, std::vector<Tensor>{x}, std::vector<Tensor>{u}, batched(create_graph))[0];
}

std::pair<Tensor, std::vector<Tensor>> vjp(const Function& f, const std::vector<Tensor>& x, const Tensor& u,
                                           bool create_graph) {
  std::vector<Tensor> xs = as_differentiable(x);
  Tensor y = f(xs);
  GradOptions o;
  o.create_graph = create_graph;
  return {y, grad({y}, xs, {u}, o)};
}

std::pair<Tensor, Tensor> jvp(const Function& f, const std::vector<Tensor>& x, const std::vector<Tensor>& v,
                              bool create_graph) {
  GG_CHECK(x.size() == v.size(), "jvp: " + std::to_string(v.size()) + " tangents for " + std::to_string(x.size()) +
                                     " inputs");
  std::vector<Tensor> xs = as_differentiable(x);
  Tensor y = f(xs);
  Tensor u = zeros_like(y).requires_grad_();
  GradOptions first;
  first.create_graph = true;
  std::vector<Tensor> gx = grad({y}, xs, {u}, first);  // J^T u, linear in u
  std::vector<Tensor> outs, tangents;
  for (size_t i = 0; i < gx.size(); ++i)
    if (gx[i].requires_grad()) outs.push_back(gx[i]), tangents.push_back(v[i]);
  if (outs.empty()) return {y, zeros_like(y)};
  GradOptions second;
  second.create_graph = create_graph;
  return {y, grad(outs, {u}, tangents, second)[0]};
}

std::vector<Tensor> hvp(const Function& f, const std::vector<Tensor>& x, const std::vector<Tensor>& v,
                        bool create_graph) {
  std::vector<Tensor> xs = as_differentiable(x);
  Tensor y = f(xs);
  GradOptions first;
  first.create_graph = true;
  std::vector<Tensor> g = grad({y}, xs, {}, first);
  std::vector<Tensor> outs, tangents;
  for (size_t i = 0; i < g.size(); ++i)
    if (g[i].requires_grad()) outs.push_back(g[i]), tangents.push_back(v[i]);
  std::vector<Tensor> result;
  if (outs.empty()) {
    for (const Tensor& t : xs) result.push_back(zeros_like(t));
    return result;
  }
  GradOptions second;
  second.create_graph = create_graph;
  return grad(outs, xs, tangents, second);
}

Tensor jacobian(const Tensor& y, const Tensor& x, bool create_graph) {
  const int64_t n = y.numel();
  Shape cot_shape{n};
  cot_shape.insert(cot_shape.end(), y.shape().begin(), y.shape().end());
  Tensor rows = grad(std::vector<Tensor>{y}, std::vector<Tensor>{x}, std::vector<Tensor>{reshape(eye(n, y.dtype(), y.device()), cot_shape)},
                     batched(create_graph))[0];
  Shape out = y.shape();
  out.insert(out.end(), x.shape().begin(), x.shape().end());
  return reshape(rows, out);
}

Tensor batch_jacobian(const Tensor& y, const Tensor& x, bool create_graph) {
  check_rows(y, x, "batch_jacobian");
  Tensor rows = batched_vjp(y, x, one_hot_cotangents(y), create_graph);  // [m, B, ...x]
  std::vector<int64_t> perm(rows.dim());
  for (int64_t i = 0; i < rows.dim(); ++i) perm[i] = i;
  std::swap(perm[0], perm[1]);
  return permute(rows, perm);  // [B, m, ...x]
}

Tensor batch_jacobian_forward(const Tensor& y, const Tensor& x, bool create_graph) {
  check_rows(y, x, "batch_jacobian_forward");
  const int64_t b = x.size(0), d = x.numel() / std::max<int64_t>(b, 1);
  Tensor u = zeros_like(y).requires_grad_();
  GradOptions first;
  first.create_graph = true;
  first.retain_graph = true;
  Tensor gx = reshape(grad(y, x, u, first), {b, d});  // J^T u per sample, linear in u
  Tensor tangents = expand(reshape(eye(d, x.dtype(), x.device()), {d, 1, d}), {d, b, d});
  Tensor cols = grad(std::vector<Tensor>{gx}, std::vector<Tensor>{u}, std::vector<Tensor>{tangents},
                     batched(create_graph))[0];  // [d, B, m]: column j of every J_b
  Shape out{b, y.size(1)};
  out.insert(out.end(), x.shape().begin() + 1, x.shape().end());
  return reshape(permute(cols, {1, 2, 0}), out);
}

}  // namespace gg
