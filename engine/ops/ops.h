// Every op a user, a model or a backward rule calls. Primitives (each with a kernel per backend and a rule
// in this folder) come first; composites are written once on top of them and have no rule of their own.
#pragma once

#include <vector>

#include "engine/backend/backend.h"
#include "engine/tensor.h"

namespace gg {

// ---- Primitives ---------------------------------------------------------------------------------------
// Elementwise ops: one function per name of the op lists in engine/backend/backend.h, declared here by
// those lists: `Tensor exp(const Tensor& x)` for each unary op (rules in unary.cpp; erf is the Gauss error
// function) and `Tensor add(const Tensor& a, const Tensor& b)` for each binary op, with NumPy broadcasting
// (rules in binary.cpp). Comparisons (eq, ne, lt, le, gt, ge) return 0/1 in the inputs' dtype and carry no
// gradient. The math of each op is its functor in engine/backend/functors.h.
#define GG_DECLARE_UNARY(name) Tensor name(const Tensor& x);
#define GG_DECLARE_BINARY(name) Tensor name(const Tensor& a, const Tensor& b);
GG_UNARY_OPS(GG_DECLARE_UNARY)
GG_BINARY_OPS(GG_DECLARE_BINARY)
#undef GG_DECLARE_UNARY
#undef GG_DECLARE_BINARY

// a * b for an `a` that the caller drops unread afterwards (a backward rule's incoming gradient, see
// BackwardContext): the product is written into a's buffer when no other handle, view or saved copy holds
// it and a has the product's shape; otherwise it is mul(a, b). The same value and graph either way.
Tensor mul_consuming(const Tensor& a, const Tensor& b);

// cond ? a : b elementwise, broadcasting all three; cond is nonzero/zero (select.cpp).
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);

// Reductions over a set of axes; empty axes means all axes (reduce.cpp). max's gradient is shared equally
// among tied maxima.
Tensor sum(const Tensor& x, const std::vector<int64_t>& axes = {}, bool keepdim = false);
Tensor max(const Tensor& x, const std::vector<int64_t>& axes = {}, bool keepdim = false);
Tensor softmax(const Tensor& x, int64_t axis = -1);  // exp(x) / sum(exp(x)) along `axis`

// op(a) @ op(b) over the last two axes, batch axes broadcast; op transposes when the flag is set.
// 1-D operands are not promoted: pass matrices (matmul.cpp).
Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a = false, bool trans_b = false);

// A^T A over the last two axes: the Gram matrix of A's columns, with a rule that uses its symmetry.
Tensor gram(const Tensor& a);
// q_i = a_i M a_i^T for each row a_i of a [N, H], with M [H, H]: [N]. A primitive of its own (one product
// forward, one backward: A M is kept for the rule, whose gradients are 2 g (A M_s) for A and A^T diag(g) A
// for M, M_s = (M + M^T) / 2), differentiable again like every rule. The contractive penalty's gram route
// contraction (regularizers/contractive.h).
Tensor rowwise_quadratic_form(const Tensor& a, const Tensor& m);

// Movement (movement.cpp). reshape shares storage; the others copy into a contiguous result.
Tensor reshape(const Tensor& x, const Shape& shape);  // one axis may be -1
Tensor permute(const Tensor& x, const std::vector<int64_t>& perm);
Tensor expand(const Tensor& x, const Shape& shape);  // NumPy broadcast to `shape`
Tensor slice(const Tensor& x, int64_t axis, int64_t start, int64_t stop, int64_t step = 1);
// Zero padding on one axis: `before` zeros, x, `after` zeros (the transpose of slice).
Tensor pad(const Tensor& x, int64_t axis, int64_t before, int64_t after);
// Places x at every `step`-th position from `start` of an axis of length `length`, zeros elsewhere
// (the transpose of a strided slice).
Tensor scatter_slice(const Tensor& x, int64_t axis, int64_t length, int64_t start, int64_t step);
Tensor concat(const std::vector<Tensor>& xs, int64_t axis);
Tensor cast(const Tensor& x, DType t);
// x on device d (x itself when it is there): a copy through the host whose rule copies the gradient back.
Tensor to_device(const Tensor& x, Device d);

// Convolutions (conv.cpp). The columns: x [N,C,H,W] -> cols [N, C*kh*kw, Ho*Wo] and its transpose.
Tensor im2col(const Tensor& x, int64_t kernel_h, int64_t kernel_w, int64_t stride, int64_t padding);
Tensor col2im(const Tensor& cols, const Shape& image_shape, int64_t kernel_h, int64_t kernel_w, int64_t stride,
              int64_t padding);
// Cross-correlation of x [N,C,H,W] with w [O,C,kh,kw] (+ b [O]), as in PyTorch's conv2d.
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b = {}, int64_t stride = 1, int64_t padding = 0);
// The transpose of conv2d with w [C_in, C_out, kh, kw], as in PyTorch's conv_transpose2d; without bias, conv2d's
// gradient for its input.
Tensor conv_transpose2d(const Tensor& x, const Tensor& w, const Tensor& b = {}, int64_t stride = 1,
                        int64_t padding = 0, int64_t output_padding = 0);
// conv2d's gradient for its weight: the sum over samples of y[n] @ im2col(x[n])^T, for the output side
// y [N,O,Ho,Wo] and the input x [N,C,H,W]; [O, C, kernel_h, kernel_w].
Tensor conv2d_weight_grad(const Tensor& y, const Tensor& x, int64_t kernel_h, int64_t kernel_w, int64_t stride = 1,
                          int64_t padding = 0);
// The three above are primitives, each the others' rule. Each also takes leading axes in front of N (and of
// the weight's O), broadcast between its two operands: the cotangent axes of a batched backward pass.

// ---- Composites (composite.cpp): no rules of their own -------------------------------------
Tensor scalar_like(double v, const Tensor& like);
Tensor zeros_like(const Tensor& x);
Tensor eye(int64_t n, DType t = DType::f32, Device d = {});  // the n x n identity
Tensor ones_like(const Tensor& x);
Tensor transpose(const Tensor& x, int64_t a = -2, int64_t b = -1);
Tensor square(const Tensor& x);
Tensor sign(const Tensor& x);
Tensor mean(const Tensor& x, const std::vector<int64_t>& axes = {}, bool keepdim = false);
Tensor var(const Tensor& x, const std::vector<int64_t>& axes = {}, bool keepdim = false, bool unbiased = false);
Tensor softplus(const Tensor& x);
Tensor silu(const Tensor& x);
Tensor leaky_relu(const Tensor& x, double slope = 0.01);
Tensor logsumexp(const Tensor& x, int64_t axis, bool keepdim = false);
Tensor log_softmax(const Tensor& x, int64_t axis = -1);
Tensor mse(const Tensor& prediction, const Tensor& target);  // mean of squared differences
Tensor minimum(const Tensor& a, const Tensor& b);
Tensor clamp(const Tensor& x, double lo, double hi);
Tensor flatten(const Tensor& x, int64_t start_axis = 1);
// Sums a gradient of broadcast shape back to `shape`, keeping `lead` leading cotangent-batch axes.
Tensor sum_to(const Tensor& g, const Shape& shape, int64_t lead = 0);
// y = x W^T + b for x [..., in], W [out, in], b [out] (b may be undefined).
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = {});

// ---- Operators ---------------------------------------------------------------------------------------
Tensor operator-(const Tensor& x);
Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator+(const Tensor& a, double b);
Tensor operator-(const Tensor& a, double b);
Tensor operator*(const Tensor& a, double b);
Tensor operator/(const Tensor& a, double b);
Tensor operator+(double a, const Tensor& b);
Tensor operator-(double a, const Tensor& b);
Tensor operator*(double a, const Tensor& b);
Tensor operator/(double a, const Tensor& b);

}  // namespace gg
