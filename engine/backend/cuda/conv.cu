// The GPU's convolution columns. im2col is a gather, one thread per column element. col2im is a gather
// too, one thread per image pixel summing the column entries that came from it in (i, j) order: no atomics,
// so it is deterministic, and it adds in the CPU's order. The formulas are in conv_index.h.
#include "engine/backend/cuda/conv_index.h"
#include "engine/backend/cuda/cuda_backend.h"
#include "engine/backend/cuda/launch.cuh"

namespace gg::cuda {

namespace {

template <class T>
__global__ void im2col_kernel(int64_t total, Conv g, const T* x, T* cols) {
  GG_GRID_STRIDE(e, total) cols[e] = im2col_at(g, e, x);
}

template <class T>
__global__ void col2im_kernel(int64_t total, Conv g, const T* cols, T* x) {
  GG_GRID_STRIDE(e, total) x[e] = col2im_at(g, e, cols);
}

}  // namespace

void CudaBackend::im2col(DType t, const ConvGeometry& g, const void* x, void* cols) {
  const Conv c = conv_of(g);
  const int64_t total = g.batch * g.channels * c.kh * c.kw * c.oh * c.ow;
  dispatch(t, [&](auto z) {
    using T = decltype(z);
    launch("im2col_kernel", stream_, im2col_kernel<T>, total, total, c, static_cast<const T*>(x),
           static_cast<T*>(cols));
  });
}

void CudaBackend::col2im(DType t, const ConvGeometry& g, const void* cols, void* x) {
  const Conv c = conv_of(g);
  const int64_t total = g.batch * g.channels * g.height * g.width;
  dispatch(t, [&](auto z) {
    using T = decltype(z);
    launch("col2im_kernel", stream_, col2im_kernel<T>, total, total, c, static_cast<const T*>(cols),
           static_cast<T*>(x));
  });
}

}  // namespace gg::cuda
