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

// The composites: one matrix product per sample between the weight and the columns, the leading axes
// broadcast by matmul.
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
  const Tensor per_sample = matmul(reshape(y, concat_shapes(leading(y, 2), {-1})),
                                   im2col(x, kh, kw, stride, padding), false, true);  // [..., N, O, C*kh*kw]
  return reshape(sum(per_sample, {-3}),
                 concat_shapes(leading(per_sample, 3), {y.size(-3), x.size(-3), kh, kw}));
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
  const Shape own(t.shape().begin(), t.shape().end() - int64_t(core));
  const Shape tail(t.shape().end() - int64_t(core), t.shape().end());
  if (shape_numel(own) == 1) return {t, 0};
  if (broadcast_strides(own, lead) == contiguous_strides(lead)) return {t, shape_numel(tail)};
  Shape full = lead;
  full.insert(full.end(), tail.begin(), tail.end());
  return {expand(t, full), shape_numel(tail)};
}

Tensor transposed_conv(const Tensor& y, const Tensor& w, int64_t h, int64_t wd, int64_t stride,
                       int64_t padding);
Tensor weight_grad(const Tensor& y, const Tensor& x, int64_t kh, int64_t kw, int64_t stride, int64_t padding);

// The gradient for a weight of shape `w_shape` from the output side y (with `lead` cotangent axes) and the
// image side x. When the weight has no leading axes of its own, every axis of y between the cotangent axes
// and the channels is summed, so where x's samples line up with them they are folded into one samples axis
// first: one sum over lead x N samples rather than a gradient per entry summed afterwards.
Tensor weight_grad_for(const Tensor& y, const Tensor& x, int64_t lead, const Shape& w_shape, int64_t stride,
                       int64_t padding) {
  const int64_t kh = w_shape[w_shape.size() - 2], kw = w_shape.back();
  if (w_shape.size() == 4) {
    const Shape cot(y.shape().begin(), y.shape().begin() + lead),
        samples(y.shape().begin() + lead, y.shape().end() - 3);
    const Shape x_batch = leading(x, 3);
    const Shape y_flat = concat_shapes(cot, {shape_numel(samples), y.size(-3), y.size(-2), y.size(-1)});
    const Shape x_tail{x.size(-3), x.size(-2), x.size(-1)};
    if (x_batch == samples)  // x shared by the cotangents
      return weight_grad(reshape(y, y_flat), reshape(x, concat_shapes({shape_numel(samples)}, x_tail)), kh,
                         kw, stride, padding);
    if (x_batch == leading(y, 3))  // x carries the same cotangent axes
      return weight_grad(reshape(y, y_flat),
                         reshape(x, concat_shapes(cot, concat_shapes({shape_numel(samples)}, x_tail))), kh,
                         kw, stride, padding);
  }
  return weight_grad(y, x, kh, kw, stride, padding);
}

Tensor conv(const Tensor& x, const Tensor& w, int64_t stride, int64_t padding) {
  detail::check_compatible("conv2d", x, w);
  GG_CHECK(x.dim() >= 4 && w.dim() >= 4 && x.size(-3) == w.size(-3),
           "conv2d: input " + x.str() + " and weight " + w.str() + " need [N,C,H,W] and [O,C,kh,kw]");
  const int64_t n = x.size(-4), c = x.size(-3), o = w.size(-4), kh = w.size(-2), kw = w.size(-1);
  const ConvGeometry g = geometry(Shape{n, c, x.size(-2), x.size(-1)}, kh, kw, stride, padding, "conv2d");
  const Shape lead = broadcast_shapes(leading(x, 4), leading(w, 4), "conv2d");
  Tensor out = detail::empty_like_shape(x, concat_shapes(lead, {n, o, g.out_h(), g.out_w()}));
  {
    NoGradGuard no_grad;  // the value only: the node recorded below is this primitive
    const LeadOperand xs = fit_lead(x, lead, 4), ws = fit_lead(w, lead, 4);
    ConvBatch b{g, o, shape_numel(lead), xs.stride, ws.stride, n * o * g.out_h() * g.out_w()};
    if (ws.stride == 0) b.g.batch *= b.lead, b.lead = 1;  // one weight: the entries are more samples
    if (!detail::backend_of(x).conv2d(x.dtype(), b, xs.t.raw(), ws.t.raw(), out.raw()))
      out = detail::conv2d_by_columns(x, w, stride, padding);
  }
  return record("conv2d", out, {x, w},
                [stride, padding](BackwardContext& ctx, const Tensor& gy) {
                  const Tensor &x = ctx.saved(0), &w = ctx.saved(1);
                  std::vector<Tensor> r(2);
                  if (ctx.needs(0)) r[0] = transposed_conv(gy, w, x.size(-2), x.size(-1), stride, padding);
                  if (ctx.needs(1))
                    r[1] = weight_grad_for(gy, x, ctx.lead, ctx.input_shape(1), stride, padding);
                  return r;
                },
                {x, w});
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
  const Shape lead = broadcast_shapes(leading(y, 4), leading(w, 4), "conv_transpose2d");
  Tensor out = detail::empty_like_shape(y, concat_shapes(lead, {n, c, h, wd}));
  {
    NoGradGuard no_grad;
    const LeadOperand ys = fit_lead(y, lead, 4), ws = fit_lead(w, lead, 4);
    ConvBatch b{g, o, shape_numel(lead), n * c * h * wd, ws.stride, ys.stride};
    if (ws.stride == 0) b.g.batch *= b.lead, b.lead = 1;
    if (!detail::backend_of(y).conv_transpose2d(y.dtype(), b, ys.t.raw(), ws.t.raw(), out.raw()))
      out = detail::conv_transpose2d_by_columns(y, w, h, wd, stride, padding);
  }
  return record("conv_transpose2d", out, {y, w},
                [stride, padding](BackwardContext& ctx, const Tensor& gx) {
                  const Tensor &y = ctx.saved(0), &w = ctx.saved(1);
                  std::vector<Tensor> r(2);
                  if (ctx.needs(0)) r[0] = conv(gx, w, stride, padding);
                  if (ctx.needs(1))
                    r[1] = weight_grad_for(y, gx, ctx.lead, ctx.input_shape(1), stride, padding);
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
  const Shape lead = broadcast_shapes(leading(y, 4), leading(x, 4), "conv2d_weight_grad");
  Tensor out = detail::empty_like_shape(x, concat_shapes(lead, {o, c, kh, kw}));
  {
    NoGradGuard no_grad;
    const LeadOperand ys = fit_lead(y, lead, 4), xs = fit_lead(x, lead, 4);
    const ConvBatch b{g, o, shape_numel(lead), xs.stride, o * c * kh * kw, ys.stride};
    if (!detail::backend_of(x).conv2d_weight_grad(x.dtype(), b, ys.t.raw(), xs.t.raw(), out.raw()))
      out = detail::conv2d_weight_grad_by_columns(y, x, kh, kw, stride, padding);
  }
  return record("conv2d_weight_grad", out, {y, x},
                [kh, kw, stride, padding](BackwardContext& ctx, const Tensor& gw) {
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
  return with_bias(transposed_conv(x, w, ho, wo, stride, padding), b);
}

}  // namespace gg
