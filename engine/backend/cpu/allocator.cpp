#include "engine/backend/cpu/allocator.h"

#include <algorithm>
#include <cstdlib>
#include <string>

#include "engine/core.h"

namespace gg::cpu {

void* CachingAllocator::allocate(size_t bytes) {
  size_t b = round(bytes);
  std::lock_guard<std::mutex> lock(mu_);
  void* p = nullptr;
  auto it = free_.find(b);
  if (it != free_.end() && !it->second.empty()) {
    p = it->second.back();
    it->second.pop_back();
    cached_ -= b;
  } else {
    p = std::aligned_alloc(64, b);
    if (!p) fail("cpu allocator: out of memory allocating " + std::to_string(bytes) + " bytes");
  }
  in_use_ += b;
  peak_ = std::max(peak_, in_use_);
  return p;
}

void CachingAllocator::deallocate(void* p, size_t bytes) {
  size_t b = round(bytes);
  std::lock_guard<std::mutex> lock(mu_);
  free_[b].push_back(p);
  cached_ += b;
  in_use_ -= b;
}

}  // namespace gg::cpu
