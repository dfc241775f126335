// The caching allocator every backend uses, over its device's raw allocation: blocks are kept in free lists
// by rounded size and handed out again, so a training loop that makes the same tensors every step maps no
// fresh memory after its first step (a page fault is expensive in a VM; cudaMalloc and cudaFree are slow
// and cudaFree synchronises the whole device). When the raw allocation runs out, the cache is released
// and the allocation tried once more. The cache holds at most cache_limit(): twice the most bytes ever in
// use at once, plus kCacheSlack. A loop that makes the same tensors every step stays far below that, but
// one whose sizes keep changing (a latent iteration whose batch shrinks as its samples converge, each
// size a bucket of its own) would otherwise pile up blocks that are never asked for again: 10 GB behind a
// 1 GB model, which Linux's overcommit turns into an OOM kill rather than a failed allocation. A block
// freed while the cache is full goes back to the device. Cached blocks live as long as the backend, a
// static destroyed at exit: the host's cache is freed then, so LeakSanitizer finds no block lost; a
// device's is left to its driver, which frees device memory with the context (and may already be unloaded
// at that point). Thread-safe.
//
// `Raw` is the device's side: static `round(bytes)` (the bucket a request falls in), `allocate(bytes)`
// (nullptr when the device is out of memory; any other failure throws), `release(p)`, `kName` for errors and
// `kReleaseAtExit`. CachingBackend<Raw> is a Backend whose allocator entries are such an allocator's.
#pragma once

#include <algorithm>
#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/backend/backend.h"

namespace gg {

template <class Raw>
class CachingAllocator {
 public:
  CachingAllocator() = default;
  CachingAllocator(const CachingAllocator&) = delete;
  CachingAllocator& operator=(const CachingAllocator&) = delete;
  ~CachingAllocator() {
    if constexpr (Raw::kReleaseAtExit) release_cache();
  }

  void* allocate(size_t bytes) {
    const size_t b = Raw::round(bytes);
    std::lock_guard<std::mutex> lock(mu_);
    void* p = take(b);
    if (!p) p = Raw::allocate(b);
    if (!p && cached_ > 0) {  // blocks of other sizes may be enough once freed
      release_cache();
      p = Raw::allocate(b);
    }
    if (!p)
      fail(std::string(Raw::kName) + " allocator: out of memory allocating " + std::to_string(bytes) +
           " bytes (" + std::to_string(in_use_) + " bytes in use)");
    in_use_ += b;
    peak_ = std::max(peak_, in_use_);
    high_water_ = std::max(high_water_, in_use_);
    return p;
  }

  void deallocate(void* p, size_t bytes) {
    const size_t b = Raw::round(bytes);
    std::lock_guard<std::mutex> lock(mu_);
    in_use_ -= b;
    if (cached_ + b > cache_limit()) {
      Raw::release(p);
      return;
    }
    free_[b].push_back(p);
    cached_ += b;
  }

  static constexpr size_t kCacheSlack = size_t{256} << 20;
  size_t cache_limit() const { return 2 * high_water_ + kCacheSlack; }
  size_t cached() const { return cached_; }
  size_t in_use() const { return in_use_; }
  size_t peak() const { return peak_; }
  void reset_peak() { peak_ = in_use_; }

 private:
  // A cached block of bucket b, or nullptr.
  void* take(size_t b) {
    auto it = free_.find(b);
    if (it == free_.end() || it->second.empty()) return nullptr;
    void* p = it->second.back();
    it->second.pop_back();
    cached_ -= b;
    return p;
  }
  void release_cache() {
    for (auto& [size, blocks] : free_)
      for (void* p : blocks) Raw::release(p);
    free_.clear();
    cached_ = 0;
  }

  std::mutex mu_;
  std::unordered_map<size_t, std::vector<void*>> free_;
  size_t cached_ = 0, in_use_ = 0, peak_ = 0;
  size_t high_water_ = 0;  // the most bytes ever in use at once (peak_ is reset by reset_peak)
};

// A Backend whose memory comes from a CachingAllocator<Raw>.
template <class Raw>
class CachingBackend : public Backend {
 public:
  void* allocate(size_t bytes) override { return alloc_.allocate(bytes); }
  void deallocate(void* p, size_t bytes) override { alloc_.deallocate(p, bytes); }
  size_t cached_bytes() const override { return alloc_.cached(); }
  size_t in_use_bytes() const override { return alloc_.in_use(); }
  size_t peak_bytes() const override { return alloc_.peak(); }
  void reset_peak_bytes() override { alloc_.reset_peak(); }

 private:
  CachingAllocator<Raw> alloc_;
};

}  // namespace gg
