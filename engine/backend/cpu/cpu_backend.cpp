// The CPU backend: a caching allocator, Eigen for matrix products (handed to OpenBLAS when the build finds
// it, EIGEN_USE_BLAS) and for vectorised transcendental functions, OpenMP loops over functors elsewhere.
#include <Eigen/Core>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <mutex>
#include <unordered_map>

#include "engine/backend/backend.h"
#include "engine/backend/cpu/loops.h"

namespace gg {
namespace cpu {
namespace {

template <class T>
using ArrayMap = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>;
template <class T>
using ConstArrayMap = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>;
template <class T>
using MatrixR = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Calls f(T{}) with T the C++ type of dtype t.
template <class F>
void dispatch(DType t, F&& f) {
  if (t == DType::f32)
    f(float{});
  else
    f(double{});
}

// ---- Caching allocator --------------------------------------------------------------------------------
// Blocks are kept by rounded size and handed out again, so a training loop that makes the same tensors
// every step maps no fresh pages after its first step (a page fault is expensive in this VM).
class CachingAllocator {
 public:
  void* allocate(size_t bytes) {
    size_t b = round(bytes);
    std::lock_guard<std::mutex> lock(mu_);
    void* p = nullptr;
    auto it = free_.find(b);
    if (it != free_.end() && !it->second.empty()) {
      p = it->second.back();
      it->second.pop_back();
      cached_ -= b;
    } else {
      p = std::aligned_alloc(64, b);
      if (!p) fail("cpu allocator: out of memory allocating " + std::to_string(bytes) + " bytes");
    }
    in_use_ += b;
    peak_ = std::max(peak_, in_use_);
    return p;
  }
  void deallocate(void* p, size_t bytes) {
    size_t b = round(bytes);
    std::lock_guard<std::mutex> lock(mu_);
    free_[b].push_back(p);
    cached_ += b;
    in_use_ -= b;
  }
  size_t cached() const { return cached_; }
  size_t peak() const { return peak_; }
  void reset_peak() { peak_ = in_use_; }

 private:
  static size_t round(size_t bytes) { return bytes <= 64 ? 64 : (bytes + 511) / 512 * 512; }
  std::mutex mu_;
  std::unordered_map<size_t, std::vector<void*>> free_;
  size_t cached_ = 0, in_use_ = 0, peak_ = 0;
};

// ---- Elementwise functors -----------------------------------------------------------------------------
template <class T>
void unary_kernel(UnaryOp op, int64_t n, const T* x, T* y) {
  parallel_for(n, [&](int64_t b, int64_t e) {
    ConstArrayMap<T> X(x + b, e - b);
    ArrayMap<T> Y(y + b, e - b);
    switch (op) {
      case UnaryOp::neg: Y = -X; break;
      case UnaryOp::exp: Y = X.exp(); break;
      case UnaryOp::log: Y = X.log(); break;
      case UnaryOp::sqrt: Y = X.sqrt(); break;
      case UnaryOp::abs: Y = X.abs(); break;
      case UnaryOp::tanh: Y = X.tanh(); break;
      case UnaryOp::sigmoid: Y = X.logistic(); break;
      case UnaryOp::relu: Y = X.max(T(0)); break;
      case UnaryOp::sin: Y = X.sin(); break;
      case UnaryOp::cos: Y = X.cos(); break;
      case UnaryOp::erf: Y = X.unaryExpr([](T v) { return std::erf(v); }); break;
    }
  });
}

#define GG_BINARY_FUNCTOR(name, expr)            \
  struct name##_f {                               \
    template <class T>                            \
    T operator()(T a, T b) const { return expr; } \
  };
GG_BINARY_FUNCTOR(add, a + b)
GG_BINARY_FUNCTOR(sub, a - b)
GG_BINARY_FUNCTOR(mul, a* b)
GG_BINARY_FUNCTOR(div, a / b)
GG_BINARY_FUNCTOR(pow, b == T(2) ? a * a : std::pow(a, b))
GG_BINARY_FUNCTOR(maximum, (a > b || std::isnan(a)) ? a : b)
GG_BINARY_FUNCTOR(eq, T(a == b))
GG_BINARY_FUNCTOR(ne, T(a != b))
GG_BINARY_FUNCTOR(lt, T(a < b))
GG_BINARY_FUNCTOR(le, T(a <= b))
GG_BINARY_FUNCTOR(gt, T(a > b))
GG_BINARY_FUNCTOR(ge, T(a >= b))
#undef GG_BINARY_FUNCTOR

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

template <class T, class F>
void binary_kernel(F f, const Shape& shape, const T* a, const Shape& sa, const T* b, const Shape& sb, T* out) {
  Shape so = contiguous_strides(shape);
  StridedWalk<3> walk(shape, {&sa, &sb, &so});
  walk.run([&](const std::array<int64_t, 3>& off, int64_t n, const std::array<int64_t, 3>& st) {
    // The output is contiguous, so its inner stride is 1 (or the run has length 1).
    binary_run<T>(f, a + off[0], b + off[1], out + off[2], n, st[0], st[1]);
  });
}

// ---- Reductions ---------------------------------------------------------------------------------------
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
  if (shape.size() == 1) {  // [R]: everything to one number, per-thread partials combined in order
    const int64_t n = shape[0];
    const int64_t threads = n >= kParallelGrain ? omp_get_max_threads() : 1;
    std::vector<T> part(threads, init);
    auto partial = [&](int64_t tb, int64_t te) {
      for (int64_t t = tb; t < te; ++t) part[t] = row(x + n * t / threads, n * (t + 1) / threads - n * t / threads);
    };
    parallel_for(threads, partial, 1);
    T acc = init;
    for (T p : part) acc = combine(acc, p);
    out[0] = acc;
    return;
  }
  if (shape.size() == 2 && !red[0]) {  // [K,R]: one row each
    const int64_t K = shape[0], R = shape[1];
    parallel_for(K, [&](int64_t b, int64_t e) {
      for (int64_t k = b; k < e; ++k) out[k] = row(x + k * R, R);
    }, std::max<int64_t>(1, kParallelGrain / R));
    return;
  }
  if (shape.size() == 2 && red[0]) {  // [R,K]: column reductions, threads split the columns
    const int64_t R = shape[0], K = shape[1];
    parallel_for(K, [&](int64_t b, int64_t e) {
      ArrayMap<T> o(out + b, e - b);
      o = ConstArrayMap<T>(x + b, e - b);
      for (int64_t r = 1; r < R; ++r) {
        ConstArrayMap<T> xr(x + r * K + b, e - b);
        if (is_sum)
          o += xr;
        else
          o = (xr > o || xr.isNaN()).select(xr, o);
      }
    }, std::max<int64_t>(1, kParallelGrain / R));
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

// ---- Matrix multiply ----------------------------------------------------------------------------------
template <class T>
void gemm(const T* a, const T* b, T* c, int64_t m, int64_t n, int64_t k, bool ta, bool tb) {
  Eigen::Map<const MatrixR<T>> A(a, ta ? k : m, ta ? m : k);
  Eigen::Map<const MatrixR<T>> B(b, tb ? n : k, tb ? k : n);
  Eigen::Map<MatrixR<T>> C(c, m, n);
  if (!ta && !tb)
    C.noalias() = A * B;
  else if (ta && !tb)
    C.noalias() = A.transpose() * B;
  else if (!ta && tb)
    C.noalias() = A * B.transpose();
  else
    C.noalias() = A.transpose() * B.transpose();
}

template <class T>
void matmul_kernel(const MatmulGeometry& g, const T* a, const T* b, T* c) {
  const int64_t batch = shape_numel(g.batch);
  // A batch of row blocks times one shared matrix is a single tall product: fold the batch into the rows.
  bool b_shared = true;
  for (auto s : g.b_strides) b_shared &= s == 0;
  bool a_packed = !g.trans_a;
  Shape packed = contiguous_strides(g.batch);
  for (size_t i = 0; i < g.batch.size() && a_packed; ++i)
    a_packed = g.batch[i] == 1 || g.a_strides[i] == packed[i] * g.m * g.k;
  if (batch == 1 || (b_shared && a_packed)) {
    gemm<T>(a, b, c, g.m * batch, g.n, g.k, g.trans_a, g.trans_b);
    return;
  }
  const int64_t rank = g.batch.size();
  for (int64_t p = 0; p < batch; ++p) {
    int64_t rem = p, ao = 0, bo = 0;
    for (int64_t d = rank - 1; d >= 0; --d) {
      int64_t idx = rem % g.batch[d];
      rem /= g.batch[d];
      ao += idx * g.a_strides[d];
      bo += idx * g.b_strides[d];
    }
    gemm<T>(a + ao, b + bo, c + p * g.m * g.n, g.m, g.n, g.k, g.trans_a, g.trans_b);
  }
}

// ---- Convolution columns ------------------------------------------------------------------------------
// One walk over the (image, columns) correspondence: kToCols gathers the image into columns (im2col),
// otherwise the columns are summed back into a zeroed image (col2im).
template <class T, bool kToCols>
void im2col_kernel(const ConvGeometry& g, T* img, T* cols) {
  const int64_t oh = g.out_h(), ow = g.out_w(), kk = g.kernel_h * g.kernel_w;
  const int64_t planes = g.batch * g.channels;
  parallel_for(planes, [&](int64_t pb, int64_t pe) {
    for (int64_t plane = pb; plane < pe; ++plane) {
      const int64_t n = plane / g.channels, ch = plane % g.channels;
      T* im = img + plane * g.height * g.width;
      T* cl = cols + (n * g.channels * kk + ch * kk) * oh * ow;
      if constexpr (!kToCols) std::fill(im, im + g.height * g.width, T(0));
      for (int64_t i = 0; i < g.kernel_h; ++i)
        for (int64_t j = 0; j < g.kernel_w; ++j) {
          T* row = cl + (i * g.kernel_w + j) * oh * ow;
          for (int64_t oy = 0; oy < oh; ++oy) {
            const int64_t y = oy * g.stride - g.padding + i;
            for (int64_t ox = 0; ox < ow; ++ox) {
              const int64_t x = ox * g.stride - g.padding + j;
              const bool inside = y >= 0 && y < g.height && x >= 0 && x < g.width;
              if constexpr (kToCols)
                row[oy * ow + ox] = inside ? im[y * g.width + x] : T(0);
              else if (inside)
                im[y * g.width + x] += row[oy * ow + ox];
            }
          }
        }
    }
  }, std::max<int64_t>(1, kParallelGrain / (kk * oh * ow)));
}

// ---- Random numbers -----------------------------------------------------------------------------------
// A counter-based generator: element i is a hash of (seed, counter), so a draw does not depend on how the
// work is split across threads or devices.
inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
inline double uniform01(uint64_t seed, uint64_t counter, uint64_t stream) {
  // The added constant keeps (seed 0, stream 0, counter 0) off mix64's fixed point 0, which drew an exact 0.
  uint64_t h = mix64(mix64(seed * 0x9e3779b97f4a7c15ULL + stream + 0x632be59bd9b4e019ULL) ^
                     (counter * 0xd1b54a32d192ed03ULL));
  return (h >> 11) * 0x1.0p-53;  // [0, 1)
}

class CpuBackend final : public Backend {
 public:
  const char* name() const override { return "cpu"; }
  void* allocate(size_t bytes) override { return alloc_.allocate(bytes); }
  void deallocate(void* p, size_t bytes) override { alloc_.deallocate(p, bytes); }
  size_t cached_bytes() const override { return alloc_.cached(); }
  size_t peak_bytes() const override { return alloc_.peak(); }
  void reset_peak_bytes() override { alloc_.reset_peak(); }
  void copy_from_host(void* dst, const void* src, size_t bytes) override { std::memcpy(dst, src, bytes); }
  void copy_to_host(void* dst, const void* src, size_t bytes) override { std::memcpy(dst, src, bytes); }

  void fill(DType t, int64_t n, double value, void* out) override {
    dispatch(t, [&](auto z) {
      using T = decltype(z);
      T* o = static_cast<T*>(out);
      parallel_for(n, [&](int64_t b, int64_t e) { std::fill(o + b, o + e, T(value)); });
    });
  }
  void cast(DType from, DType to, int64_t n, const void* x, void* y) override {
    dispatch(from, [&](auto zf) {
      dispatch(to, [&](auto zt) {
        using F = decltype(zf);
        using T = decltype(zt);
        const F* xs = static_cast<const F*>(x);
        T* ys = static_cast<T*>(y);
        parallel_for(n, [&](int64_t b, int64_t e) {
          for (int64_t i = b; i < e; ++i) ys[i] = T(xs[i]);
        });
      });
    });
  }
  void copy_strided(DType t, const Shape& shape, const void* src, const Shape& ss, void* dst,
                    const Shape& ds) override {
    dispatch(t, [&](auto z) {
      using T = decltype(z);
      const T* s = static_cast<const T*>(src);
      T* d = static_cast<T*>(dst);
      StridedWalk<2> walk(shape, {&ss, &ds});
      walk.run([&](const std::array<int64_t, 2>& off, int64_t n, const std::array<int64_t, 2>& st) {
        const T* sp = s + off[0];
        T* dp = d + off[1];
        if (st[0] == 1 && st[1] == 1)
          std::memcpy(dp, sp, sizeof(T) * n);
        else
          for (int64_t i = 0; i < n; ++i) dp[i * st[1]] = sp[i * st[0]];
      });
    });
  }
  void unary(UnaryOp op, DType t, int64_t n, const void* x, void* y) override {
    dispatch(t, [&](auto z) {
      using T = decltype(z);
      unary_kernel<T>(op, n, static_cast<const T*>(x), static_cast<T*>(y));
    });
  }
  void binary(BinaryOp op, DType t, const Shape& shape, const void* a, const Shape& sa, const void* b,
              const Shape& sb, void* out) override {
    dispatch(t, [&](auto z) {
      using T = decltype(z);
      const T* pa = static_cast<const T*>(a);
      const T* pb = static_cast<const T*>(b);
      T* po = static_cast<T*>(out);
      switch (op) {
#define GG_CASE(name) \
  case BinaryOp::name: binary_kernel<T>(name##_f{}, shape, pa, sa, pb, sb, po); break;
        GG_BINARY_OPS(GG_CASE)
#undef GG_CASE
      }
    });
  }
  void where(DType t, const Shape& shape, const void* cond, const Shape& sc, const void* a, const Shape& sa,
             const void* b, const Shape& sb, void* out) override {
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
  void reduce(ReduceOp op, DType t, const Shape& shape, const std::vector<bool>& reduced, const void* x,
              void* out) override {
    dispatch(t, [&](auto z) {
      using T = decltype(z);
      reduce_kernel<T>(op, shape, reduced, static_cast<const T*>(x), static_cast<T*>(out));
    });
  }
  void matmul(DType t, const MatmulGeometry& g, const void* a, const void* b, void* c) override {
    dispatch(t, [&](auto z) {
      using T = decltype(z);
      matmul_kernel<T>(g, static_cast<const T*>(a), static_cast<const T*>(b), static_cast<T*>(c));
    });
  }
  void im2col(DType t, const ConvGeometry& g, const void* x, void* cols) override {
    dispatch(t, [&](auto z) {
      using T = decltype(z);
      im2col_kernel<T, true>(g, const_cast<T*>(static_cast<const T*>(x)), static_cast<T*>(cols));
    });
  }
  void col2im(DType t, const ConvGeometry& g, const void* cols, void* x) override {
    dispatch(t, [&](auto z) {
      using T = decltype(z);
      im2col_kernel<T, false>(g, static_cast<T*>(x), const_cast<T*>(static_cast<const T*>(cols)));
    });
  }
  void random(RandomKind kind, DType t, int64_t n, uint64_t seed, uint64_t offset, void* out) override {
    dispatch(t, [&](auto z) {
      using T = decltype(z);
      T* o = static_cast<T*>(out);
      parallel_for(n, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) {
          const uint64_t ctr = offset + i;
          if (kind == RandomKind::uniform) {
            o[i] = T(uniform01(seed, ctr, 0));
          } else {  // Box-Muller on two independent uniforms of the same counter
            const double u1 = 1.0 - uniform01(seed, ctr, 1), u2 = uniform01(seed, ctr, 2);
            o[i] = T(std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2));
          }
        }
      }, 4096);
    });
  }
  void adam_update(DType t, int64_t n, void* param, const void* grad, void* m, void* v, double lr, double beta1,
                   double beta2, double eps, double weight_decay, bool decoupled, double bias1,
                   double bias2) override {
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
  }

 private:
  CachingAllocator alloc_;
};

}  // namespace
}  // namespace cpu

Backend& backend_for(Device d) {
  static cpu::CpuBackend cpu_backend;
  if (d.kind == Device::Kind::cpu) return cpu_backend;
  fail("device " + d.str() + ": gradgrad was built without its CUDA backend");
}

const char* op_name(UnaryOp op) {
  switch (op) {
#define GG_CASE(name) \
  case UnaryOp::name: return #name;
    GG_UNARY_OPS(GG_CASE)
#undef GG_CASE
  }
  return "?";
}
const char* op_name(BinaryOp op) {
  switch (op) {
#define GG_CASE(name) \
  case BinaryOp::name: return #name;
    GG_BINARY_OPS(GG_CASE)
#undef GG_CASE
  }
  return "?";
}

}  // namespace gg
