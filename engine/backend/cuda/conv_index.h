// The element formulas of the GPU's im2col and col2im (layout in backend.h's ConvGeometry), one output
// element each, for the kernels of conv.cu. Host code too (GG_HD), so tests/test_cuda_plan.cpp runs them
// over every element against the CPU's im2col/col2im without a GPU.
#pragma once

#include <cstdint>

#include "engine/backend/backend.h"
#include "engine/backend/functors.h"  // GG_HD

namespace gg::cuda {

// The last digit of r in base `base` (r is divided by it): the innermost coordinate of a flat index.
GG_HD inline int64_t pop_digit(int64_t& r, int64_t base) {
  const int64_t digit = r % base;
  r /= base;
  return digit;
}

// The geometry as plain integers (ConvGeometry's out_h/out_w are host functions).
struct Conv {
  int64_t channels, height, width, kh, kw, stride, pad, oh, ow;
};

inline Conv conv_of(const ConvGeometry& g) {
  return {g.channels, g.height, g.width, g.kernel_h, g.kernel_w, g.stride, g.padding, g.out_h(), g.out_w()};
}

// cols[e] for e = ((plane * kh + i) * kw + j) * oh * ow + oy * ow + ox, plane = n * channels + c:
// x[plane, oy*stride - pad + i, ox*stride - pad + j], 0 outside the image.
template <class T>
GG_HD T im2col_at(const Conv& g, int64_t e, const T* x) {
  int64_t r = e;  // after the four digits, the image plane
  const int64_t ox = pop_digit(r, g.ow), oy = pop_digit(r, g.oh), j = pop_digit(r, g.kw), i = pop_digit(r, g.kh);
  const int64_t y = oy * g.stride - g.pad + i, xx = ox * g.stride - g.pad + j;
  const bool inside = y >= 0 && y < g.height && xx >= 0 && xx < g.width;
  return inside ? x[(r * g.height + y) * g.width + xx] : T(0);
}

// x[e] for e = (plane * height + y) * width + xx: the sum of the column entries that im2col took from this
// pixel, in (i, j) order (the CPU's order): those with y = oy*stride - pad + i, xx = ox*stride - pad + j.
template <class T>
GG_HD T col2im_at(const Conv& g, int64_t e, const T* cols) {
  int64_t r = e;  // after the two digits, the image plane
  const int64_t xx = pop_digit(r, g.width), y = pop_digit(r, g.height);
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
  return acc;
}

}  // namespace gg::cuda
