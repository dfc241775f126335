// The strided multi-index of the CUDA kernels: N operands walked over one shape of up to kMaxRank axes
// (after merging), passed to a kernel by value. Host code too (GG_HD), so tests/test_cuda_plan.cpp checks
// the index arithmetic of every strided kernel without a GPU.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/backend/functors.h"  // GG_HD
#include "engine/core.h"

namespace gg::cuda {

constexpr int kMaxRank = 8;

// N operands walked over one shape, each with its own strides (in elements): offset(k, i) is where operand
// k holds element i of the row-major order of the shape. Passed to kernels by value (it is a few hundred
// bytes of kernel parameters).
template <int N>
struct StridedIndex {
  int rank = 0;
  int64_t shape[kMaxRank];
  int64_t strides[N][kMaxRank];

  GG_HD void offsets(int64_t i, int64_t (&off)[N]) const {
    if (rank == 1) {  // the common case once axes are merged: no 64-bit division per element
      for (int k = 0; k < N; ++k) off[k] = i * strides[k][0];
      return;
    }
    for (int k = 0; k < N; ++k) off[k] = 0;
    for (int d = rank - 1; d >= 0; --d) {
      const int64_t idx = i % shape[d];
      i /= shape[d];
      for (int k = 0; k < N; ++k) off[k] += idx * strides[k][d];
    }
  }
};

// The index of `shape` with size-1 axes dropped and adjacent axes merged where every operand reads them as
// one (so contiguous and simply broadcast operands collapse to one or two axes, as the CPU's StridedWalk
// does). More than kMaxRank axes left after merging is an Error naming `op`.
template <int N>
StridedIndex<N> strided_index(const char* op, const Shape& shape, const std::array<const Shape*, N>& strides) {
  StridedIndex<N> ix;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 1) continue;
    bool merge = ix.rank > 0;
    for (int k = 0; k < N && merge; ++k) merge = ix.strides[k][ix.rank - 1] == (*strides[k])[i] * shape[i];
    if (merge) {
      ix.shape[ix.rank - 1] *= shape[i];
      for (int k = 0; k < N; ++k) ix.strides[k][ix.rank - 1] = (*strides[k])[i];
      continue;
    }
    GG_CHECK(ix.rank < kMaxRank, std::string(op) + " on cuda: shape " + shape_str(shape) + " has more than " +
                                     std::to_string(kMaxRank) + " axes that cannot be merged");
    ix.shape[ix.rank] = shape[i];
    for (int k = 0; k < N; ++k) ix.strides[k][ix.rank] = (*strides[k])[i];
    ++ix.rank;
  }
  return ix;
}

// A reduction as rows: output o (in the output's row-major order, which is the order of the kept axes, as
// the output is the input's shape with the reduced axes set to 1) reduces the `row` input elements at
// kept(o) + red(r) for r < row, each side with the input's strides.
struct ReduceRows {
  int64_t outputs = 0, row = 0;
  StridedIndex<1> kept, red;
};

inline ReduceRows reduce_rows_of(const Shape& shape, const std::vector<bool>& reduced) {
  const Shape strides = contiguous_strides(shape);
  Shape kept_shape, kept_strides, red_shape, red_strides;
  for (size_t i = 0; i < shape.size(); ++i) {
    (reduced[i] ? red_shape : kept_shape).push_back(shape[i]);
    (reduced[i] ? red_strides : kept_strides).push_back(strides[i]);
  }
  return {shape_numel(kept_shape), shape_numel(red_shape), strided_index<1>("reduce", kept_shape, {&kept_strides}),
          strided_index<1>("reduce", red_shape, {&red_strides})};
}

}  // namespace gg::cuda
