// The GPU's random draws: the counter-based generator of functors.h, element i drawn from (seed,
// offset + i) in double and rounded to the tensor's type exactly as the CPU does, so both give the same
// bits for the same seed and offset (up to the device's log/cos/sqrt in normal draws).
#include "engine/backend/cuda/cuda_backend.h"
#include "engine/backend/cuda/launch.cuh"
#include "engine/backend/functors.h"

namespace gg::cuda {

namespace {

template <class T>
__global__ void random_kernel(int64_t n, bool uniform, uint64_t seed, uint64_t offset, T* out) {
  GG_GRID_STRIDE(i, n) {
    const uint64_t ctr = offset + uint64_t(i);
    out[i] = T(uniform ? fn::uniform01(seed, ctr, 0) : fn::normal01(seed, ctr));
  }
}

}  // namespace

void CudaBackend::random(RandomKind kind, DType t, int64_t n, uint64_t seed, uint64_t offset, void* out) {
  dispatch(t, [&](auto z) {
    using T = decltype(z);
    launch("random_kernel", stream_, random_kernel<T>, n, n, kind == RandomKind::uniform, seed, offset,
           static_cast<T*>(out));
  });
}

}  // namespace gg::cuda
