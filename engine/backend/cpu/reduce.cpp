// The CPU's reductions (sum, max) over any set of axes, with fast paths for the common layouts.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "engine/backend/cpu/cpu_backend.h"
#include "engine/backend/cpu/loops.h"

namespace gg::cpu {

namespace {

template <class T>
void reduce_kernel(ReduceOp op, const Shape& shape_in, const std::vector<bool>& reduced_in, const T* x, T* out) {
  // Merge adjacent axes with the same role and drop size-1 axes: most reductions become [K,R], [R,K] or [R].
  Shape shape;
  std::vector<bool> red;
  for (size_t i = 0; i < shape_in.size(); ++i) {
    if (shape_in[i] == 1) continue;
    if (!red.empty() && red.back() == reduced_in[i])
      shape.back() *= shape_in[i];
    else {
      shape.push_back(shape_in[i]);
      red.push_back(reduced_in[i]);
    }
  }
  const bool is_sum = op == ReduceOp::sum;
  const T init = is_sum ? T(0) : -std::numeric_limits<T>::infinity();
  auto combine = [is_sum](T acc, T v) { return is_sum ? acc + v : ((v > acc || std::isnan(v)) ? v : acc); };
  int64_t out_n = 1;
  for (size_t i = 0; i < shape.size(); ++i)
    if (!red[i]) out_n *= shape[i];
  auto row = [&](const T* p, int64_t n) -> T {
    ConstArrayMap<T> r(p, n);
    return is_sum ? r.sum() : (r.isNaN().any() ? std::numeric_limits<T>::quiet_NaN() : r.maxCoeff());
  };

  if (shape.empty() || (shape.size() == 1 && !red[0])) {  // nothing to reduce
    std::memcpy(out, x, sizeof(T) * out_n);
    return;
  }
  if (shape.size() == 1) {  // [R]: everything to one number, partial sums combined in order
    const int64_t n = shape[0];
    // The partials are what fixes the rounding, so their number depends on n alone, never on the thread
    // count: from kPartialElements elements on, two and one more per kPartialElements (at most
    // kMaxPartials), so that below 65,536 elements they are the two halves that two threads summed before.
    // Whether they run in parallel is a matter of speed alone, decided by the memory-bound grain.
    constexpr int64_t kPartialElements = 32768, kMaxPartials = 64;
    const int64_t parts = n < kPartialElements ? 1 : std::min(kMaxPartials, n / kPartialElements + 1);
    std::vector<T> part(parts, init);
    auto partial = [&](int64_t tb, int64_t te) {
      for (int64_t t = tb; t < te; ++t) part[t] = row(x + n * t / parts, n * (t + 1) / parts - n * t / parts);
    };
    if (n >= kMemoryBoundGrain)
      parallel_for(parts, partial, 1);
    else
      partial(0, parts);
    T acc = init;
    for (T p : part) acc = combine(acc, p);
    out[0] = acc;
    return;
  }
  if (shape.size() == 2 && !red[0]) {  // [K,R]: one row each
    const int64_t K = shape[0], R = shape[1];
    parallel_for(
        K,
        [&](int64_t b, int64_t e) {
          for (int64_t k = b; k < e; ++k) out[k] = row(x + k * R, R);
        },
        std::max<int64_t>(1, kMemoryBoundGrain / R));
    return;
  }
  if (shape.size() == 2 && red[0]) {  // [R,K]: column reductions, threads split the columns
    const int64_t R = shape[0], K = shape[1];
    parallel_for(
        K,
        [&](int64_t b, int64_t e) {
          ArrayMap<T> o(out + b, e - b);
          o = ConstArrayMap<T>(x + b, e - b);
          for (int64_t r = 1; r < R; ++r) {
            ConstArrayMap<T> xr(x + r * K + b, e - b);
            if (is_sum)
              o += xr;
            else
              o = (xr > o || xr.isNaN()).select(xr, o);
          }
        },
        std::max<int64_t>(1, kMemoryBoundGrain / R));
    return;
  }
  // General pattern: walk the input once, accumulating into the output through zero strides.
  for (int64_t i = 0; i < out_n; ++i) out[i] = init;
  Shape out_shape(shape.size());
  for (size_t i = 0; i < shape.size(); ++i) out_shape[i] = red[i] ? 1 : shape[i];
  Shape so = contiguous_strides(out_shape), si = contiguous_strides(shape);
  for (size_t i = 0; i < shape.size(); ++i)
    if (red[i]) so[i] = 0;
  const int64_t rank = shape.size(), inner = shape.back();
  const int64_t outer = shape_numel(shape) / inner;
  for (int64_t o = 0; o < outer; ++o) {
    int64_t rem = o, xo = 0, oo = 0;
    for (int64_t d = rank - 2; d >= 0; --d) {
      int64_t idx = rem % shape[d];
      rem /= shape[d];
      xo += idx * si[d];
      oo += idx * so[d];
    }
    if (red.back())
      out[oo] = combine(out[oo], row(x + xo, inner));
    else
      for (int64_t j = 0; j < inner; ++j) out[oo + j] = combine(out[oo + j], x[xo + j]);
  }
}

}  // namespace

void CpuBackend::reduce(ReduceOp op, DType t, const Shape& shape, const std::vector<bool>& reduced, const void* x,
                        void* out) {
  dispatch(t, [&](auto z) {
    using T = decltype(z);
    reduce_kernel<T>(op, shape, reduced, static_cast<const T*>(x), static_cast<T*>(out));
  });
}

bool CpuBackend::softmax_rows(DType t, int64_t rows, int64_t n, const void* x, void* y) {
  dispatch(t, [&](auto z) {
    using T = decltype(z);
    const T* in = static_cast<const T*>(x);
    T* out = static_cast<T*>(y);
    // Rows are whole tasks, so where the split falls changes no result.
    parallel_for_balanced(rows, [&](int64_t rb, int64_t re) {
      for (int64_t r = rb; r < re; ++r) {
        ConstArrayMap<T> row(in + r * n, n);
        ArrayMap<T> e(out + r * n, n);
        // The shift by the row's maximum keeps exp in range. A NaN in the row needs no check of its own:
        // whatever maxCoeff makes of it, the NaN reaches the sum and so every entry of the row.
        e = (row - row.maxCoeff()).exp();
        e /= e.sum();
      }
    }, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(n, 1)));
  });
  return true;
}

}  // namespace gg::cpu
