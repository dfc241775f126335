// Convolutions: the columns im2col and col2im (each the other's rule), and three primitives that are each
// other's rules: the convolution y = w @ im2col(x), its transpose x = col2im(w^T @ y), which is its gradient
// for x, and its gradient for w, sum over samples of y @ im2col(x)^T. Since each rule is built from the
// three again, every order of derivative of a convolution is a convolution. A backend runs each as one fused
// kernel (backend.h) or, without one, as the composite of im2col, matmul and col2im written here.
#include "engine/autograd/autograd.h"
#include "engine/ops/op_helpers.h"

namespace gg {

namespace {

// Geometry for images of shape [..., C, H, W]: the leading axes are folded into one batch axis.
ConvGeometry geometry(const Shape& image, int64_t kh, int64_t kw, int64_t stride, int64_t padding,
                      const char* op) {
  GG_CHECK(image.size() >= 3,
           std::string(op) + ": image shape " + shape_str(image) + " needs [..., C, H, W]");
  GG_CHECK(kh > 0 && kw > 0 && stride > 0 && padding >= 0,
           std::string(op) + ": kernel and stride must be positive and padding non-negative");
  const size_t r = image.size();
  ConvGeometry g{shape_numel(Shape(image.begin(), image.end() - 3)),
                 image[r - 3],
                 image[r - 2],
                 image[r - 1],
                 kh,
                 kw,
                 stride,
                 padding};
  GG_CHECK(g.out_h() > 0 && g.out_w() > 0, std::string(op) + ": kernel " + std::to_string(kh) + "x" +
                                               std::to_string(kw) + " does not fit image " +
                                               shape_str(image));
  return g;
}

Shape cols_shape(const Shape& image, const ConvGeometry& g) {
  Shape s(image.begin(), image.end() - 3);
  s.push_back(g.channels * g.kernel_h * g.kernel_w);
  s.push_back(g.out_h() * g.out_w());
  return s;
}

// y + b over the channel axis of [N, C, H, W]; y itself without a bias.
Tensor with_bias(const Tensor& y, const Tensor& b) { return b.defined() ? y + reshape(b, {-1, 1, 1}) : y; }

Shape leading(const Tensor& t, size_t core) {
  return Shape(t.shape().begin(), t.shape().end() - int64_t(core));
}

Shape concat_shapes(Shape a, const Shape& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// The weight [..., O, C, kh, kw] as [..., 1, O, C*kh*kw]: one matrix per lead entry, shared by the samples.
Tensor weight_matrix(const Tensor& w) {
  return reshape(w, concat_shapes(leading(w, 4), {1, w.size(-4), w.size(-3) * w.size(-2) * w.size(-1)}));
}

}  // namespace

Tensor im2col(const Tensor& x, int64_t kh, int64_t kw, int64_t stride, int64_t padding) {
  ConvGeometry g = geometry(x.shape(), kh, kw, stride, padding, "im2col");
  Tensor out = detail::empty_like_shape(x, cols_shape(x.shape(), g));
  detail::backend_of(x).im2col(x.dtype(), g, x.raw(), out.raw());
  return record("im2col", out, {x}, [kh, kw, stride, padding](BackwardContext& c, const Tensor& gr) {
    return std::vector{col2im(gr, detail::with_lead(gr, c.lead, c.input_shape(0)), kh, kw, stride, padding)};
  });
}

Tensor col2im(const Tensor& cols, const Shape& image_shape, int64_t kh, int64_t kw, int64_t stride,
              int64_t padding) {
  ConvGeometry g = geometry(image_shape, kh, kw, stride, padding, "col2im");
  GG_CHECK(cols.shape() == cols_shape(image_shape, g),
           "col2im: columns " + cols.str() + " do not match image " + shape_str(image_shape) + " (expected " +
               shape_str(cols_shape(image_shape, g)) + ")");
  Tensor out = detail::empty_like_shape(cols, image_shape);
  detail::backend_of(cols).col2im(cols.dtype(), g, cols.raw(), out.raw());
  return record("col2im", out, {cols}, [kh, kw, stride, padding](BackwardContext&, const Tensor& gr) {
    return std::vector{im2col(gr, kh, kw, stride, padding)};
  });
}

namespace detail {

// The composites, the leading axes broadcast by matmul.
Tensor conv2d_by_columns(const Tensor& x, const Tensor& w, int64_t stride, int64_t padding) {
  const Tensor y =
      matmul(weight_matrix(w), im2col(x, w.size(-2), w.size(-1), stride, padding));  // [..., N, O, P]
  const int64_t ho = (x.size(-2) + 2 * padding - w.size(-2)) / stride + 1;
  return reshape(y, concat_shapes(leading(y, 1), {ho, -1}));
}

Tensor conv_transpose2d_by_columns(const Tensor& y, const Tensor& w, int64_t h, int64_t wd, int64_t stride,
                                   int64_t padding) {
  const Tensor cols = matmul(weight_matrix(w), reshape(y, concat_shapes(leading(y, 2), {-1})), true, false);
  return col2im(cols, concat_shapes(leading(cols, 2), {w.size(-3), h, wd}), w.size(-2), w.size(-1), stride,
                padding);
}

Tensor conv2d_weight_grad_by_columns(const Tensor& y, const Tensor& x, int64_t kh, int64_t kw, int64_t stride,
                                     int64_t padding) {
  // [..., N, K, P] -> [..., K, N*P]: the samples side by side, so that the sum over samples is part of one
  // product's contraction rather than a per-sample product summed afterwards.
  auto samples_side_by_side = [](const Tensor& t) {
    const Tensor s = transpose(t, -3, -2);
    return reshape(s, concat_shapes(leading(s, 2), {-1}));
  };
  const Tensor outputs =
      samples_side_by_side(reshape(y, concat_shapes(leading(y, 2), {-1})));      // [..., O, N*P]
  const Tensor cols = samples_side_by_side(im2col(x, kh, kw, stride, padding));  // [..., R, N*P]
  const Tensor w = matmul(outputs, cols, false, true);                           // [..., O, R]
  return reshape(w, concat_shapes(leading(w, 2), {y.size(-3), x.size(-3), kh, kw}));
}

}  // namespace detail

// ---- The three convolution primitives ------------------------------------------------------------------
// Each operand is [lead..., core...]: the image side [..., N, C, H, W], the output side [..., N, O, Ho, Wo]
// and the weight [..., O, C, kh, kw], where the leading axes broadcast (NumPy's rule, right-aligned) and
// N is the samples axis. The leading axes are the cotangent axes of a batched backward pass.

namespace {

// An operand for the fused kernels: its leading axes (those before its last `core` axes) either equal the
// broadcast `lead` (entries `stride` elements apart) or hold one entry (stride 0, shared); anything else is
// expanded into a copy first.
struct LeadOperand {
  Tensor t;
  int64_t stride;
};

LeadOperand fit_lead(const Tensor& t, const Shape& lead, size_t core) {
  const Shape own = leading(t, core), tail(t.shape().end() - int64_t(core), t.shape().end());
  if (shape_numel(own) == 1) return {t, 0};
  if (broadcast_strides(own, lead) == contiguous_strides(lead)) return {t, shape_numel(tail)};
  return {expand(t, concat_shapes(lead, tail)), shape_numel(tail)};
}

Tensor transposed_conv(const Tensor& y, const Tensor& w, int64_t h, int64_t wd, int64_t stride,
                       int64_t padding);
Tensor weight_grad(const Tensor& y, const Tensor& x, int64_t kh, int64_t kw, int64_t stride, int64_t padding);

// The gradient for a weight of shape `w_shape` in a rule, from the output side y and the image side x: one
// of them is the incoming gradient, with `lead` cotangent axes in front (`grad_is_y` says which), the other
// the operand the forward saved. When the weight has no leading axes of its own, every axis between the
// cotangent axes and the channels is summed; where the saved operand's batch axes equal the gradient's,
// they are folded into one samples axis first, one sum over all their samples per cotangent rather than
// a gradient per entry summed afterwards.
Tensor weight_grad_for(const Tensor& y, const Tensor& x, bool grad_is_y, int64_t lead, const Shape& w_shape,
                       int64_t stride, int64_t padding) {
  const int64_t kh = w_shape[w_shape.size() - 2], kw = w_shape.back();
  const Tensor& g = grad_is_y ? y : x;
  const Tensor& saved = grad_is_y ? x : y;
  const Shape cot(g.shape().begin(), g.shape().begin() + lead),
      samples(g.shape().begin() + lead, g.shape().end() - 3);
  if (w_shape.size() == 4 && leading(saved, 3) == samples) {
    auto fold = [n = shape_numel(samples)](const Tensor& t, const Shape& front) {
      return reshape(t, concat_shapes(front, {n, t.size(-3), t.size(-2), t.size(-1)}));
    };
    const Tensor gf = fold(g, cot), sf = fold(saved, {});
    return grad_is_y ? weight_grad(gf, sf, kh, kw, stride, padding)
                     : weight_grad(sf, gf, kh, kw, stride, padding);
  }
  return weight_grad(y, x, kh, kw, stride, padding);
}

// The broadcast of two operands' leading axes (those before their last four), naming the op and both.
Shape broadcast_leads(const Tensor& a, const Tensor& b, const char* op) {
  const Shape la = leading(a, 4), lb = leading(b, 4);
  for (size_t i = 1; i <= std::min(la.size(), lb.size()); ++i) {
    const int64_t u = la[la.size() - i], v = lb[lb.size() - i];
    GG_CHECK(u == v || u == 1 || v == 1, std::string(op) + ": the leading axes of " + a.str() + " and " +
                                             b.str() + " (before their last four) do not broadcast");
  }
  return broadcast_shapes(la, lb, op);
}

// The value of one of the three primitives into `out`: nothing to compute when it is empty, zeros when the
// contraction is empty, the backend's fused kernel when it has one, else the composite.
template <class Fused, class Composite>
Tensor conv_value(Tensor out, bool empty_sum, Fused&& fused, Composite&& composite) {
  NoGradGuard no_grad;  // the value only: the caller records the primitive
  if (out.numel() == 0) return out;
  if (empty_sum) {
    detail::backend_of(out).fill(out.dtype(), out.numel(), 0.0, out.raw());
    return out;
  }
  return fused(out) ? out : composite();
}

Tensor conv(const Tensor& x, const Tensor& w, int64_t stride, int64_t padding) {
  detail::check_compatible("conv2d", x, w);
  GG_CHECK(x.dim() >= 4 && w.dim() >= 4 && x.size(-3) == w.size(-3),
           "conv2d: input " + x.str() + " and weight " + w.str() + " need [N,C,H,W] and [O,C,kh,kw]");
  const int64_t n = x.size(-4), c = x.size(-3), o = w.size(-4), kh = w.size(-2), kw = w.size(-1);
  const ConvGeometry g = geometry(Shape{n, c, x.size(-2), x.size(-1)}, kh, kw, stride, padding, "conv2d");
  const Shape lead = broadcast_leads(x, w, "conv2d");
  const Tensor out = conv_value(
      detail::empty_like_shape(x, concat_shapes(lead, {n, o, g.out_h(), g.out_w()})), c == 0,
      [&](Tensor& y) {
        const LeadOperand xs = fit_lead(x, lead, 4), ws = fit_lead(w, lead, 4);
        ConvBatch b{.g = g,
                    .out_channels = o,
                    .lead = shape_numel(lead),
                    .x_stride = xs.stride,
                    .w_stride = ws.stride,
                    .y_stride = n * o * g.out_h() * g.out_w()};
        if (ws.stride == 0) b.g.batch *= b.lead, b.lead = 1;  // one weight: the entries are more samples
        return detail::backend_of(x).conv2d(x.dtype(), b, xs.t.raw(), ws.t.raw(), y.raw());
      },
      [&] { return detail::conv2d_by_columns(x, w, stride, padding); });
  return record("conv2d", out, {x, w},
                [stride, padding](BackwardContext& ctx, const Tensor& gy) {
                  const Tensor& w = ctx.saved(1);
                  const int64_t h = ctx.saved(0).size(-2), wd = ctx.saved(0).size(-1);
                  std::vector<Tensor> r(2);
                  if (ctx.needs(1))
                    r[1] = weight_grad_for(gy, ctx.saved(0), true, ctx.lead, ctx.input_shape(1), stride,
                                           padding);
                  ctx.drop_saved(0);  // see the transposed convolution's rule
                  if (ctx.needs(0)) r[0] = transposed_conv(gy, w, h, wd, stride, padding);
                  return r;
                },
                {x, w});
}

// The transposed convolution's two gradients, conv(gx, w) and the weight's gradient from (y, gx), with y
// its saved input, from one pass over gx's columns, when no graph is recorded (the last backward of a
// double backward, where every layer takes both) and the backend fuses them: into r, returning true.
// False where the separate rules must run: a graph recorded, cotangent axes, a weight with leading axes,
// or the backend declining. conv(gx, w) has y's shape; when the node's handle is y's only one and the
// graph is not kept, it is written over y, chunk by chunk as each chunk of y has been read, so that the
// pass holds one of the two (at Table 3's first layer, 64 MB each).
bool fused_conv_and_weight_grad(BackwardContext& ctx, const Tensor& gx, int64_t stride, int64_t padding,
                                std::vector<Tensor>& r) {
  const Tensor &y = ctx.saved(0), &w = ctx.saved(1);
  if (grad_enabled() || ctx.lead != 0 || w.dim() != 4 || gx.dim() < 4 || y.dim() != gx.dim() ||
      leading(gx, 3) != leading(y, 3) || gx.size(-3) != w.size(-3) || y.size(-3) != w.size(-4) ||
      gx.dtype() != w.dtype() || y.dtype() != w.dtype() || gx.device() != w.device() ||
      y.device() != w.device() || gx.numel() == 0 || w.numel() == 0)
    return false;
  const int64_t n = shape_numel(leading(gx, 3)), c = w.size(-3), o = w.size(-4), kh = w.size(-2),
                kw = w.size(-1);
  const ConvGeometry g = geometry(Shape{n, c, gx.size(-2), gx.size(-1)}, kh, kw, stride, padding, "conv2d");
  if (g.out_h() != y.size(-2) || g.out_w() != y.size(-1)) return false;
  const bool over_y = !ctx.keeps_graph && detail::sole_handle(y);  // the node's handle is y's only one
  Tensor out = over_y ? alias_of(y, y.shape()) : detail::empty_like_shape(gx, y.shape());
  Tensor dw = detail::empty_like_shape(w, w.shape());
  const ConvBatch b{.g = g, .out_channels = o};
  if (!detail::backend_of(gx).conv2d_with_weight_grad(gx.dtype(), b, gx.raw(), w.raw(), y.raw(), out.raw(),
                                                      dw.raw()))
    return false;
  r = {out, dw};
  return true;
}

// y [..., N, O, Ho, Wo] with w [..., O, C, kh, kw] -> x [..., N, C, h, wd].
Tensor transposed_conv(const Tensor& y, const Tensor& w, int64_t h, int64_t wd, int64_t stride,
                       int64_t padding) {
  detail::check_compatible("conv_transpose2d", y, w);
  GG_CHECK(y.dim() >= 4 && w.dim() >= 4 && y.size(-3) == w.size(-4),
           "conv_transpose2d: input " + y.str() + " and weight " + w.str() +
               " need [N,Cin,H,W] and [Cin,Cout,kh,kw]");
  const int64_t n = y.size(-4), o = w.size(-4), c = w.size(-3), kh = w.size(-2), kw = w.size(-1);
  const ConvGeometry g = geometry(Shape{n, c, h, wd}, kh, kw, stride, padding, "conv_transpose2d");
  GG_CHECK(g.out_h() == y.size(-2) && g.out_w() == y.size(-1),
           "conv_transpose2d: input " + y.str() + " does not match an output of " + std::to_string(h) + "x" +
               std::to_string(wd));
  const Shape lead = broadcast_leads(y, w, "conv_transpose2d");
  const Tensor out = conv_value(
      detail::empty_like_shape(y, concat_shapes(lead, {n, c, h, wd})), o == 0,
      [&](Tensor& x) {
        const LeadOperand ys = fit_lead(y, lead, 4), ws = fit_lead(w, lead, 4);
        ConvBatch b{.g = g,
                    .out_channels = o,
                    .lead = shape_numel(lead),
                    .x_stride = n * c * h * wd,
                    .w_stride = ws.stride,
                    .y_stride = ys.stride};
        if (ws.stride == 0) b.g.batch *= b.lead, b.lead = 1;
        return detail::backend_of(y).conv_transpose2d(y.dtype(), b, ys.t.raw(), ws.t.raw(), x.raw());
      },
      [&] { return detail::conv_transpose2d_by_columns(y, w, h, wd, stride, padding); });
  return record("conv_transpose2d", out, {y, w},
                [stride, padding](BackwardContext& ctx, const Tensor& gx) {
                  const Tensor& w = ctx.saved(1);
                  std::vector<Tensor> r(2);
                  if (ctx.needs(0) && ctx.needs(1) && fused_conv_and_weight_grad(ctx, gx, stride, padding, r))
                    return r;
                  if (ctx.needs(1))
                    r[1] = weight_grad_for(ctx.saved(0), gx, false, ctx.lead, ctx.input_shape(1), stride,
                                           padding);
                  // The weight's gradient was y's last use. In a double backward, y is a cotangent of the
                  // first pass ([m, B, 32, 16, 16] at Table 3's first layer) and r[0] is as large: freeing y
                  // first keeps one of them, not both.
                  ctx.drop_saved(0);
                  if (ctx.needs(0)) r[0] = conv(gx, w, stride, padding);
                  return r;
                },
                {y, w});
}

// y [A..., N, O, Ho, Wo] and x [B..., N, C, H, W] -> [broadcast(A, B)..., O, C, kh, kw], summed over N.
Tensor weight_grad(const Tensor& y, const Tensor& x, int64_t kh, int64_t kw, int64_t stride,
                   int64_t padding) {
  detail::check_compatible("conv2d_weight_grad", y, x);
  GG_CHECK(y.dim() >= 4 && x.dim() >= 4 && y.size(-4) == x.size(-4), "conv2d_weight_grad: output side " +
                                                                         y.str() + " and input " + x.str() +
                                                                         " need [N,O,Ho,Wo] and [N,C,H,W]");
  const int64_t n = x.size(-4), c = x.size(-3), o = y.size(-3);
  const ConvGeometry g =
      geometry(Shape{n, c, x.size(-2), x.size(-1)}, kh, kw, stride, padding, "conv2d_weight_grad");
  GG_CHECK(
      g.out_h() == y.size(-2) && g.out_w() == y.size(-1),
      "conv2d_weight_grad: output side " + y.str() + " is not the convolution's output for input " + x.str());
  const Shape lead = broadcast_leads(y, x, "conv2d_weight_grad");
  const Tensor out = conv_value(
      detail::empty_like_shape(x, concat_shapes(lead, {o, c, kh, kw})), n == 0,
      [&](Tensor& w) {
        const LeadOperand ys = fit_lead(y, lead, 4), xs = fit_lead(x, lead, 4);
        const ConvBatch b{.g = g,
                          .out_channels = o,
                          .lead = shape_numel(lead),
                          .x_stride = xs.stride,
                          .w_stride = o * c * kh * kw,
                          .y_stride = ys.stride};
        return detail::backend_of(x).conv2d_weight_grad(x.dtype(), b, ys.t.raw(), xs.t.raw(), w.raw());
      },
      [&] { return detail::conv2d_weight_grad_by_columns(y, x, kh, kw, stride, padding); });
  return record("conv2d_weight_grad", out, {y, x},
                [stride, padding](BackwardContext& ctx, const Tensor& gw) {
                  const Tensor &y = ctx.saved(0), &x = ctx.saved(1);
                  std::vector<Tensor> r(2);
                  if (ctx.needs(0)) r[0] = conv(x, gw, stride, padding);
                  if (ctx.needs(1)) r[1] = transposed_conv(y, gw, x.size(-2), x.size(-1), stride, padding);
                  return r;
                },
                {y, x});
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b, int64_t stride, int64_t padding) {
  return with_bias(conv(x, w, stride, padding), b);
}

Tensor conv2d_weight_grad(const Tensor& y, const Tensor& x, int64_t kernel_h, int64_t kernel_w,
                          int64_t stride, int64_t padding) {
  return weight_grad(y, x, kernel_h, kernel_w, stride, padding);
}

Tensor conv_transpose2d(const Tensor& x, const Tensor& w, const Tensor& b, int64_t stride, int64_t padding,
                        int64_t output_padding) {
  detail::check_compatible("conv_transpose2d", x, w);
  GG_CHECK(output_padding >= 0 && output_padding < stride,
           "conv_transpose2d: output_padding must be in [0, stride)");
  GG_CHECK(x.dim() >= 4 && w.dim() >= 4, "conv_transpose2d: input " + x.str() + " and weight " + w.str() +
                                             " need [N,Cin,H,W] and [Cin,Cout,kh,kw]");
  const int64_t ho = (x.size(-2) - 1) * stride - 2 * padding + w.size(-2) + output_padding;
  const int64_t wo = (x.size(-1) - 1) * stride - 2 * padding + w.size(-1) + output_padding;
  GG_CHECK(ho > 0 && wo > 0, "conv_transpose2d: input " + x.str() + " and weight " + w.str() +
                                 " with stride " + std::to_string(stride) + " and padding " +
                                 std::to_string(padding) + " give an output of " + std::to_string(ho) + "x" +
                                 std::to_string(wo));
  return with_bias(transposed_conv(x, w, ho, wo, stride, padding), b);
}

}  // namespace gg
