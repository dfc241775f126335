// What the CUDA kernels share: the dtype dispatch, the launch of a grid-stride kernel on the backend's
// stream (checked), and the strided multi-index of up to kMaxRank axes that a kernel takes by value.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>

#include "engine/backend/cuda/check.h"
#include "engine/core.h"

namespace gg::cuda {

// Calls f(T{}) with T the C++ type of dtype t.
template <class F>
void dispatch(DType t, F&& f) {
  if (t == DType::f32)
    f(float{});
  else
    f(double{});
}

constexpr int kBlock = 256;

// Blocks for n elements, one element per thread up to a cap past which each thread loops (grid-stride):
// enough blocks to fill every SM many times over, without launching millions of them.
inline unsigned grid_for(int64_t n) { return unsigned(std::min<int64_t>((n + kBlock - 1) / kBlock, 8192)); }

// Launches kernel<<<grid_for(n), kBlock>>> on `stream` and checks the launch; `what` names it in the error.
template <class... KArgs, class... Args>
void launch(const char* what, cudaStream_t stream, void (*kernel)(KArgs...), int64_t n, Args... args) {
  if (n <= 0) return;
  kernel<<<grid_for(n), kBlock, 0, stream>>>(args...);
  check_cuda(cudaGetLastError(), what, __FILE__, __LINE__);
}

#define GG_GRID_STRIDE(i, n) \
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < (n); i += int64_t(gridDim.x) * blockDim.x)

constexpr int kMaxRank = 8;

// N operands walked over one shape, each with its own strides (in elements): offset(k, i) is where operand
// k holds element i of the row-major order of the shape. Passed to kernels by value (it is a few hundred
// bytes of kernel parameters).
template <int N>
struct StridedIndex {
  int rank = 0;
  int64_t shape[kMaxRank];
  int64_t strides[N][kMaxRank];

  __host__ __device__ void offsets(int64_t i, int64_t (&off)[N]) const {
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
