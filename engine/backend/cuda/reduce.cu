// The GPU's reductions (sum, max) over any set of axes. Deterministic: each output element is reduced by
// one thread (short rows) or one block (long rows) in a fixed order, a sequential sweep per thread then a
// fixed shared-memory tree; no atomics, so a run gives the same bits every time. The order differs from
// the CPU's, so sums agree with it to rounding, not bit for bit.
#include <cmath>
#include <limits>

#include "engine/backend/cuda/cuda_backend.h"
#include "engine/backend/cuda/launch.cuh"

namespace gg::cuda {

namespace {

// sum, or max with NaN winning (as the CPU's): combine(acc, v) for the running value acc.
template <class T>
struct Combine {
  bool is_sum;
  __device__ T init() const { return is_sum ? T(0) : -INFINITY; }
  __device__ T operator()(T acc, T v) const { return is_sum ? acc + v : ((v > acc || isnan(v)) ? v : acc); }
};

// One thread per output element, walking its reduced elements in order: for rows shorter than a block.
template <class T>
__global__ void reduce_by_thread(int64_t outputs, int64_t row, StridedIndex<1> kept, StridedIndex<1> red,
                                 Combine<T> c, const T* x, T* out) {
  GG_GRID_STRIDE(o, outputs) {
    int64_t base[1], off[1];
    kept.offsets(o, base);
    T acc = c.init();
    for (int64_t r = 0; r < row; ++r) {
      red.offsets(r, off);
      acc = c(acc, x[base[0] + off[0]]);
    }
    out[o] = acc;
  }
}

// One block per output element: thread t sweeps elements t, t + kBlock, ..., then a tree over the block.
template <class T>
__global__ void reduce_by_block(int64_t outputs, int64_t row, StridedIndex<1> kept, StridedIndex<1> red,
                                Combine<T> c, const T* x, T* out) {
  __shared__ T part[kBlock];
  for (int64_t o = blockIdx.x; o < outputs; o += gridDim.x) {
    int64_t base[1], off[1];
    kept.offsets(o, base);
    T acc = c.init();
    for (int64_t r = threadIdx.x; r < row; r += kBlock) {
      red.offsets(r, off);
      acc = c(acc, x[base[0] + off[0]]);
    }
    part[threadIdx.x] = acc;
    __syncthreads();
    for (int width = kBlock / 2; width > 0; width /= 2) {
      if (threadIdx.x < width) part[threadIdx.x] = c(part[threadIdx.x], part[threadIdx.x + width]);
      __syncthreads();
    }
    if (threadIdx.x == 0) out[o] = part[0];
    __syncthreads();  // part[0] is read before the next output overwrites it
  }
}

}  // namespace

void CudaBackend::reduce(ReduceOp op, DType t, const Shape& shape, const std::vector<bool>& reduced, const void* x,
                         void* out) {
  // Split the input's axes into the kept ones (which enumerate the outputs in order, since the output is
  // the input's shape with reduced axes set to 1) and the reduced ones, each with the input's strides.
  const Shape strides = contiguous_strides(shape);
  Shape kept_shape, kept_strides, red_shape, red_strides;
  for (size_t i = 0; i < shape.size(); ++i) {
    (reduced[i] ? red_shape : kept_shape).push_back(shape[i]);
    (reduced[i] ? red_strides : kept_strides).push_back(strides[i]);
  }
  const int64_t outputs = shape_numel(kept_shape), row = shape_numel(red_shape);
  const StridedIndex<1> kept = strided_index<1>("reduce", kept_shape, {&kept_strides});
  const StridedIndex<1> red = strided_index<1>("reduce", red_shape, {&red_strides});
  dispatch(t, [&](auto z) {
    using T = decltype(z);
    const Combine<T> c{op == ReduceOp::sum};
    const T* xs = static_cast<const T*>(x);
    T* os = static_cast<T*>(out);
    if (row < kBlock || outputs >= 64 * 1024) {  // enough outputs to fill the GPU one thread each
      launch("reduce_by_thread", stream_, reduce_by_thread<T>, outputs, outputs, row, kept, red, c, xs, os);
    } else if (outputs > 0) {
      const unsigned blocks = unsigned(std::min<int64_t>(outputs, 65535));
      reduce_by_block<T><<<blocks, kBlock, 0, stream_>>>(outputs, row, kept, red, c, xs, os);
      GG_CUDA_CHECK(cudaGetLastError());
    }
  });
}

}  // namespace gg::cuda
