// Eq. 10 of paper 000 as a fused primitive: the Monte-Carlo Green quadrature
//     v(z_i)      = (1/M) sum_j G_eps(z_i, z_j) s_j,
//     grad v(z_i) = (1/M) sum_j g1(r2_ij) (z_i - z_j) s_j,         r2_ij = ||z_i - z_j||^2 + eps^2,
// computed pair by pair, so that neither the [N, M] kernels nor the [N, M, m] differences the composite
// keeps for its backward are ever stored. The Poisson step evaluates it twice (clean and corrupted batch)
// with N = M = the batch, so on small models these pairs were most of the step.
//
// Three levels, each the rule of the one before:
//   1. green_quadrature_packed: the forward, [N, m + 1] (v, then grad v), or [N, m] when v is not asked
//      for (training reads grad v only). Fused on the CPU.
//   2. green_quadrature_backward: its vector-Jacobian product for a cotangent g = (a, c), a [N] on v and
//      c [N, m] on grad v, also one pass over the pairs: row i's sum over j is dL/dz_i, and its terms, kept
//      per j in a partial array of i's block of rows, are i's share of dL/dz_j and dL/ds_j. With
//      d_ij = z_i - z_j, t_ij = a_i g1 + 2 g2 <c_i, d_ij> (g2 = d g1 / d r2: green_radial.h):
//          dL/dz_i = (1/M) sum_j s_j (t_ij d_ij + g1 c_i)
//          dL/dz_j = -(1/M) s_j sum_i (t_ij d_ij + g1 c_i)
//          dL/ds_j = (1/M) sum_i (a_i g0 + g1 <c_i, d_ij>)
//      Fused on the CPU.
//   3. The rule of the backward: the same formulas in ordinary ops (backward_composite), differentiated
//      by the engine, so every higher order works. Training differentiates L_Pois once: it never gets here.
// On a device without the fused kernel (CUDA) the forward is the composite and the engine differentiates it.
#include <Eigen/Core>
#include <algorithm>

#include "engine/backend/cpu/loops.h"
#include "regularizers/green_radial.h"
#include "regularizers/poisson.h"

namespace gg {

namespace {

// ---- The kernel: CPU, f32 and f64 ---------------------------------------------------------------------

template <class T>
using Column = Eigen::Array<T, Eigen::Dynamic, 1>;
template <class T>
using ConstColumn = Eigen::Map<const Column<T>>;

// The three radial profiles of green_radial.h on an array of r2 (the same formulas, vectorized by Eigen),
// from inv = 1 / r2, the one division per pair.
template <class T>
struct Radial {
  int64_t k;
  T inv_area;      // 1 / |S^(k-1)|, for k <= 8
  T log_inv_area;  // its log, for k > 8

  // g1 = r2^(-k/2) / |S^(k-1)|: integer powers of inv (times one rsqrt for odd k) up to k = 8, exp/log above;
  // written into `out` without temporaries.
  void g1(const Column<T>& r2, const Column<T>& inv, Column<T>& out) const {
    if (k == 1) {
      out = r2.rsqrt() * inv_area;
    } else if (k == 2) {
      out = inv * inv_area;
    } else if (k <= 8) {
      if (k % 2)
        out = r2.rsqrt() * inv_area;
      else
        out = inv * inv_area;
      for (int64_t p = k % 2 ? 0 : 1; p < k / 2; ++p) out *= inv;
    } else {  // 1 / |S^(k-1)| inside the exp: it is 3e55 for k = 128, beyond f32 on its own
      out = (r2.log() * static_cast<T>(-0.5 * static_cast<double>(k)) + log_inv_area).exp();
    }
  }
  // g0 = G, given g1.
  void g0(const Column<T>& r2, const Column<T>& g1, Column<T>& out) const {
    if (k == 1)
      out = r2.sqrt() * T(0.5);
    else if (k == 2)
      out = r2.log() * static_cast<T>(1.0 / (4.0 * std::numbers::pi));
    else
      out = r2 * g1 * static_cast<T>(-1.0 / static_cast<double>(k - 2));  // -r2^((2-k)/2) / ((k-2)|S|)
  }
  // g2 = -(k/2) g1 / r2.
  void g2(const Column<T>& inv, const Column<T>& g1, Column<T>& out) const {
    out = g1 * inv * static_cast<T>(-0.5 * static_cast<double>(k));
  }
};

template <class T>
Radial<T> radial_for(int64_t k) {
  return {k, static_cast<T>(1.0 / unit_sphere_area(k)), static_cast<T>(-log_unit_sphere_area(k))};
}

// Rows split across threads by the CPU backend's balanced loop, so that each chunk holds at least
// kPairsPerThread pair-coordinates (about the cost of one vectorised transcendental per element: loops.h's
// kParallelGrain), and a thread whose core another process holds leaves its chunks to the others. Each row
// is one thread's, so the result does not depend on the thread count.
constexpr int64_t kPairsPerThread = 131072;
template <class F>
void for_row_blocks(int64_t rows, int64_t pairs_per_row, const F& f) {
  cpu::parallel_for_balanced(rows, f,
                             std::max<int64_t>(1, kPairsPerThread / std::max<int64_t>(pairs_per_row, 1)));
}

// Column c of a row-major [rows, cols] matrix, for every c: [cols, rows], so that the kernel's inner loops
// run over contiguous arrays.
template <class T>
std::vector<T> columns_of(const T* x, int64_t rows, int64_t cols, int64_t first = 0, int64_t stride = -1) {
  if (stride < 0) stride = cols;
  std::vector<T> out(static_cast<size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) out[static_cast<size_t>(c * rows + r)] = x[r * stride + first + c];
  return out;
}

struct Sizes {
  int64_t n, m, k;  // evaluation codes, quadrature codes, code width
  double eps2, scale;
  // [N]: the quadrature point that is row i's own sample, or -1 (poisson.h's self pairs); null: none
  const int64_t* self_pair = nullptr;
  int64_t self_of(int64_t i) const { return self_pair ? self_pair[i] : -1; }
};

// ---- Fixed code widths: the pair loops of training ------------------------------------------------------
// For code widths up to kMaxFixedWidth, with the width a compile-time constant, each pair's quantities stay in
// registers and one vectorised loop over j (OpenMP simd, its sums as simd reductions) does what the array
// expressions do in several passes over the row. They serve what training asks for: grad v without v
// (forward), and a cotangent with no part on v (backward), so no g0, whose log is the costliest profile.
// The two toy models' codes (m = 2) spent 0.11 ms of a 0.7 ms Poisson step in the forward alone.
constexpr int64_t kMaxFixedWidth = 4;

// g1 of green_radial.h for a fixed width K, from inv = 1 / r2.
template <class T, int K>
inline T fixed_g1(T inv, T inv_area) {
  if constexpr (K == 1) return std::sqrt(inv) * inv_area;
  if constexpr (K == 2) return inv * inv_area;
  if constexpr (K == 3) return inv * std::sqrt(inv) * inv_area;
  if constexpr (K == 4) return inv * inv * inv_area;
}

// grad v(z_i) (without the 1/M) for one row: sum_j g1_ij s_j (z_i - z_j).
template <class T, int K>
void fixed_gradient_row(const T* zi, const T* y_cols, const T* s, int64_t m, int64_t self, T eps2, T inv_area,
                        T* out) {
  T a0 = 0, a1 = 0, a2 = 0, a3 = 0;
#pragma omp simd reduction(+ : a0, a1, a2, a3)
  for (int64_t j = 0; j < m; ++j) {
    T d[K];
    T r2 = eps2;
    for (int c = 0; c < K; ++c) {
      d[c] = zi[c] - y_cols[c * m + j];
      r2 += d[c] * d[c];
    }
    const T w = j == self ? T(0) : fixed_g1<T, K>(T(1) / r2, inv_area) * s[j];  // a self pair's term is 0
    a0 += w * d[0];
    if constexpr (K > 1) a1 += w * d[1];
    if constexpr (K > 2) a2 += w * d[2];
    if constexpr (K > 3) a3 += w * d[3];
  }
  const T sums[kMaxFixedWidth] = {a0, a1, a2, a3};
  for (int c = 0; c < K; ++c) out[c] = sums[c];
}

// Backward level 2 for one row when the cotangent has no part on v (a_i = 0, so t_ij = 2 g2 <c_i, d_ij>):
// writes dL/dz_i (without the 1/M) to dz, and adds row i's terms of dL/dz_j and dL/ds_j to acc ([K + 1, M]).
template <class T, int K>
void fixed_backward_row(const T* zi, const T* ci, const T* y_cols, const T* s, int64_t m, int64_t self,
                        T eps2, T inv_area, T* dz, T* acc) {
  T b0 = 0, b1 = 0, b2 = 0, b3 = 0, sg1 = 0;
#pragma omp simd reduction(+ : b0, b1, b2, b3, sg1)
  for (int64_t j = 0; j < m; ++j) {
    T d[K];
    T r2 = eps2, cd = 0;
    for (int c = 0; c < K; ++c) {
      d[c] = zi[c] - y_cols[c * m + j];
      r2 += d[c] * d[c];
      cd += ci[c] * d[c];
    }
    const T inv = T(1) / r2;
    const T g1 = j == self ? T(0) : fixed_g1<T, K>(inv, inv_area);
    const T t = T(-K) * g1 * inv * cd;  // 2 g2 cd, g2 = -(K/2) g1 / r2
    const T st = s[j] * t;
    b0 += st * d[0];
    if constexpr (K > 1) b1 += st * d[1];
    if constexpr (K > 2) b2 += st * d[2];
    if constexpr (K > 3) b3 += st * d[3];
    sg1 += g1 * s[j];
    for (int c = 0; c < K; ++c) acc[c * m + j] += t * d[c] + g1 * ci[c];
    acc[K * m + j] += g1 * cd;
  }
  const T sums[kMaxFixedWidth] = {b0, b1, b2, b3};
  for (int c = 0; c < K; ++c) dz[c] = sums[c] + ci[c] * sg1;
}

// Calls f(std::integral_constant<int, K>) for k = K <= kMaxFixedWidth.
template <class F>
void with_fixed_width(int64_t k, const F& f) {
  switch (k) {
    case 1: return f(std::integral_constant<int, 1>{});
    case 2: return f(std::integral_constant<int, 2>{});
    case 3: return f(std::integral_constant<int, 3>{});
    case 4: return f(std::integral_constant<int, 4>{});
    default: fail("green_quadrature: no fixed-width kernel for k = " + std::to_string(k));
  }
}

// Level 1's kernel: [N, k + 1] (v, then grad v), or [N, k] (grad v) without `with_value`.
template <class T>
void forward_kernel(const Sizes& sz, const T* z, const T* y, const T* s, T* out, bool with_value) {
  const std::vector<T> y_cols = columns_of(y, sz.m, sz.k);
  const T inv_area = static_cast<T>(1.0 / unit_sphere_area(sz.k)), scale = static_cast<T>(sz.scale);
  const int64_t width = sz.k + (with_value ? 1 : 0);
  if (!with_value && sz.k <= kMaxFixedWidth) {
    with_fixed_width(sz.k, [&](auto fixed) {
      constexpr int K = decltype(fixed)::value;
      for_row_blocks(sz.n, sz.m * sz.k, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) {
          T* row = out + i * width;
          fixed_gradient_row<T, K>(z + i * K, y_cols.data(), s, sz.m, sz.self_of(i), static_cast<T>(sz.eps2),
                                   inv_area, row);
          for (int c = 0; c < K; ++c) row[c] *= scale;
        }
      });
    });
    return;
  }
  const Radial<T> radial = radial_for<T>(sz.k);
  const ConstColumn<T> src(s, sz.m);
  for_row_blocks(sz.n, sz.m * sz.k, [&](int64_t begin, int64_t end) {
    Column<T> r2(sz.m), inv(sz.m), g0(sz.m), g1(sz.m), ws(sz.m);
    for (int64_t i = begin; i < end; ++i) {
      const T* zi = z + i * sz.k;
      r2.setConstant(static_cast<T>(sz.eps2));
      for (int64_t c = 0; c < sz.k; ++c)
        r2 += (zi[c] - ConstColumn<T>(y_cols.data() + c * sz.m, sz.m)).square();
      const int64_t self = sz.self_of(i);
      if (self >= 0) r2[self] = static_cast<T>(sz.eps2);  // one sample: r = 0
      inv = r2.inverse();
      radial.g1(r2, inv, g1);
      T* row = out + i * width;
      if (with_value) {
        radial.g0(r2, g1, g0);
        *row++ = scale * (g0 * src).sum();  // v(z_i)
      }
      if (self >= 0) g1[self] = 0;  // a self pair's term of grad v is 0
      ws = g1 * src;
      for (int64_t c = 0; c < sz.k; ++c)  // grad v(z_i), from the differences (no cancellation)
        row[c] = scale * (ws * (zi[c] - ConstColumn<T>(y_cols.data() + c * sz.m, sz.m))).sum();
    }
  });
}

// The rows of the evaluation codes are cut into blocks of a size that depends on N, M and k only: the
// backward sums each block's share of the quadrature codes' and sources' gradients into the block's own
// partial arrays and adds the blocks in order, so its result does not depend on the thread count. At least
// kPairsPerBlock pair-coordinates per block, at most kMaxBlocks blocks (their partial arrays, kMaxBlocks
// times M (k + 1) values, are the only memory the backward takes beyond its result).
constexpr int64_t kPairsPerBlock = 32768;
constexpr int64_t kMaxBlocks = 64;

// The packed gradient [N*k | M*k | M] of backward level 2; `want_z` and `want_quad` say which parts to fill
// (the others are left zero). One pass over the pairs serves both: row i's sum over j is dL/dz_i, and the
// terms of that sum, kept per j, are row i's share of dL/dz_j and dL/ds_j.
template <class T>
void backward_kernel(const Sizes& sz, const T* z, const T* y, const T* s, const T* g, T* out, bool want_z,
                     bool want_quad) {
  const int64_t n = sz.n, m = sz.m, k = sz.k;
  if (n == 0 || m == 0) return;
  const Radial<T> radial = radial_for<T>(k);
  const T scale = static_cast<T>(sz.scale), eps2 = static_cast<T>(sz.eps2);
  const std::vector<T> y_cols = columns_of(y, m, k);
  const ConstColumn<T> src(s, m);
  bool v_used = false;  // training: L_Pois reads grad v only, so g0 is not needed
  for (int64_t i = 0; i < n && !v_used; ++i) v_used = g[i * (k + 1)] != T(0);
  const int64_t rows_per_block =
      std::max({int64_t{1}, kPairsPerBlock / (m * k), (n + kMaxBlocks - 1) / kMaxBlocks});
  const int64_t blocks = (n + rows_per_block - 1) / rows_per_block;
  const int64_t per_block = m * (k + 1);  // a block's partial sums: [k + 1, M], dL/dz_j's k columns, then dL/ds_j
  std::vector<T> partial(want_quad ? static_cast<size_t>(blocks * per_block) : 0);
  std::vector<T> scratch(!want_quad && !v_used && k <= kMaxFixedWidth ? static_cast<size_t>(blocks * per_block) : 0);
  auto fixed_block = [&](int64_t b) {  // the same sums in one vectorised loop per row (see fixed_backward_row)
    T* acc = (want_quad ? partial.data() : scratch.data()) + b * per_block;
    std::fill(acc, acc + per_block, T(0));
    std::vector<T> dz(static_cast<size_t>(k));
    with_fixed_width(k, [&](auto fixed) {
      constexpr int K = decltype(fixed)::value;
      for (int64_t i = b * rows_per_block; i < std::min(n, (b + 1) * rows_per_block); ++i) {
        fixed_backward_row<T, K>(z + i * K, g + i * (K + 1) + 1, y_cols.data(), s, m, sz.self_of(i), eps2,
                                 radial.inv_area, dz.data(), acc);
        if (want_z)
          for (int c = 0; c < K; ++c) out[i * K + c] = scale * dz[c];
      }
    });
  };
  auto block = [&](int64_t b) {
    if (!v_used && k <= kMaxFixedWidth) return fixed_block(b);
    Column<T> r2(m), inv(m), g0(m), g1(m), g2(m), cd(m), t(m);
    Eigen::Array<T, Eigen::Dynamic, Eigen::Dynamic> d(m, k);  // z_i - z_j, one column per coordinate
    Eigen::Map<Eigen::Array<T, Eigen::Dynamic, Eigen::Dynamic>> acc(
        want_quad ? partial.data() + b * per_block : nullptr, m, want_quad ? k + 1 : 0);
    acc.setZero();
    for (int64_t i = b * rows_per_block; i < std::min(n, (b + 1) * rows_per_block); ++i) {
      const T* zi = z + i * k;
      const T a = g[i * (k + 1)];
      const T* ci = g + i * (k + 1) + 1;
      r2.setConstant(eps2);
      cd.setZero();
      for (int64_t col = 0; col < k; ++col) {
        d.col(col) = zi[col] - ConstColumn<T>(y_cols.data() + col * m, m);
        r2 += d.col(col).square();
        cd += ci[col] * d.col(col);
      }
      const int64_t self = sz.self_of(i);
      if (self >= 0) r2[self] = eps2;  // one sample: r = 0
      inv = r2.inverse();
      radial.g1(r2, inv, g1);
      if (v_used) radial.g0(r2, g1, g0);
      if (self >= 0) g1[self] = 0;  // only v's G_eps(0) s_j / M stays, whose derivative is in s_j alone
      radial.g2(inv, g1, g2);
      t = a * g1 + T(2) * g2 * cd;  // t_ij
      if (want_z) {  // dL/dz_i = (1/M) sum_j s_j (t_ij d_ij + g1 c_i)
        const T sg1 = (g1 * src).sum();
        for (int64_t col = 0; col < k; ++col)
          out[i * k + col] = scale * ((t * src * d.col(col)).sum() + ci[col] * sg1);
      }
      if (want_quad) {  // row i's terms of dL/dz_j (before -s_j / M) and of dL/ds_j (before 1 / M)
        for (int64_t col = 0; col < k; ++col) acc.col(col) += t * d.col(col) + g1 * ci[col];
        if (v_used) {
          acc.col(k) += a * g0 + g1 * cd;
        } else {
          acc.col(k) += g1 * cd;
        }
      }
    }
  };
  const int64_t grain = std::max<int64_t>(1, kPairsPerThread / (rows_per_block * m * k));
  cpu::parallel_for_balanced(
      blocks,
      [&](int64_t begin, int64_t end) {
        for (int64_t b = begin; b < end; ++b) block(b);
      },
      grain);
  if (!want_quad) return;
  T* dy = out + n * k;
  T* ds = out + n * k + m * k;
  for (int64_t j = 0; j < m; ++j) {
    for (int64_t col = 0; col <= k; ++col) {
      T total = 0;
      for (int64_t b = 0; b < blocks; ++b) total += partial[static_cast<size_t>(b * per_block + col * m + j)];
      if (col < k)
        dy[j * k + col] = -scale * s[j] * total;
      else
        ds[j] = scale * total;
    }
  }
}

// ---- The three levels ---------------------------------------------------------------------------------

bool fused_here(const Tensor& t) { return t.device().kind == Device::Kind::cpu; }

Sizes sizes_of(const Tensor& z, const Tensor& y, double eps, const std::vector<int64_t>& self_pair) {
  return {z.size(0),
          y.size(0),
          z.size(1),
          eps * eps,
          1.0 / static_cast<double>(y.size(0)),
          self_pair.empty() ? nullptr : self_pair.data()};
}

// The self pairs as a [N, M] 0/1 tensor like z (undefined when there are none), for the composite paths.
Tensor self_pair_mask(const std::vector<int64_t>& self_pair, const Tensor& z, int64_t m) {
  if (self_pair.empty()) return {};
  const int64_t n = z.size(0);
  std::vector<double> mask(static_cast<size_t>(n * m), 0.0);
  for (int64_t i = 0; i < n; ++i)
    if (self_pair[static_cast<size_t>(i)] >= 0)
      mask[static_cast<size_t>(i * m + self_pair[static_cast<size_t>(i)])] = 1;
  return Tensor::from_data(mask, {n, m}, z.dtype(), z.device());
}

// r2 with the self pairs' entries eps^2 (one sample: r = 0), constant there, for G.
Tensor r2_of_self_pairs(const Tensor& r2, const Tensor& self_mask, double eps) {
  return self_mask.defined() ? where(self_mask, scalar_like(eps * eps, r2), r2) : r2;
}

// g1 of green_radial.h with the self pairs' entries 0. Their r2 is replaced by 1 first, so that no infinite
// g1(eps^2) enters the graph (its derivative would be 0 times infinity).
Tensor g1_without_self_pairs(const Tensor& r2, int64_t k, const Tensor& self_mask) {
  if (!self_mask.defined()) return green::g1_of_r2(r2, k);
  const Tensor g1 = green::g1_of_r2(where(self_mask, ones_like(r2), r2), k);
  return where(self_mask, zeros_like(g1), g1);
}

// Level 3: the vector-Jacobian product of level 1 in ordinary ops, packed like level 2's output.
Tensor backward_composite(const Tensor& z, const Tensor& y, const Tensor& s, const Tensor& g, double eps,
                          const std::vector<int64_t>& self_pair) {
  const int64_t n = z.size(0), m = y.size(0), k = z.size(1);
  const double scale = 1.0 / static_cast<double>(m);
  const Tensor d = reshape(z, {n, 1, k}) - reshape(y, {1, m, k});  // [N, M, k]
  const Tensor self_mask = self_pair_mask(self_pair, z, m);
  const Tensor r2 = r2_of_self_pairs(sum(square(d), {2}) + eps * eps, self_mask, eps);  // [N, M]
  const Tensor g1 = g1_without_self_pairs(r2, k, self_mask);
  const Tensor g2 = green::g2_of_g1(g1, r2, k);
  const Tensor a = slice(g, 1, 0, 1);                     // [N, 1]
  const Tensor c = slice(g, 1, 1, k + 1);                 // [N, k]
  const Tensor cd = sum(d * reshape(c, {n, 1, k}), {2});  // [N, M]
  const Tensor t = a * g1 + g2 * cd * 2.0;                // [N, M]
  const Tensor pair =
      d * reshape(t, {n, m, 1}) + reshape(g1, {n, m, 1}) * reshape(c, {n, 1, k});  // [N, M, k]
  const Tensor s_row = reshape(s, {1, m, 1});
  const Tensor dz = sum(pair * s_row, {1}) * scale;                          // [N, k]
  const Tensor dy = sum(pair, {0}) * reshape(s, {m, 1}) * -scale;            // [M, k]
  const Tensor ds = sum(a * green::g0_of_r2(r2, k) + g1 * cd, {0}) * scale;  // [M]
  return concat({reshape(dz, {n * k}), reshape(dy, {m * k}), ds}, 0);
}

// Level 2: fused on the CPU, its rule level 3.
Tensor green_quadrature_backward(const Tensor& z, const Tensor& y, const Tensor& s, const Tensor& g,
                                 double eps, const std::vector<int64_t>& self_pair, bool want_z,
                                 bool want_quad) {
  const Sizes sz = sizes_of(z, y, eps, self_pair);
  Tensor out = Tensor::zeros({sz.n * sz.k + sz.m * sz.k + sz.m}, z.dtype(), z.device());
  if (z.dtype() == DType::f32)
    backward_kernel<float>(sz, z.data<float>(), y.data<float>(), s.data<float>(), g.data<float>(),
                           out.data<float>(), want_z, want_quad);
  else
    backward_kernel<double>(sz, z.data<double>(), y.data<double>(), s.data<double>(), g.data<double>(),
                            out.data<double>(), want_z, want_quad);
  return record("green_quadrature_backward", out, {z, y, s, g},
                [eps, self_pair](BackwardContext& ctx, const Tensor& h) {
                  // Differentiate backward_composite at fresh copies of the inputs: a copy is a node of its
                  // own, so the engine stops there and returns the partial derivative in each input, even
                  // where one input's history runs through another's (the sources s_phi are computed from the
                  // quadrature codes' graph).
                  const bool create = grad_enabled();  // the engine runs a rule with grad mode = create_graph
                  const GradModeGuard record_graph(true);
                  std::vector<Tensor> at(4), wrt;
                  for (size_t i = 0; i < 4; ++i) {
                    at[i] = ctx.needs(i) ? ctx.saved(i).clone() : ctx.saved(i).detach();
                    if (ctx.needs(i)) wrt.push_back(at[i]);
                  }
                  GradOptions o;
                  o.create_graph = create;
                  o.batch_axes = ctx.lead;
                  const std::vector<Tensor> partial =
                      grad({backward_composite(at[0], at[1], at[2], at[3], eps, self_pair)}, wrt, {h}, o);
                  std::vector<Tensor> out(4);
                  for (size_t i = 0, w = 0; i < 4; ++i)
                    if (ctx.needs(i)) out[i] = partial[w++];
                  return out;
                },
                {z, y, s, g});
}

// Level 1: fused on the CPU, its rule level 2. [N, k + 1] (v, then grad v), or [N, k] (grad v) without
// `with_value`, whose cotangent level 2 receives with a zero part on v.
Tensor green_quadrature_packed(const Tensor& z, const Tensor& y, const Tensor& s, double eps, bool with_value,
                               const std::vector<int64_t>& self_pair) {
  const Sizes sz = sizes_of(z, y, eps, self_pair);
  Tensor out = Tensor::empty({sz.n, sz.k + (with_value ? 1 : 0)}, z.dtype(), z.device());
  if (z.dtype() == DType::f32)
    forward_kernel<float>(sz, z.data<float>(), y.data<float>(), s.data<float>(), out.data<float>(), with_value);
  else
    forward_kernel<double>(sz, z.data<double>(), y.data<double>(), s.data<double>(), out.data<double>(),
                           with_value);
  return record("green_quadrature", out, {z, y, s},
                [eps, with_value, self_pair](BackwardContext& ctx, const Tensor& g_out) {
                  const Tensor z = ctx.saved(0), y = ctx.saved(1), s = ctx.saved(2);
                  const int64_t n = z.size(0), m = y.size(0), k = z.size(1);
                  const bool want_z = ctx.needs(0), want_quad = ctx.needs(1) || ctx.needs(2);
                  // A batch of cotangents (leading axes: a batched vjp) runs level 2 once per cotangent.
                  const Shape lead_shape(g_out.shape().begin(), g_out.shape().begin() + ctx.lead);
                  const int64_t lead = shape_numel(lead_shape);
                  const Tensor g = with_value ? g_out
                                              : concat({Tensor::zeros({lead, n, 1}, g_out.dtype(), g_out.device()),
                                                        reshape(g_out, {lead, n, k})},
                                                       2);
                  const Tensor each = reshape(g, {lead, n, k + 1});
                  std::vector<Tensor> packed;
                  for (int64_t l = 0; l < lead; ++l)
                    packed.push_back(reshape(
                        green_quadrature_backward(z, y, s, reshape(slice(each, 0, l, l + 1), {n, k + 1}), eps,
                                                  self_pair, want_z, want_quad),
                        {1, -1}));
                  const Tensor all = lead == 1 ? packed[0] : concat(packed, 0);  // [lead, N*k + M*k + M]
                  auto part = [&](int64_t begin, int64_t count, const Shape& shape) {
                    Shape full = lead_shape;
                    full.insert(full.end(), shape.begin(), shape.end());
                    return reshape(slice(all, 1, begin, begin + count), full);
                  };
                  return std::vector<Tensor>{want_z ? part(0, n * k, {n, k}) : Tensor(),
                                             ctx.needs(1) ? part(n * k, m * k, {m, k}) : Tensor(),
                                             ctx.needs(2) ? part(n * k + m * k, m, {m}) : Tensor()};
                },
                {z, y, s});
}

}  // namespace

GreenQuadrature green_quadrature(const Tensor& z_eval, const Tensor& z_quad, const Tensor& s_quad, double eps,
                                 bool with_value, const std::vector<int64_t>& self_pair) {
  green::check_codes(z_eval, z_quad, "green_quadrature");
  GG_CHECK(s_quad.defined() && s_quad.dim() == 1 && s_quad.size(0) == z_quad.size(0),
           "green_quadrature: expected sources [" + std::to_string(z_quad.size(0)) + "], got " +
               (s_quad.defined() ? shape_str(s_quad.shape()) : "undefined"));
  GG_CHECK(s_quad.dtype() == z_quad.dtype(),
           "green_quadrature: sources " + s_quad.str() + " and codes " + z_quad.str() + " differ in dtype");
  GG_CHECK(eps >= 0, "green_quadrature: eps must be >= 0");
  const int64_t n = z_eval.size(0), m = z_quad.size(0), k = z_eval.size(1);
  GG_CHECK(self_pair.empty() || static_cast<int64_t>(self_pair.size()) == n,
           "green_quadrature: expected one self pair per evaluation code (" + std::to_string(n) + "), got " +
               std::to_string(self_pair.size()));
  for (const int64_t j : self_pair)
    GG_CHECK(j >= -1 && j < m, "green_quadrature: self pair " + std::to_string(j) +
                                   " is not a quadrature point (0.." + std::to_string(m - 1) + ") or -1");
  GreenQuadrature out;
  if (fused_here(z_eval)) {
    const Tensor packed =
        green_quadrature_packed(z_eval, z_quad, s_quad, eps, with_value, self_pair);  // [N, k (+ 1)]
    if (!with_value) {
      out.grad = packed;
      return out;
    }
    out.v = reshape(slice(packed, 1, 0, 1), {n});
    out.grad = slice(packed, 1, 1, k + 1);
    return out;
  }
  // The composite: eq. 10 in ordinary ops, differentiated by the engine.
  const double inv_m = 1.0 / static_cast<double>(m);
  const Tensor self_mask = self_pair_mask(self_pair, z_eval, m);
  const Tensor r2 = r2_of_self_pairs(green::pairwise_r2(z_eval, z_quad, eps), self_mask, eps);  // [N, M]
  if (with_value) out.v = reshape(matmul(green::g0_of_r2(r2, k), reshape(s_quad, {m, 1})), {n}) * inv_m;
  // (1/M) sum_j (z_i - z_j) g1_ij s_j = (1/M) (z_i sum_j g1_ij s_j - sum_j g1_ij s_j z_j).
  const Tensor ks = g1_without_self_pairs(r2, k, self_mask) * reshape(s_quad, {1, m});  // [N, M]
  out.grad = (z_eval * sum(ks, {1}, true) - matmul(ks, z_quad)) * inv_m;
  return out;
}

}  // namespace gg
