#include "engine/backend/cuda/allocator.h"

#include <cuda_runtime_api.h>

#include <bit>

#include "engine/backend/cuda/check.h"

namespace gg::cuda {

size_t DeviceMemory::round(size_t bytes) {
  if (bytes <= (size_t{1} << 20)) return bytes <= 512 ? 512 : (bytes + 511) / 512 * 512;
  const size_t step = std::bit_floor(bytes) / 16;
  return (bytes + step - 1) / step * step;
}

void* DeviceMemory::allocate(size_t bytes) {
  void* p = nullptr;
  const cudaError_t e = cudaMalloc(&p, bytes);
  if (e == cudaErrorMemoryAllocation) {
    (void)cudaGetLastError();  // clears the error, so that the next call does not report it again
    return nullptr;
  }
  check_cuda(e, "cudaMalloc", __FILE__, __LINE__);
  return p;
}

void DeviceMemory::release(void* p) { GG_CUDA_CHECK(cudaFree(p)); }

}  // namespace gg::cuda
