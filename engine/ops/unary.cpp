// Unary elementwise primitives: forward kernel call and backward rule side by side.
#include <cmath>
#include <numbers>

#include "engine/ops/op_helpers.h"

namespace gg {

namespace {

using detail::Saves;

// Runs the kernel and records the op; `rule` sees what `saves` names: the input as saved(0), the output as
// output().
Tensor unary_op(UnaryOp op, const Tensor& x, Saves saves, BackwardRule rule) {
  GG_CHECK(x.defined(), std::string(op_name(op)) + ": undefined tensor argument");
  Tensor out = detail::empty_like_shape(x, x.shape());
  detail::backend_of(x).unary(op, x.dtype(), x.numel(), x.raw(), out.raw());
  std::vector<Tensor> saved;
  if (detail::saves_inputs(saves)) saved.push_back(x);
  return record(op_name(op), out, {x}, std::move(rule), std::move(saved), detail::saves_output(saves));
}

}  // namespace

Tensor neg(const Tensor& x) {
  return unary_op(UnaryOp::neg, x, Saves::nothing, [](BackwardContext&, const Tensor& g) { return std::vector{-g}; });
}

Tensor exp(const Tensor& x) {
  return unary_op(UnaryOp::exp, x, Saves::output,
                  [](BackwardContext& c, const Tensor& g) { return std::vector{g * c.output()}; });
}

Tensor log(const Tensor& x) {
  return unary_op(UnaryOp::log, x, Saves::inputs,
                  [](BackwardContext& c, const Tensor& g) { return std::vector{g / c.saved(0)}; });
}

Tensor sqrt(const Tensor& x) {
  return unary_op(UnaryOp::sqrt, x, Saves::output,
                  [](BackwardContext& c, const Tensor& g) { return std::vector{g * 0.5 / c.output()}; });
}

Tensor abs(const Tensor& x) {
  return unary_op(UnaryOp::abs, x, Saves::inputs,
                  [](BackwardContext& c, const Tensor& g) { return std::vector{g * sign(c.saved(0))}; });
}

Tensor tanh(const Tensor& x) {
  return unary_op(UnaryOp::tanh, x, Saves::output, [](BackwardContext& c, const Tensor& g) {
    Tensor y = c.output();
    return std::vector{g * (1.0 - y * y)};
  });
}

Tensor sigmoid(const Tensor& x) {
  return unary_op(UnaryOp::sigmoid, x, Saves::output, [](BackwardContext& c, const Tensor& g) {
    Tensor y = c.output();
    return std::vector{g * (y * (1.0 - y))};
  });
}

Tensor relu(const Tensor& x) {
  // The step function x > 0 has zero derivative, so the rule's own gradient is the mask again.
  return unary_op(UnaryOp::relu, x, Saves::inputs, [](BackwardContext& c, const Tensor& g) {
    const Tensor mask = c.derived(0, [&] { return gt(c.saved(0), scalar_like(0.0, c.saved(0))); });
    return std::vector{mul_consuming(g, mask)};
  });
}

Tensor sin(const Tensor& x) {
  return unary_op(UnaryOp::sin, x, Saves::inputs,
                  [](BackwardContext& c, const Tensor& g) { return std::vector{g * cos(c.saved(0))}; });
}

Tensor cos(const Tensor& x) {
  return unary_op(UnaryOp::cos, x, Saves::inputs,
                  [](BackwardContext& c, const Tensor& g) { return std::vector{-(g * sin(c.saved(0)))}; });
}

Tensor erf(const Tensor& x) {
  // d/dx erf(x) = 2/sqrt(pi) exp(-x^2)
  return unary_op(UnaryOp::erf, x, Saves::inputs, [](BackwardContext& c, const Tensor& g) {
    return std::vector{g * (exp(-square(c.saved(0))) * (2.0 * std::numbers::inv_sqrtpi))};
  });
}

Tensor sinh(const Tensor& x) {
  // d/dx sinh(x) = cosh(x) = (e^x + e^-x) / 2, written with ops so that the rule is differentiable again.
  return unary_op(UnaryOp::sinh, x, Saves::inputs, [](BackwardContext& c, const Tensor& g) {
    return std::vector{g * ((exp(c.saved(0)) + exp(-c.saved(0))) * 0.5)};
  });
}

}  // namespace gg
