// The GPU's convolution columns (layout in backend.h's ConvGeometry). im2col is a gather, one thread per
// column element. col2im is a gather too, one thread per image pixel summing the column entries that came
// from it in (i, j) order: no atomics, so it is deterministic, and it adds in the CPU's order.
#include "engine/backend/cuda/cuda_backend.h"
#include "engine/backend/cuda/launch.cuh"

namespace gg::cuda {

namespace {

// The geometry as plain integers for the kernels (ConvGeometry's out_h/out_w are host functions).
struct Conv {
  int64_t channels, height, width, kh, kw, stride, pad, oh, ow;
};

Conv conv_of(const ConvGeometry& g) {
  return {g.channels, g.height, g.width, g.kernel_h, g.kernel_w, g.stride, g.padding, g.out_h(), g.out_w()};
}

// cols[n, (c*kh + i)*kw + j, oy*ow + ox] = x[n, c, oy*stride - pad + i, ox*stride - pad + j], 0 outside.
template <class T>
__global__ void im2col_kernel(int64_t total, Conv g, const T* x, T* cols) {
  GG_GRID_STRIDE(e, total) {
    int64_t r = e;
    const int64_t ox = r % g.ow;
    r /= g.ow;
    const int64_t oy = r % g.oh;
    r /= g.oh;
    const int64_t j = r % g.kw;
    r /= g.kw;
    const int64_t i = r % g.kh;
    r /= g.kh;  // r = n * channels + c: the image plane
    const int64_t y = oy * g.stride - g.pad + i, xx = ox * g.stride - g.pad + j;
    const bool inside = y >= 0 && y < g.height && xx >= 0 && xx < g.width;
    cols[e] = inside ? x[(r * g.height + y) * g.width + xx] : T(0);
  }
}

// x[n, c, y, xx] = sum over (i, j) with y = oy*stride - pad + i, xx = ox*stride - pad + j inside the output.
template <class T>
__global__ void col2im_kernel(int64_t total, Conv g, const T* cols, T* x) {
  GG_GRID_STRIDE(e, total) {
    int64_t r = e;
    const int64_t xx = r % g.width;
    r /= g.width;
    const int64_t y = r % g.height;
    r /= g.height;  // r = n * channels + c
    const T* plane = cols + r * g.kh * g.kw * g.oh * g.ow;
    T acc = 0;
    for (int64_t i = 0; i < g.kh; ++i) {
      const int64_t ty = y + g.pad - i;
      if (ty < 0 || ty % g.stride != 0 || ty / g.stride >= g.oh) continue;
      for (int64_t j = 0; j < g.kw; ++j) {
        const int64_t tx = xx + g.pad - j;
        if (tx < 0 || tx % g.stride != 0 || tx / g.stride >= g.ow) continue;
        acc += plane[(i * g.kw + j) * g.oh * g.ow + (ty / g.stride) * g.ow + tx / g.stride];
      }
    }
    x[e] = acc;
  }
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
