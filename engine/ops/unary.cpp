// Unary elementwise primitives: forward kernel call and backward rule side by side.
#include <cmath>
#include <numbers>

#include "engine/ops/op_helpers.h"

namespace gg {

namespace {

// Runs the kernel and records the op; `rule` sees the input as saved(0) and, when save_output, the output.
Tensor unary_op(UnaryOp op, const Tensor& x, BackwardRule rule, bool save_input, bool save_output) {
  GG_CHECK(x.defined(), std::string(op_name(op)) + ": undefined tensor argument");
  Tensor out = detail::empty_like_shape(x, x.shape());
  detail::backend_of(x).unary(op, x.dtype(), x.numel(), x.raw(), out.raw());
  std::vector<Tensor> saved;
  if (save_input) saved.push_back(x);
  return record(op_name(op), out, {x}, std::move(rule), std::move(saved), save_output);
}

}  // namespace

Tensor neg(const Tensor& x) {
  return unary_op(UnaryOp::neg, x, [](BackwardContext&, const Tensor& g) { return std::vector{-g}; }, false, false);
}

Tensor exp(const Tensor& x) {
  return unary_op(UnaryOp::exp, x, [](BackwardContext& c, const Tensor& g) { return std::vector{g * c.output()}; },
                  false, true);
}

Tensor log(const Tensor& x) {
  return unary_op(UnaryOp::log, x, [](BackwardContext& c, const Tensor& g) { return std::vector{g / c.saved(0)}; },
                  true, false);
}

Tensor sqrt(const Tensor& x) {
  return unary_op(UnaryOp::sqrt, x,
                  [](BackwardContext& c, const Tensor& g) { return std::vector{g * 0.5 / c.output()}; }, false, true);
}

Tensor abs(const Tensor& x) {
  return unary_op(UnaryOp::abs, x,
                  [](BackwardContext& c, const Tensor& g) { return std::vector{g * sign(c.saved(0))}; }, true, false);
}

Tensor tanh(const Tensor& x) {
  return unary_op(UnaryOp::tanh, x,
                  [](BackwardContext& c, const Tensor& g) {
                    Tensor y = c.output();
                    return std::vector{g * (1.0 - y * y)};
                  },
                  false, true);
}

Tensor sigmoid(const Tensor& x) {
  return unary_op(UnaryOp::sigmoid, x,
                  [](BackwardContext& c, const Tensor& g) {
                    Tensor y = c.output();
                    return std::vector{g * (y * (1.0 - y))};
                  },
                  false, true);
}

Tensor relu(const Tensor& x) {
  // The step function x > 0 has zero derivative, so the rule's own gradient is the mask again.
  return unary_op(UnaryOp::relu, x,
                  [](BackwardContext& c, const Tensor& g) {
                    return std::vector{g * gt(c.saved(0), scalar_like(0.0, c.saved(0)))};
                  },
                  true, false);
}

Tensor sin(const Tensor& x) {
  return unary_op(UnaryOp::sin, x, [](BackwardContext& c, const Tensor& g) { return std::vector{g * cos(c.saved(0))}; },
                  true, false);
}

Tensor cos(const Tensor& x) {
  return unary_op(UnaryOp::cos, x,
                  [](BackwardContext& c, const Tensor& g) { return std::vector{-(g * sin(c.saved(0)))}; }, true, false);
}

Tensor erf(const Tensor& x) {
  // d/dx erf(x) = 2/sqrt(pi) exp(-x^2)
  return unary_op(UnaryOp::erf, x,
                  [](BackwardContext& c, const Tensor& g) {
                    return std::vector{g * (exp(-square(c.saved(0))) * (2.0 * std::numbers::inv_sqrtpi))};
                  },
                  true, false);
}

}  // namespace gg
