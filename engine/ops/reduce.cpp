// Reductions over any set of axes. Rules broadcast the incoming gradient back over the reduced axes.
#include "engine/autograd/autograd.h"
#include "engine/ops/op_helpers.h"

namespace gg {

namespace {

struct ReducePlan {
  std::vector<bool> reduced;
  std::vector<int64_t> axes;  // normalised, sorted
  Shape keep_shape;           // reduced axes kept as 1
  Shape out_shape;            // the result's shape (keep_shape without them unless keepdim)
};

ReducePlan plan_reduce(const Tensor& x, const std::vector<int64_t>& axes, bool keepdim, const char* op) {
  ReducePlan p;
  const int64_t r = x.dim();
  p.reduced.assign(r, axes.empty());
  for (int64_t a : axes) {
    int64_t n = normalize_axis(a, r, op);
    GG_CHECK(!p.reduced[n], std::string(op) + ": axis " + std::to_string(a) + " given twice");
    p.reduced[n] = true;
  }
  for (int64_t i = 0; i < r; ++i) {
    if (p.reduced[i]) p.axes.push_back(i);
    p.keep_shape.push_back(p.reduced[i] ? 1 : x.shape()[i]);
    if (!p.reduced[i] || keepdim) p.out_shape.push_back(p.keep_shape.back());
  }
  return p;
}

Tensor reduce_forward(ReduceOp op, const Tensor& x, const ReducePlan& p, const char* name) {
  GG_CHECK(op == ReduceOp::sum || x.numel() > 0, std::string(name) + ": empty tensor " + x.str());
  Tensor out = detail::empty_like_shape(x, p.out_shape);
  detail::backend_of(x).reduce(op, x.dtype(), x.shape(), p.reduced, x.raw(), out.raw());
  return out;
}

}  // namespace

Tensor sum(const Tensor& x, const std::vector<int64_t>& axes, bool keepdim) {
  ReducePlan p = plan_reduce(x, axes, keepdim, "sum");
  Tensor out = reduce_forward(ReduceOp::sum, x, p, "sum");
  return record("sum", out, {x}, [keep = p.keep_shape](BackwardContext& c, const Tensor& g) {
    return std::vector{expand(reshape(g, detail::with_lead(g, c.lead, keep)),
                              detail::with_lead(g, c.lead, c.input_shape(0)))};
  });
}

Tensor max(const Tensor& x, const std::vector<int64_t>& axes, bool keepdim) {
  ReducePlan p = plan_reduce(x, axes, keepdim, "max");
  Tensor out = reduce_forward(ReduceOp::max, x, p, "max");
  return record(
      "max", out, {x},
      [keep = p.keep_shape, axes = p.axes](BackwardContext& c, const Tensor& g) {
        const Tensor& in = c.saved(0);
        // Ties share the gradient equally; the mask is a step function, so it has no gradient itself.
        Tensor mask = eq(in, reshape(c.output().detach(), keep));
        mask = mask / sum(mask, axes, true);
        return std::vector{reshape(g, detail::with_lead(g, c.lead, keep)) * mask};
      },
      {x}, true);
}

// A primitive so that a backend can run it in one pass per row (backend.h's softmax_rows); over an axis
// that is not the last, or without that kernel, the composite exp(log_softmax). Its rule is the Jacobian-
// vector product y * (g - sum(g * y)), ordinary ops again.
Tensor softmax(const Tensor& x, int64_t axis) {
  GG_CHECK(x.defined() && x.dim() >= 1, "softmax: expected a tensor with at least one axis");
  const int64_t a = normalize_axis(axis, x.dim(), "softmax");
  const int64_t from_end = a - x.dim();  // the same axis when a rule's gradient carries leading axes
  Tensor out;
  if (a == x.dim() - 1 && x.numel() > 0) {
    out = detail::empty_like_shape(x, x.shape());
    if (!detail::backend_of(x).softmax_rows(x.dtype(), x.numel() / x.size(-1), x.size(-1), x.raw(), out.raw()))
      out = Tensor();
  }
  if (!out.defined()) {
    NoGradGuard no_grad;  // the value only: the node recorded below is this primitive
    out = exp(log_softmax(x, a));
  }
  return record(
      "softmax", out, {x},
      [from_end](BackwardContext& c, const Tensor& g) {
        const Tensor y = c.output();
        return std::vector{y * (g - sum(g * y, {from_end}, true))};
      },
      {}, true);
}

}  // namespace gg
