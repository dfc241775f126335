// The CUDA backend's caching allocator: blocks are kept in free lists by rounded size and handed out again,
// so a training step allocates no fresh device memory after its first step (cudaMalloc and cudaFree are
// slow and cudaFree synchronises the whole device). Every kernel runs on the backend's one stream, so a
// block freed here and handed out again is only touched by work queued after the last use of its old
// owner: no event is needed between them. Thread-safe.
#pragma once

#include <cstddef>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace gg::cuda {

class CachingAllocator {
 public:
  void* allocate(size_t bytes);  // 256-byte aligned (cudaMalloc's); an Error when the device is out of memory
  void deallocate(void* p, size_t bytes);
  size_t cached() const { return cached_; }
  size_t peak() const { return peak_; }
  void reset_peak() { peak_ = in_use_; }

 private:
  // Small blocks by 512 bytes; large ones by 1/16 of their power of two (at most ~6% slack), so tensors of
  // slightly different sizes share a bucket without wasting much.
  static size_t round(size_t bytes);
  void release_cache();  // cudaFree of every cached block: the retry when cudaMalloc runs out

  std::mutex mu_;
  std::unordered_map<size_t, std::vector<void*>> free_;
  size_t cached_ = 0, in_use_ = 0, peak_ = 0;
};

}  // namespace gg::cuda
