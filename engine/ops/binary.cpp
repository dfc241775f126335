// Binary elementwise primitives with NumPy broadcasting. Rules return gradients in the broadcast shape;
// the engine sums them back to each input's shape (sum_to), so no rule repeats that logic.
#include "engine/autograd/autograd.h"
#include "engine/ops/op_helpers.h"

namespace gg {

namespace {

using detail::Saves;

// Runs the kernel and records the op; `rule` sees what `saves` names: the inputs as saved(0) and saved(1),
// the output as output(). With `into_a` the output is written over a's elements (same shape: each element
// is read before it is written).
Tensor binary_op(BinaryOp op, const Tensor& a, const Tensor& b, Saves saves, BackwardRule rule,
                 bool into_a = false) {
  const char* name = op_name(op);
  detail::check_compatible(name, a, b);
  Shape shape = broadcast_shapes(a.shape(), b.shape(), name);
  Tensor out = into_a ? alias_of(a, shape) : detail::empty_like_shape(a, shape);
  detail::backend_of(a).binary(op, a.dtype(), shape, a.raw(), broadcast_strides(a.shape(), shape), b.raw(),
                               broadcast_strides(b.shape(), shape), out.raw());
  if (is_comparison(op)) return out;  // a step function: no gradient flows
  std::vector<Tensor> saved;
  if (detail::saves_inputs(saves)) saved = {a, b};
  if (saves == Saves::each_for_other)
    saved = {b.requires_grad() ? a : Tensor(), a.requires_grad() ? b : Tensor()};
  return record(name, out, {a, b}, std::move(rule), std::move(saved), detail::saves_output(saves));
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) {
  return binary_op(BinaryOp::add, a, b, Saves::nothing,
                   [](BackwardContext&, const Tensor& g) { return std::vector{g, g}; });
}

Tensor sub(const Tensor& a, const Tensor& b) {
  return binary_op(BinaryOp::sub, a, b, Saves::nothing,
                   [](BackwardContext&, const Tensor& g) { return std::vector{g, -g}; });
}

namespace {

// Each input is kept only for the other's gradient: relu's rule g * mask, recorded for a double backward,
// would otherwise keep the cotangent g alive beside its product.
Tensor mul_op(const Tensor& a, const Tensor& b, bool into_a) {
  return binary_op(
      BinaryOp::mul, a, b, Saves::each_for_other,
      [](BackwardContext& c, const Tensor& g) {
        std::vector<Tensor> r(2);
        if (c.needs(1)) r[1] = g * c.saved(0);
        if (c.needs(0)) r[0] = mul_consuming(g, c.saved(1));  // g's last use
        return r;
      },
      into_a);
}

}  // namespace

Tensor mul(const Tensor& a, const Tensor& b) { return mul_op(a, b, false); }

Tensor mul_consuming(const Tensor& a, const Tensor& b) {
  // a's buffer is free to take when this handle is its only one, it has the product's shape, and the op
  // will not save a for its own rule: mul keeps a only when b requires grad and a graph is recorded.
  const bool saves_a = grad_enabled() && b.requires_grad();
  const bool into_a = detail::sole_handle(a) && !saves_a && b.defined() && a.dtype() == b.dtype() && a.device() == b.device() &&
                      broadcast_shapes(a.shape(), b.shape(), "mul") == a.shape();
  return mul_op(a, b, into_a);
}

Tensor div(const Tensor& a, const Tensor& b) {
  return binary_op(BinaryOp::div, a, b, Saves::inputs, [](BackwardContext& c, const Tensor& g) {
    std::vector<Tensor> r(2);
    Tensor ga = g / c.saved(1);
    if (c.needs(0)) r[0] = ga;
    if (c.needs(1)) r[1] = -(ga * c.saved(0) / c.saved(1));
    return r;
  });
}

Tensor pow(const Tensor& a, const Tensor& b) {
  return binary_op(BinaryOp::pow, a, b, Saves::inputs_and_output, [](BackwardContext& c, const Tensor& g) {
    std::vector<Tensor> r(2);
    const Tensor &x = c.saved(0), &p = c.saved(1);
    if (c.needs(0)) r[0] = g * p * pow(x, p - 1.0);
    if (c.needs(1)) r[1] = g * c.output() * log(x);  // only where the exponent is trained
    return r;
  });
}

Tensor maximum(const Tensor& a, const Tensor& b) {
  // Ties split the gradient evenly, as max's rule does.
  return binary_op(BinaryOp::maximum, a, b, Saves::inputs, [](BackwardContext& c, const Tensor& g) {
    const Tensor &x = c.saved(0), &y = c.saved(1);
    Tensor wa = gt(x, y) + eq(x, y) * 0.5;
    std::vector<Tensor> r(2);
    if (c.needs(0)) r[0] = g * wa;
    if (c.needs(1)) r[1] = g * (1.0 - wa);
    return r;
  });
}

#define GG_COMPARISON(name)                                               \
  Tensor name(const Tensor& a, const Tensor& b) {                         \
    return binary_op(BinaryOp::name, a, b, Saves::nothing, nullptr);      \
  }
GG_COMPARISON(eq)
GG_COMPARISON(ne)
GG_COMPARISON(lt)
GG_COMPARISON(le)
GG_COMPARISON(gt)
GG_COMPARISON(ge)
#undef GG_COMPARISON

}  // namespace gg
