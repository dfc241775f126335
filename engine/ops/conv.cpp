// Convolutions as composites of two primitives, im2col and its transpose col2im, and matmul. Since each of
// the two primitives is the other's rule, every order of derivative of a convolution comes for free.
#include "engine/ops/op_helpers.h"

namespace gg {

namespace {

// Geometry for images of shape [..., C, H, W]: the leading axes are folded into one batch axis.
ConvGeometry geometry(const Shape& image, int64_t kh, int64_t kw, int64_t stride, int64_t padding, const char* op) {
  GG_CHECK(image.size() >= 3, std::string(op) + ": image shape " + shape_str(image) + " needs [..., C, H, W]");
  GG_CHECK(kh > 0 && kw > 0 && stride > 0 && padding >= 0,
           std::string(op) + ": kernel and stride must be positive and padding non-negative");
  const size_t r = image.size();
  ConvGeometry g{shape_numel(Shape(image.begin(), image.end() - 3)), image[r - 3], image[r - 2], image[r - 1], kh, kw,
                 stride, padding};
  GG_CHECK(g.out_h() > 0 && g.out_w() > 0, std::string(op) + ": kernel " + std::to_string(kh) + "x" +
                                               std::to_string(kw) + " does not fit image " + shape_str(image));
  return g;
}

Shape cols_shape(const Shape& image, const ConvGeometry& g) {
  Shape s(image.begin(), image.end() - 3);
  s.push_back(g.channels * g.kernel_h * g.kernel_w);
  s.push_back(g.out_h() * g.out_w());
  return s;
}

// [N, R, P] -> [R, N*P]: the samples side by side as columns, so that a layer's weight meets the whole
// batch in one matrix product (and its gradient is one product over the whole batch), rather than N
// products of P columns each and, for the weight's gradient, an N-fold stack summed afterwards. Both
// directions are a copy; a GEMM of the sizes of Table 3's conv net costs 2 x (output channels) flops per
// copied element, so the copy is cheap beside what it saves. A single sample needs no copy.
Tensor samples_into_columns(const Tensor& x) {
  if (x.size(0) == 1) return reshape(x, {x.size(1), x.size(2)});
  return reshape(permute(x, {1, 0, 2}), {x.size(1), -1});
}
// The inverse: [R, N*P] -> [N, R, P].
Tensor samples_out_of_columns(const Tensor& y, int64_t n) {
  if (n == 1) return reshape(y, {1, y.size(0), y.size(1)});
  return permute(reshape(y, {y.size(0), n, -1}), {1, 0, 2});
}

// y + b over the channel axis of [N, C, H, W]; y itself without a bias.
Tensor with_bias(const Tensor& y, const Tensor& b) { return b.defined() ? y + reshape(b, {-1, 1, 1}) : y; }

}  // namespace

Tensor im2col(const Tensor& x, int64_t kh, int64_t kw, int64_t stride, int64_t padding) {
  ConvGeometry g = geometry(x.shape(), kh, kw, stride, padding, "im2col");
  Tensor out = detail::empty_like_shape(x, cols_shape(x.shape(), g));
  detail::backend_of(x).im2col(x.dtype(), g, x.raw(), out.raw());
  return record("im2col", out, {x}, [kh, kw, stride, padding](BackwardContext& c, const Tensor& gr) {
    return std::vector{col2im(gr, detail::with_lead(gr, c.lead, c.input_shape(0)), kh, kw, stride, padding)};
  });
}

Tensor col2im(const Tensor& cols, const Shape& image_shape, int64_t kh, int64_t kw, int64_t stride, int64_t padding) {
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

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b, int64_t stride, int64_t padding) {
  detail::check_compatible("conv2d", x, w);
  GG_CHECK(x.dim() == 4 && w.dim() == 4 && x.size(1) == w.size(1),
           "conv2d: input " + x.str() + " and weight " + w.str() + " need [N,C,H,W] and [O,C,kh,kw]");
  const int64_t n = x.size(0), o = w.size(0), kh = w.size(2), kw = w.size(3);
  const Tensor cols = im2col(x, kh, kw, stride, padding);  // [N, C*kh*kw, Ho*Wo]
  const Tensor y = samples_out_of_columns(matmul(reshape(w, {o, -1}), samples_into_columns(cols)), n);
  const int64_t ho = (x.size(2) + 2 * padding - kh) / stride + 1;
  return with_bias(reshape(y, {n, o, ho, -1}), b);
}

Tensor conv_transpose2d(const Tensor& x, const Tensor& w, const Tensor& b, int64_t stride, int64_t padding,
                        int64_t output_padding) {
  detail::check_compatible("conv_transpose2d", x, w);
  GG_CHECK(x.dim() == 4 && w.dim() == 4 && x.size(1) == w.size(0),
           "conv_transpose2d: input " + x.str() + " and weight " + w.str() + " need [N,Cin,H,W] and [Cin,Cout,kh,kw]");
  GG_CHECK(output_padding >= 0 && output_padding < stride,
           "conv_transpose2d: output_padding must be in [0, stride)");
  const int64_t n = x.size(0), cin = x.size(1), cout = w.size(1), kh = w.size(2), kw = w.size(3);
  const int64_t ho = (x.size(2) - 1) * stride - 2 * padding + kh + output_padding;
  const int64_t wo = (x.size(3) - 1) * stride - 2 * padding + kw + output_padding;
  const Tensor cols = samples_out_of_columns(
      matmul(reshape(w, {cin, -1}), samples_into_columns(reshape(x, {n, cin, -1})), true, false), n);
  return with_bias(col2im(cols, {n, cout, ho, wo}, kh, kw, stride, padding), b);  // cols: [N, Cout*kh*kw, H*W]
}

}  // namespace gg
