// What the CUDA kernels share (with engine/backend/dispatch.h): the launch of a grid-stride kernel on the backend's
// stream (checked); with strided_index.h, the multi-index that strided kernels take by value.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>

#include "engine/backend/cuda/check.h"
#include "engine/backend/cuda/strided_index.h"
#include "engine/backend/dispatch.h"
#include "engine/core.h"

namespace gg::cuda {

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

}  // namespace gg::cuda
