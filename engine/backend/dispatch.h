// What every backend's kernel entries share on the host side: from a dtype to its C++ type, and from an
// elementwise op to its functor in functors.h. The switches over the op lists are written here once; a
// backend's unary or binary entry is one call that runs its own loop (an OpenMP loop, a CUDA kernel) with
// the functor it is handed.
#pragma once

#include "engine/backend/backend.h"
#include "engine/backend/functors.h"

namespace gg {

// Calls f(T{}) with T the C++ type of dtype t.
template <class F>
void dispatch(DType t, F&& f) {
  if (t == DType::f32)
    f(float{});
  else
    f(double{});
}

// Calls f(fn::op{}) with the functor of `op`.
template <class F>
void with_functor(UnaryOp op, F&& f) {
  switch (op) {
#define GG_CASE(name) \
  case UnaryOp::name: f(fn::name{}); return;
    GG_UNARY_OPS(GG_CASE)
#undef GG_CASE
  }
}
template <class F>
void with_functor(BinaryOp op, F&& f) {
  switch (op) {
#define GG_CASE(name) \
  case BinaryOp::name: f(fn::name{}); return;
    GG_BINARY_OPS(GG_CASE)
#undef GG_CASE
  }
}

}  // namespace gg
