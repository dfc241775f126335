// where(cond, a, b): the condition is a step function, so gradients flow to the chosen branch only.
#include "engine/ops/op_helpers.h"

namespace gg {

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  detail::check_compatible("where", a, b);
  detail::check_compatible("where", cond, a);
  Shape shape = broadcast_shapes(broadcast_shapes(cond.shape(), a.shape(), "where"), b.shape(), "where");
  Tensor out = detail::empty_like_shape(a, shape);
  detail::backend_of(a).where(a.dtype(), shape, cond.raw(), broadcast_strides(cond.shape(), shape), a.raw(),
                              broadcast_strides(a.shape(), shape), b.raw(), broadcast_strides(b.shape(), shape),
                              out.raw());
  return record(
      "where", out, {cond, a, b},
      [](BackwardContext& c, const Tensor& g) {
        const Tensor& cnd = c.saved(0);
        Tensor zero = zeros_like(cnd);
        std::vector<Tensor> r(3);
        if (c.needs(1)) r[1] = where(cnd, g, zero);
        if (c.needs(2)) r[2] = where(cnd, zero, g);
        return r;
      },
      {cond.detach()});
}

}  // namespace gg
