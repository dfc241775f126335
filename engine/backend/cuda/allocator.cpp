#include "engine/backend/cuda/allocator.h"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <bit>
#include <string>

#include "engine/backend/cuda/check.h"
#include "engine/core.h"

namespace gg::cuda {

size_t CachingAllocator::round(size_t bytes) {
  if (bytes <= (size_t{1} << 20)) return bytes <= 512 ? 512 : (bytes + 511) / 512 * 512;
  const size_t step = std::bit_floor(bytes) / 16;
  return (bytes + step - 1) / step * step;
}

void CachingAllocator::release_cache() {
  for (auto& [size, blocks] : free_)
    for (void* p : blocks) GG_CUDA_CHECK(cudaFree(p));
  free_.clear();
  cached_ = 0;
}

void* CachingAllocator::allocate(size_t bytes) {
  const size_t b = round(bytes);
  std::lock_guard<std::mutex> lock(mu_);
  void* p = nullptr;
  auto it = free_.find(b);
  if (it != free_.end() && !it->second.empty()) {
    p = it->second.back();
    it->second.pop_back();
    cached_ -= b;
  } else {
    cudaError_t e = cudaMalloc(&p, b);
    if (e == cudaErrorMemoryAllocation && cached_ > 0) {  // blocks of other sizes may be enough once freed
      (void)cudaGetLastError();
      release_cache();
      e = cudaMalloc(&p, b);
    }
    if (e == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError();
      fail("cuda allocator: out of device memory allocating " + std::to_string(bytes) + " bytes (" +
           std::to_string(in_use_) + " bytes in use)");
    }
    check_cuda(e, "cudaMalloc", __FILE__, __LINE__);
  }
  in_use_ += b;
  peak_ = std::max(peak_, in_use_);
  return p;
}

void CachingAllocator::deallocate(void* p, size_t bytes) {
  const size_t b = round(bytes);
  std::lock_guard<std::mutex> lock(mu_);
  free_[b].push_back(p);
  cached_ += b;
  in_use_ -= b;
}

}  // namespace gg::cuda
