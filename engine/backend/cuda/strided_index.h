// The strided multi-index of the CUDA kernels: N operands walked over one shape of up to kMaxRank axes
// (after merging), passed to a kernel by value. Host code too (GG_HD), so tests/test_cuda_plan.cpp checks
// the index arithmetic of every strided kernel without a GPU.
#pragma once

#include <array>
#include <cstdint>
#include <string>

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

}  // namespace gg::cuda
