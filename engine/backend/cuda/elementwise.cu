// The GPU's elementwise kernels: fill, cast, strided copy, the unary and binary primitives (dispatched by
// the op lists of backend.h to the functors of functors.h, the same math as the CPU's), where, and the
// fused Adam step. Each is a grid-stride loop over the output, one element per thread per turn.
#include <cmath>

#include "engine/backend/cuda/cuda_backend.h"
#include "engine/backend/cuda/launch.cuh"
#include "engine/backend/dispatch.h"

namespace gg::cuda {

namespace {

template <class T>
__global__ void fill_kernel(int64_t n, T value, T* out) {
  GG_GRID_STRIDE(i, n) out[i] = value;
}

template <class From, class To>
__global__ void cast_kernel(int64_t n, const From* x, To* y) {
  GG_GRID_STRIDE(i, n) y[i] = To(x[i]);
}

template <class T>
__global__ void copy_strided_kernel(int64_t n, StridedIndex<2> ix, const T* src, T* dst) {
  GG_GRID_STRIDE(i, n) {
    int64_t off[2];
    ix.offsets(i, off);
    dst[off[1]] = src[off[0]];
  }
}

template <class F, class T>
__global__ void unary_kernel(int64_t n, const T* x, T* y) {
  const F f{};
  GG_GRID_STRIDE(i, n) y[i] = f(x[i]);
}

// The output is contiguous, so element i is written at i; a and b are read through their strides.
template <class F, class T>
__global__ void binary_kernel(int64_t n, StridedIndex<2> ix, const T* a, const T* b, T* out) {
  const F f{};
  GG_GRID_STRIDE(i, n) {
    int64_t off[2];
    ix.offsets(i, off);
    out[i] = f(a[off[0]], b[off[1]]);
  }
}

template <class T>
__global__ void where_kernel(int64_t n, StridedIndex<3> ix, const T* c, const T* a, const T* b, T* out) {
  GG_GRID_STRIDE(i, n) {
    int64_t off[3];
    ix.offsets(i, off);
    out[i] = c[off[0]] != T(0) ? a[off[1]] : b[off[2]];
  }
}

// The constants of one Adam step, computed on the host in the parameter's type as the CPU does.
template <class T>
struct AdamStep {
  T b1, b2, step, rb2, eps, wd, decay;
  bool decoupled;
};

template <class T>
__global__ void adam_kernel(int64_t n, AdamStep<T> s, T* p, const T* g, T* m, T* v) {
  GG_GRID_STRIDE(i, n) {
    const T gi = s.decoupled ? g[i] : g[i] + s.wd * p[i];
    const T mi = s.b1 * m[i] + (1 - s.b1) * gi;
    const T vi = s.b2 * v[i] + (1 - s.b2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] = s.decay * p[i] - s.step * mi / (std::sqrt(vi) * s.rb2 + s.eps);
  }
}

}  // namespace

void CudaBackend::fill(DType t, int64_t n, double value, void* out) {
  dispatch(t, [&](auto z) {
    using T = decltype(z);
    launch("fill_kernel", stream_, fill_kernel<T>, n, n, T(value), static_cast<T*>(out));
  });
}

void CudaBackend::cast(DType from, DType to, int64_t n, const void* x, void* y) {
  dispatch(from, [&](auto zf) {
    dispatch(to, [&](auto zt) {
      using F = decltype(zf);
      using T = decltype(zt);
      launch("cast_kernel", stream_, cast_kernel<F, T>, n, n, static_cast<const F*>(x), static_cast<T*>(y));
    });
  });
}

void CudaBackend::copy_strided(DType t, const Shape& shape, const void* src, const Shape& ss, void* dst,
                               const Shape& ds) {
  const int64_t n = shape_numel(shape);
  const StridedIndex<2> ix = strided_index<2>("copy_strided", shape, {&ss, &ds});
  dispatch(t, [&](auto z) {
    using T = decltype(z);
    if (ix.rank <= 1 && (ix.rank == 0 || (ix.strides[0][0] == 1 && ix.strides[1][0] == 1))) {
      GG_CUDA_CHECK(cudaMemcpyAsync(dst, src, n * sizeof(T), cudaMemcpyDeviceToDevice, stream_));
      return;
    }
    launch("copy_strided_kernel", stream_, copy_strided_kernel<T>, n, n, ix, static_cast<const T*>(src),
           static_cast<T*>(dst));
  });
}

void CudaBackend::unary(UnaryOp op, DType t, int64_t n, const void* x, void* y) {
  dispatch(t, [&](auto z) {
    using T = decltype(z);
    with_functor(op, [&](auto f) {
      launch(op_name(op), stream_, unary_kernel<decltype(f), T>, n, n, static_cast<const T*>(x), static_cast<T*>(y));
    });
  });
}

void CudaBackend::binary(BinaryOp op, DType t, const Shape& shape, const void* a, const Shape& sa, const void* b,
                         const Shape& sb, void* out) {
  const int64_t n = shape_numel(shape);
  const StridedIndex<2> ix = strided_index<2>(op_name(op), shape, {&sa, &sb});
  dispatch(t, [&](auto z) {
    using T = decltype(z);
    const T* pa = static_cast<const T*>(a);
    const T* pb = static_cast<const T*>(b);
    T* po = static_cast<T*>(out);
    with_functor(op, [&](auto f) {
      launch(op_name(op), stream_, binary_kernel<decltype(f), T>, n, n, ix, pa, pb, po);
    });
  });
}

void CudaBackend::where(DType t, const Shape& shape, const void* cond, const Shape& sc, const void* a,
                        const Shape& sa, const void* b, const Shape& sb, void* out) {
  const int64_t n = shape_numel(shape);
  const StridedIndex<3> ix = strided_index<3>("where", shape, {&sc, &sa, &sb});
  dispatch(t, [&](auto z) {
    using T = decltype(z);
    launch("where_kernel", stream_, where_kernel<T>, n, n, ix, static_cast<const T*>(cond),
           static_cast<const T*>(a), static_cast<const T*>(b), static_cast<T*>(out));
  });
}

bool CudaBackend::adam_update(DType t, int64_t n, void* param, const void* grad, void* m, void* v, double lr,
                              double beta1, double beta2, double eps, double weight_decay, bool decoupled,
                              double bias1, double bias2) {
  dispatch(t, [&](auto z) {
    using T = decltype(z);
    const T decay = decoupled ? T(1 - lr * weight_decay) : T(1);
    const AdamStep<T> s{T(beta1), T(beta2),         T(lr / bias1), T(1.0 / std::sqrt(bias2)),
                        T(eps),   T(weight_decay), decay,         decoupled};
    launch("adam_kernel", stream_, adam_kernel<T>, n, n, s, static_cast<T*>(param), static_cast<const T*>(grad),
           static_cast<T*>(m), static_cast<T*>(v));
  });
  return true;
}

}  // namespace gg::cuda
