// Internal helpers shared by the op families: argument checks and output allocation.
#pragma once

#include <string>

#include "engine/autograd/node.h"
#include "engine/backend/backend.h"
#include "engine/ops/ops.h"

namespace gg::detail {

// Throws unless a and b share dtype and device, naming the op and both tensors.
inline void check_compatible(const char* op, const Tensor& a, const Tensor& b) {
  GG_CHECK(a.defined() && b.defined(), std::string(op) + ": undefined tensor argument");
  GG_CHECK(a.dtype() == b.dtype(), std::string(op) + ": dtype mismatch between " + a.str() + " and " + b.str());
  GG_CHECK(a.device() == b.device(), std::string(op) + ": device mismatch between " + a.str() + " on " +
                                         a.device().str() + " and " + b.str() + " on " + b.device().str());
}

inline Tensor empty_like_shape(const Tensor& like, const Shape& shape) {
  return Tensor::empty(shape, like.dtype(), like.device());
}

inline Backend& backend_of(const Tensor& t) { return backend_for(t.device()); }

// Whether `t` is the only handle on its buffer: no other handle, view, saved copy or saved output holds
// it, so an op whose caller drops t unread afterwards may write its result there (mul_consuming, the
// transposed convolution's fused rule).
inline bool sole_handle(const Tensor& t) {
  return t.defined() && t.impl().use_count() == 1 && t.impl()->storage.use_count() == 1;
}

// What an elementwise primitive's rule reads back besides the incoming gradient: its inputs, its output,
// both, or nothing (unary_op and binary_op save accordingly).
// each_for_other: a binary op's input i is kept only when the other requires grad (mul: d(ab)/da = b).
enum class Saves : uint8_t { nothing, inputs, output, inputs_and_output, each_for_other };
inline bool saves_inputs(Saves s) { return s == Saves::inputs || s == Saves::inputs_and_output; }
inline bool saves_output(Saves s) { return s == Saves::output || s == Saves::inputs_and_output; }

// A shape with `lead` leading axes of `g` put in front of `shape`.
inline Shape with_lead(const Tensor& g, int64_t lead, const Shape& shape) {
  Shape s(g.shape().begin(), g.shape().begin() + lead);
  s.insert(s.end(), shape.begin(), shape.end());
  return s;
}

// The convolution primitives' values (ops.h) as composites of im2col, matmul and col2im: what a backend
// without fused convolution kernels runs (conv.cpp, with grad mode off), and the tests' second way to them.
Tensor conv2d_by_columns(const Tensor& x, const Tensor& w, int64_t stride, int64_t padding);
Tensor conv_transpose2d_by_columns(const Tensor& y, const Tensor& w, int64_t h, int64_t wd, int64_t stride,
                                   int64_t padding);
Tensor conv2d_weight_grad_by_columns(const Tensor& y, const Tensor& x, int64_t kh, int64_t kw, int64_t stride,
                                     int64_t padding);

}  // namespace gg::detail
