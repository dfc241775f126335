// Loop templates shared by the CPU kernels: the dtype dispatch, one parallel chunking rule and one strided
// N-ary walk. Kernels pass a functor; there is no virtual call, allocation or bounds check per element.
#pragma once

#include <omp.h>

#include <Eigen/Core>
#include <algorithm>
#include <array>
#include <cstdint>

#include "engine/backend/dispatch.h"
#include "engine/core.h"
#include "engine/threads.h"

namespace gg::cpu {

template <class T>
using ArrayMap = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>;
template <class T>
using ConstArrayMap = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>;

// Below this many elements a parallel region costs more than it saves. Starting one wakes the team, which
// sleeps between regions after a short spin (the passive waits cli/main.cpp asks for, so that a waiting
// thread never holds a core another process needs): a few microseconds on a quiet machine, tens in a
// virtual machine or when a core is taken. A vectorised transcendental op (Eigen's exp, tanh, log: about
// half a nanosecond per element) pays for that above kParallelGrain elements; a memory-bound one (add, copy,
// a sum: a tenth of that) only above kMemoryBoundGrain. With one grain of 32,768 for both, the toy Poisson
// step ran 1.5x slower on two threads than on one.
constexpr int64_t kParallelGrain = 131072;
constexpr int64_t kMemoryBoundGrain = 262144;

// The blocks parallel_for cuts [0, n) into: `count` blocks of `step` elements (the last may be shorter),
// fixed by n and the grain alone. A block holds about a kBlocksPerGrain-th of a grain, so that threads taking
// blocks as they finish come out even, and at most kMaxBlocks of them; a block of many elements is a whole
// number of kBlockAlign elements, so that every block but the last is vector body with no scalar tail.
constexpr int64_t kBlocksPerGrain = 8;
constexpr int64_t kMaxBlocks = 64;
constexpr int64_t kBlockAlign = 64;
struct Blocks {
  int64_t count, step;
};
inline Blocks fixed_blocks(int64_t n, int64_t grain) {
  if (n <= std::max<int64_t>(grain, 1)) return {1, n};
  const int64_t target = std::max<int64_t>(1, grain / kBlocksPerGrain);
  const int64_t count = std::min(kMaxBlocks, (n + target - 1) / target);
  int64_t step = (n + count - 1) / count;
  if (step >= 4 * kBlockAlign) step = (step + kBlockAlign - 1) / kBlockAlign * kBlockAlign;
  return {(n + step - 1) / step, step};
}

// The threads a parallel region over `tasks` small pieces of work starts (engine/threads.h, plan_region).
inline int region_threads(int64_t tasks) { return plan_region(tasks).threads; }

// Calls f(task, thread) for every task in [0, tasks), the threads of plan_region taking tasks as they
// finish; `thread` is below omp_get_max_threads(), for per-thread scratch.
template <class F>
void parallel_tasks(int64_t tasks, double flops, F&& f) {
  const RegionPlan plan = plan_region(tasks, flops);
  if (plan.threads <= 1) {
    for (int64_t t = 0; t < tasks; ++t) f(t, int64_t{0});
    return;
  }
#pragma omp parallel num_threads(plan.threads)
  {
    const HeldCore held(plan.hold_cores);
#pragma omp for schedule(dynamic, 1) nowait
    for (int64_t t = 0; t < tasks; ++t) f(t, int64_t(omp_get_thread_num()));
  }
}

// Calls f(begin, end) over [0, n), block by block (fixed_blocks) when n is above the grain, the blocks
// shared among the OpenMP threads as they finish. The blocks do not depend on the thread count: a
// vectorised loop rounds the elements of its scalar tail, and those before its first aligned element,
// differently from its vector body, so where a block starts can change an element's bits. One thread runs
// the same blocks one after another and gets the same numbers as several (tests/test_thread_invariance.cpp).
template <class F>
void parallel_for(int64_t n, F&& f, int64_t grain = kParallelGrain) {
  if (n <= 0) return;
  const Blocks blocks = fixed_blocks(n, grain);
  if (blocks.count == 1) {
    f(int64_t{0}, n);
    return;
  }
  const int threads = region_threads(blocks.count);
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1) if (threads > 1)
  for (int64_t c = 0; c < blocks.count; ++c) f(c * blocks.step, std::min(n, (c + 1) * blocks.step));
}

// Like parallel_for, but in up to kBalancedChunksPerThread chunks per thread, whose number does depend on
// the thread count. Only for loops in which no element's result depends on where a chunk starts: copies,
// whole rows, whole image planes.
constexpr int64_t kBalancedChunksPerThread = 4;
template <class F>
void parallel_for_balanced(int64_t n, F&& f, int64_t grain) {
  const int64_t by_grain = (n + grain - 1) / std::max<int64_t>(grain, 1);
  const int64_t threads = region_threads(by_grain);
  const int64_t chunks = std::min<int64_t>(threads * kBalancedChunksPerThread, by_grain);
  if (threads <= 1) {
    if (n > 0) f(int64_t{0}, n);
    return;
  }
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
  for (int64_t c = 0; c < chunks; ++c) {
    int64_t b = n * c / chunks, e = n * (c + 1) / chunks;
    if (b < e) f(b, e);
  }
}

// Walks a multi-index over `shape` for N operands, each with its own strides (in elements). Adjacent axes
// that every operand reads contiguously are merged first, so the common cases collapse to one flat run.
// Calls f(offsets, inner_count, inner_strides) once per innermost run.
template <size_t N>
struct StridedWalk {
  Shape shape;
  std::array<Shape, N> strides;

  StridedWalk(const Shape& s, const std::array<const Shape*, N>& st) {
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] == 1) continue;
      bool merge = !shape.empty();
      for (size_t k = 0; k < N && merge; ++k) merge = strides[k].back() == (*st[k])[i] * s[i];
      if (merge) {
        shape.back() *= s[i];
        for (size_t k = 0; k < N; ++k) strides[k].back() = (*st[k])[i];
      } else {
        shape.push_back(s[i]);
        for (size_t k = 0; k < N; ++k) strides[k].push_back((*st[k])[i]);
      }
    }
    if (shape.empty()) {
      shape.push_back(1);
      for (auto& s2 : strides) s2.push_back(0);
    }
  }

  template <class F>
  void run(F&& f) const {
    const int64_t rank = static_cast<int64_t>(shape.size());
    const int64_t inner = shape.back();
    int64_t outer = 1;
    for (int64_t i = 0; i + 1 < rank; ++i) outer *= shape[i];
    std::array<int64_t, N> inner_strides;
    for (size_t k = 0; k < N; ++k) inner_strides[k] = strides[k].back();
    // Runs ob..oe: the multi-index of the first by division, then counted up like an odometer, so a walk of
    // many short runs (a permute whose inner axis holds a few elements) costs no division per run.
    auto body = [&](int64_t ob, int64_t oe) {
      if (ob >= oe) return;
      std::array<int64_t, N> off{};
      Shape idx(rank > 1 ? rank - 1 : 0);
      for (int64_t d = rank - 2, rem = ob; d >= 0; --d) {
        idx[d] = rem % shape[d];
        rem /= shape[d];
        for (size_t k = 0; k < N; ++k) off[k] += idx[d] * strides[k][d];
      }
      for (int64_t o = ob;;) {
        f(off, inner, inner_strides);
        if (++o == oe) break;
        for (int64_t d = rank - 2; d >= 0; --d) {  // the next index: carry while an axis wraps around
          for (size_t k = 0; k < N; ++k) off[k] += strides[k][d];
          if (++idx[d] < shape[d]) break;
          for (size_t k = 0; k < N; ++k) off[k] -= shape[d] * strides[k][d];
          idx[d] = 0;
        }
      }
    };
    // Parallel over outer runs when the whole walk is big enough to pay for it (a walk moves memory). Each
    // run is one call of f whatever the split, so the outer split may be balanced.
    if (outer > 1 && outer * inner >= kMemoryBoundGrain)
      parallel_for_balanced(outer, body, std::max<int64_t>(1, kMemoryBoundGrain / inner));
    else if (outer == 1 && inner >= kMemoryBoundGrain) {
      parallel_for(
          inner,
          [&](int64_t b, int64_t e) {
            std::array<int64_t, N> off;
            for (size_t k = 0; k < N; ++k) off[k] = b * inner_strides[k];
            f(off, e - b, inner_strides);
          },
          kMemoryBoundGrain);
    } else {
      body(0, outer);
    }
  }
};

}  // namespace gg::cpu
