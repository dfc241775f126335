// The CPU's random draws: the counter-based generator of functors.h over an OpenMP loop.
#include "engine/backend/cpu/cpu_backend.h"
#include "engine/backend/cpu/loops.h"
#include "engine/backend/functors.h"

namespace gg::cpu {

void CpuBackend::random(RandomKind kind, DType t, int64_t n, uint64_t seed, uint64_t offset, void* out) {
  dispatch(t, [&](auto z) {
    using T = decltype(z);
    T* o = static_cast<T*>(out);
    parallel_for(n, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        const uint64_t ctr = offset + i;
        o[i] = T(kind == RandomKind::uniform ? fn::uniform01(seed, ctr, 0) : fn::normal01(seed, ctr));
      }
    }, 4096);
  });
}

}  // namespace gg::cpu
