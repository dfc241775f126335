// Finite-difference checks of first and second derivatives, in f64, element by element.
#include <cmath>
#include <sstream>

#include "engine/autograd/autograd.h"
#include "engine/ops/ops.h"

namespace gg {

namespace {

std::vector<Tensor> fresh_copies(const std::vector<Tensor>& xs) {
  std::vector<Tensor> out;
  for (const Tensor& x : xs) out.push_back(x.detach().clone().requires_grad_());
  return out;
}

}  // namespace

GradcheckResult gradcheck(const Function& f, const std::vector<Tensor>& inputs, GradcheckOptions opt) {
  for (size_t i = 0; i < inputs.size(); ++i)
    GG_CHECK(inputs[i].dtype() == DType::f64 && inputs[i].requires_grad(),
             "gradcheck: input " + std::to_string(i) + " (" + inputs[i].str() + ") must be f64 and require grad");
  Tensor y = f(inputs);
  const int64_t n = y.numel();
  Shape cot_shape{n};
  cot_shape.insert(cot_shape.end(), y.shape().begin(), y.shape().end());

  // Analytic: all n rows of the Jacobian for every input in one batched backward pass.
  std::vector<std::vector<double>> analytic(inputs.size());
  if (y.requires_grad() && n > 0) {
    GradOptions o;
    o.batch_axes = 1;
    o.retain_graph = true;
    auto rows = grad({y}, inputs, {reshape(eye(n, y.dtype(), y.device()), cot_shape)}, o);
    for (size_t i = 0; i < inputs.size(); ++i) analytic[i] = rows[i].to_vector();  // [n, numel_i]
  } else {
    for (size_t i = 0; i < inputs.size(); ++i) analytic[i].assign(n * inputs[i].numel(), 0.0);
  }

  // Numeric: central differences, one input element at a time.
  GradcheckResult res;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const int64_t ni = inputs[i].numel();
    const std::vector<double> at = inputs[i].to_vector();  // nudged on the host, so any device works
    for (int64_t j = 0; j < ni; ++j) {
      std::vector<double> col[2];
      for (int side = 0; side < 2; ++side) {
        std::vector<Tensor> xs = fresh_copies(inputs);
        std::vector<double> nudged = at;
        nudged[j] += side == 0 ? opt.eps : -opt.eps;
        xs[i] = Tensor::from_data(nudged, inputs[i].shape(), DType::f64, inputs[i].device()).requires_grad_();
        col[side] = f(xs).to_vector();
      }
      for (int64_t r = 0; r < n; ++r) {
        const double num = (col[0][r] - col[1][r]) / (2 * opt.eps);
        const double ana = analytic[i][r * ni + j];
        const double err = std::abs(num - ana);
        res.max_abs_error = std::max(res.max_abs_error, err);
        if (res.ok && !(err <= opt.atol + opt.rtol * std::abs(num))) {
          res.ok = false;
          std::ostringstream m;
          m.precision(10);
          m << "d output[" << r << "] / d input " << i << "[" << j << "]: analytic " << ana << ", numeric " << num;
          res.message = m.str();
        }
      }
    }
  }
  return res;
}

GradcheckResult gradgradcheck(const Function& f, const std::vector<Tensor>& inputs, uint64_t seed,
                              GradcheckOptions opt) {
  Tensor y = f(inputs);
  Generator gen(seed);
  Tensor u = Tensor::randn(y.shape(), gen, y.dtype(), y.device()).requires_grad_();
  const size_t n_in = inputs.size();
  // (x, u) -> J(x)^T u, flattened and concatenated over the inputs, with its graph recorded.
  Function first_order = [&f, n_in](const std::vector<Tensor>& xu) {
    std::vector<Tensor> xs(xu.begin(), xu.begin() + n_in);
    Tensor out = f(xs);
    if (!out.requires_grad()) return zeros_like(xu.back()).reshape({-1});
    GradOptions o;
    o.create_graph = true;
    std::vector<Tensor> g = grad({out}, xs, {xu.back()}, o);
    std::vector<Tensor> flat;
    for (const Tensor& t : g) flat.push_back(reshape(t, {-1}));
    return concat(flat, 0);
  };
  std::vector<Tensor> xu = inputs;
  xu.push_back(u);
  return gradcheck(first_order, xu, opt);
}

}  // namespace gg
