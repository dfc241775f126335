// The CPU backend's caching allocator. Blocks are kept by rounded size and handed out again, so a training
// loop that makes the same tensors every step maps no fresh pages after its first step (a page fault is
// expensive in this VM). Thread-safe.
#pragma once

#include <cstddef>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace gg::cpu {

class CachingAllocator {
 public:
  void* allocate(size_t bytes);  // 64-byte aligned; an Error when out of memory
  void deallocate(void* p, size_t bytes);
  size_t cached() const { return cached_; }
  size_t peak() const { return peak_; }
  void reset_peak() { peak_ = in_use_; }

 private:
  static size_t round(size_t bytes) { return bytes <= 64 ? 64 : (bytes + 511) / 512 * 512; }
  std::mutex mu_;
  std::unordered_map<size_t, std::vector<void*>> free_;
  size_t cached_ = 0, in_use_ = 0, peak_ = 0;
};

}  // namespace gg::cpu
