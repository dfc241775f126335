// Composite ops: written once on top of the primitives, with no rules of their own, so every backend gets
// them, and their derivatives of every order, for free.
#include "engine/ops/op_helpers.h"

namespace gg {

Tensor scalar_like(double v, const Tensor& like) { return Tensor::scalar(v, like.dtype(), like.device()); }
Tensor zeros_like(const Tensor& x) { return Tensor::zeros(x.shape(), x.dtype(), x.device()); }
Tensor ones_like(const Tensor& x) { return Tensor::ones(x.shape(), x.dtype(), x.device()); }
Tensor eye(int64_t n, DType t, Device d) {
  std::vector<double> v(n * n, 0.0);
  for (int64_t i = 0; i < n; ++i) v[i * n + i] = 1.0;
  return Tensor::from_data(v, {n, n}, t, d);
}

Tensor transpose(const Tensor& x, int64_t a, int64_t b) {
  std::vector<int64_t> p(x.dim());
  for (int64_t i = 0; i < x.dim(); ++i) p[i] = i;
  std::swap(p[normalize_axis(a, x.dim(), "transpose")], p[normalize_axis(b, x.dim(), "transpose")]);
  return permute(x, p);
}

Tensor square(const Tensor& x) { return x * x; }
Tensor sign(const Tensor& x) {
  Tensor zero = scalar_like(0.0, x);
  return gt(x, zero) - lt(x, zero);
}

Tensor mean(const Tensor& x, const std::vector<int64_t>& axes, bool keepdim) {
  int64_t count = 1;
  if (axes.empty())
    count = x.numel();
  else
    for (int64_t a : axes) count *= x.shape()[normalize_axis(a, x.dim(), "mean")];
  return sum(x, axes, keepdim) / double(count);
}

Tensor var(const Tensor& x, const std::vector<int64_t>& axes, bool keepdim, bool unbiased) {
  Tensor m = mean(x, axes, true);
  Tensor d = x - m;
  Tensor v = mean(d * d, axes, keepdim);
  const double n = double(x.numel()) / double(m.numel());  // elements per reduced group
  return unbiased ? v * (n / (n - 1.0)) : v;
}

// log(1 + e^x) = max(x, 0) + log(1 + e^{-|x|}): never overflows.
Tensor softplus(const Tensor& x) { return relu(x) + log(1.0 + exp(-abs(x))); }
Tensor silu(const Tensor& x) { return x * sigmoid(x); }
Tensor leaky_relu(const Tensor& x, double slope) {
  return where(gt(x, scalar_like(0.0, x)), x, x * slope);
}

Tensor logsumexp(const Tensor& x, int64_t axis, bool keepdim) {
  // Shifting by the (constant) maximum changes nothing mathematically and keeps exp in range.
  Tensor m = max(x, {axis}, true).detach();
  Tensor r = m + log(sum(exp(x - m), {axis}, true));
  return keepdim ? r : reshape(r, max(x.detach(), {axis}, false).shape());
}
Tensor log_softmax(const Tensor& x, int64_t axis) { return x - logsumexp(x, axis, true); }


Tensor mse(const Tensor& prediction, const Tensor& target) {
  GG_CHECK(prediction.shape() == target.shape(),
           "mse: prediction " + prediction.str() + " and target " + target.str() + " differ in shape");
  Tensor d = prediction - target;
  return mean(d * d);
}

Tensor minimum(const Tensor& a, const Tensor& b) { return -maximum(-a, -b); }
Tensor clamp(const Tensor& x, double lo, double hi) {
  return minimum(maximum(x, scalar_like(lo, x)), scalar_like(hi, x));
}
Tensor flatten(const Tensor& x, int64_t start_axis) {
  start_axis = normalize_axis(start_axis, x.dim(), "flatten");
  Shape s(x.shape().begin(), x.shape().begin() + start_axis);
  s.push_back(-1);
  return reshape(x, s);
}

Tensor sum_to(const Tensor& g, const Shape& shape, int64_t lead) {
  Shape target = detail::with_lead(g, lead, shape);
  if (g.shape() == target) return g;
  const int64_t rank = g.dim(), rest = rank - lead, off = rest - static_cast<int64_t>(shape.size());
  GG_CHECK(off >= 0, "sum_to: gradient " + g.str() + " has fewer axes than " + shape_str(shape));
  std::vector<int64_t> axes;
  for (int64_t j = 0; j < rest; ++j) {
    const int64_t have = g.shape()[lead + j];
    if (j < off) {
      axes.push_back(lead + j);
    } else {
      const int64_t want = shape[j - off];
      GG_CHECK(want == have || want == 1,
               "sum_to: gradient " + g.str() + " cannot be summed to shape " + shape_str(shape));
      if (want == 1 && have != 1) axes.push_back(lead + j);
    }
  }
  Tensor s = axes.empty() ? g : sum(g, axes, true);
  return reshape(s, target);
}

Tensor pad(const Tensor& x, int64_t axis, int64_t before, int64_t after) {
  axis = normalize_axis(axis, x.dim(), "pad");
  GG_CHECK(before >= 0 && after >= 0, "pad: negative padding");
  return scatter_slice(x, axis, before + x.shape()[axis] + after, before, 1);
}

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  GG_CHECK(weight.dim() == 2 && x.dim() >= 1 && x.size(-1) == weight.size(1),
           "linear: input " + x.str() + " does not fit weight " + weight.str());
  Tensor y = matmul(x, weight, false, true);
  return bias.defined() ? y + bias : y;
}

Tensor operator-(const Tensor& x) { return neg(x); }
Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator+(const Tensor& a, double b) { return add(a, scalar_like(b, a)); }
Tensor operator-(const Tensor& a, double b) { return sub(a, scalar_like(b, a)); }
Tensor operator*(const Tensor& a, double b) { return mul(a, scalar_like(b, a)); }
Tensor operator/(const Tensor& a, double b) { return mul(a, scalar_like(1.0 / b, a)); }
Tensor operator+(double a, const Tensor& b) { return add(scalar_like(a, b), b); }
Tensor operator-(double a, const Tensor& b) { return sub(scalar_like(a, b), b); }
Tensor operator*(double a, const Tensor& b) { return mul(scalar_like(a, b), b); }
Tensor operator/(double a, const Tensor& b) { return div(scalar_like(a, b), b); }

}  // namespace gg
