// The CPU's elementwise kernels: fill, cast, strided copy, the unary and binary primitives (dispatched by
// the op lists of backend.h to the functors of functors.h), where, and the fused Adam step.
#include <cmath>
#include <cstring>
#include <type_traits>

#include "engine/backend/cpu/cpu_backend.h"
#include "engine/backend/cpu/loops.h"
#include "engine/backend/functors.h"

namespace gg::cpu {

namespace {

// Where Eigen has a vectorised array function for an op, the CPU runs that instead of the op's scalar
// functor: Eigen's SIMD exp, log, tanh, ... are several times faster than a loop over libm, and they are
// the numbers this backend has always given. An entry names Eigen's function for the op; it is not a
// second formula. Ops without an entry run their functor from functors.h.
template <class F>
struct EigenArrayFn {
  static constexpr bool exists = false;
};
#define GG_EIGEN_ARRAY_FN(op, call)            \
  template <>                                  \
  struct EigenArrayFn<fn::op> {                \
    static constexpr bool exists = true;       \
    template <class X>                         \
    static auto apply(const X& x) {            \
      return call;                             \
    }                                          \
  };
GG_EIGEN_ARRAY_FN(neg, -x)
GG_EIGEN_ARRAY_FN(exp, x.exp())
GG_EIGEN_ARRAY_FN(log, x.log())
GG_EIGEN_ARRAY_FN(sqrt, x.sqrt())
GG_EIGEN_ARRAY_FN(abs, x.abs())
GG_EIGEN_ARRAY_FN(tanh, x.tanh())
GG_EIGEN_ARRAY_FN(sigmoid, x.logistic())
GG_EIGEN_ARRAY_FN(relu, x.max(typename X::Scalar(0)))
GG_EIGEN_ARRAY_FN(sin, x.sin())
GG_EIGEN_ARRAY_FN(cos, x.cos())
#undef GG_EIGEN_ARRAY_FN

// The unary ops that cost about a memory access per element (loops.h's grains).
template <class F>
constexpr bool memory_bound =
    std::is_same_v<F, fn::neg> || std::is_same_v<F, fn::abs> || std::is_same_v<F, fn::relu>;

template <class F, class T>
void unary_kernel(int64_t n, const T* x, T* y) {
  parallel_for(
      n,
      [&](int64_t b, int64_t e) {
        if constexpr (EigenArrayFn<F>::exists) {
          ConstArrayMap<T> X(x + b, e - b);
          ArrayMap<T> Y(y + b, e - b);
          Y = EigenArrayFn<F>::apply(X);
        } else {
          const F f{};
          for (int64_t i = b; i < e; ++i) y[i] = f(x[i]);
        }
      },
      memory_bound<F> ? kMemoryBoundGrain : kParallelGrain);
}

// The inner run specialised on the stride patterns that broadcasting produces, so each vectorises.
template <class T, class F>
void binary_run(F f, const T* a, const T* b, T* out, int64_t n, int64_t sa, int64_t sb) {
  if (sa == 1 && sb == 1)
    for (int64_t i = 0; i < n; ++i) out[i] = f(a[i], b[i]);
  else if (sa == 1 && sb == 0) {
    const T bv = *b;
    for (int64_t i = 0; i < n; ++i) out[i] = f(a[i], bv);
  } else if (sa == 0 && sb == 1) {
    const T av = *a;
    for (int64_t i = 0; i < n; ++i) out[i] = f(av, b[i]);
  } else
    for (int64_t i = 0; i < n; ++i) out[i] = f(a[i * sa], b[i * sb]);
}

template <class F, class T>
void binary_kernel(const Shape& shape, const T* a, const Shape& sa, const T* b, const Shape& sb, T* out) {
  Shape so = contiguous_strides(shape);
  StridedWalk<3> walk(shape, {&sa, &sb, &so});
  walk.run([&](const std::array<int64_t, 3>& off, int64_t n, const std::array<int64_t, 3>& st) {
    // The output is contiguous, so its inner stride is 1 (or the run has length 1).
    binary_run<T>(F{}, a + off[0], b + off[1], out + off[2], n, st[0], st[1]);
  });
}

}  // namespace

void CpuBackend::fill(DType t, int64_t n, double value, void* out) {
  dispatch(t, [&](auto z) {
    using T = decltype(z);
    T* o = static_cast<T*>(out);
    parallel_for(
        n, [&](int64_t b, int64_t e) { std::fill(o + b, o + e, T(value)); }, kMemoryBoundGrain);
  });
}

void CpuBackend::cast(DType from, DType to, int64_t n, const void* x, void* y) {
  dispatch(from, [&](auto zf) {
    dispatch(to, [&](auto zt) {
      using F = decltype(zf);
      using T = decltype(zt);
      const F* xs = static_cast<const F*>(x);
      T* ys = static_cast<T*>(y);
      parallel_for(
          n,
          [&](int64_t b, int64_t e) {
            for (int64_t i = b; i < e; ++i) ys[i] = T(xs[i]);
          },
          kMemoryBoundGrain);
    });
  });
}

void CpuBackend::copy_strided(DType t, const Shape& shape, const void* src, const Shape& ss, void* dst,
                              const Shape& ds) {
  dispatch(t, [&](auto z) {
    using T = decltype(z);
    const T* s = static_cast<const T*>(src);
    T* d = static_cast<T*>(dst);
    StridedWalk<2> walk(shape, {&ss, &ds});
    walk.run([&](const std::array<int64_t, 2>& off, int64_t n, const std::array<int64_t, 2>& st) {
      const T* sp = s + off[0];
      T* dp = d + off[1];
      if (st[0] == 1 && st[1] == 1 && n >= 16)
        std::memcpy(dp, sp, sizeof(T) * n);
      else
        for (int64_t i = 0; i < n; ++i) dp[i * st[1]] = sp[i * st[0]];
    });
  });
}

void CpuBackend::unary(UnaryOp op, DType t, int64_t n, const void* x, void* y) {
  dispatch(t, [&](auto z) {
    using T = decltype(z);
    const T* xs = static_cast<const T*>(x);
    T* ys = static_cast<T*>(y);
    with_functor(op, [&](auto f) { unary_kernel<decltype(f)>(n, xs, ys); });
  });
}

void CpuBackend::binary(BinaryOp op, DType t, const Shape& shape, const void* a, const Shape& sa, const void* b,
                        const Shape& sb, void* out) {
  dispatch(t, [&](auto z) {
    using T = decltype(z);
    const T* pa = static_cast<const T*>(a);
    const T* pb = static_cast<const T*>(b);
    T* po = static_cast<T*>(out);
    with_functor(op, [&](auto f) { binary_kernel<decltype(f)>(shape, pa, sa, pb, sb, po); });
  });
}

void CpuBackend::where(DType t, const Shape& shape, const void* cond, const Shape& sc, const void* a,
                       const Shape& sa, const void* b, const Shape& sb, void* out) {
  dispatch(t, [&](auto z) {
    using T = decltype(z);
    const T* pc = static_cast<const T*>(cond);
    const T* pa = static_cast<const T*>(a);
    const T* pb = static_cast<const T*>(b);
    T* po = static_cast<T*>(out);
    Shape so = contiguous_strides(shape);
    StridedWalk<4> walk(shape, {&sc, &sa, &sb, &so});
    walk.run([&](const std::array<int64_t, 4>& off, int64_t n, const std::array<int64_t, 4>& st) {
      for (int64_t i = 0; i < n; ++i)
        po[off[3] + i] = pc[off[0] + i * st[0]] != T(0) ? pa[off[1] + i * st[1]] : pb[off[2] + i * st[2]];
    });
  });
}

bool CpuBackend::adam_update(DType t, int64_t n, void* param, const void* grad, void* m, void* v, double lr,
                             double beta1, double beta2, double eps, double weight_decay, bool decoupled,
                             double bias1, double bias2) {
  dispatch(t, [&](auto z) {
    using T = decltype(z);
    T* p = static_cast<T*>(param);
    const T* g = static_cast<const T*>(grad);
    T* ms = static_cast<T*>(m);
    T* vs = static_cast<T*>(v);
    const T b1 = beta1, b2 = beta2, step = lr / bias1, rb2 = 1.0 / std::sqrt(bias2), e = eps;
    const T wd = weight_decay, decay = decoupled ? T(1 - lr * weight_decay) : T(1);
    parallel_for(n, [&](int64_t b, int64_t en) {
      for (int64_t i = b; i < en; ++i) {
        const T gi = decoupled ? g[i] : g[i] + wd * p[i];
        ms[i] = b1 * ms[i] + (1 - b1) * gi;
        vs[i] = b2 * vs[i] + (1 - b2) * gi * gi;
        p[i] = decay * p[i] - step * ms[i] / (std::sqrt(vs[i]) * rb2 + e);
      }
    });
  });
  return true;
}

}  // namespace gg::cpu
