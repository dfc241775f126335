// Device memory for the CUDA backend's caching allocator (engine/backend/caching_allocator.h), which keeps
// freed blocks by bucket and hands them out again: no cudaMalloc or cudaFree per op. Every kernel runs on
// the backend's one stream, so a block freed and handed out again is only touched by work queued after the
// last use of its old owner: no event is needed between them.
#pragma once

#include <cstddef>

namespace gg::cuda {

struct DeviceMemory {
  static constexpr const char* kName = "cuda";
  static constexpr bool kReleaseAtExit = false;
  // Small blocks by 512 bytes; large ones by 1/16 of their power of two (at most ~6% slack), so tensors of
  // slightly different sizes share a bucket without wasting much.
  static size_t round(size_t bytes);
  static void* allocate(size_t bytes);  // cudaMalloc (256-byte aligned); nullptr when the device is full
  static void release(void* p);         // cudaFree
};

}  // namespace gg::cuda
