// Eq. 10 of paper 000 as a fused primitive: the Monte-Carlo Green quadrature
//     v(z_i)      = (1/M) sum_j G_eps(z_i, z_j) s_j,
//     grad v(z_i) = (1/M) sum_j g1(r2_ij) (z_i - z_j) s_j,         r2_ij = ||z_i - z_j||^2 + eps^2,
// computed pair by pair, so that neither the [N, M] kernels nor the [N, M, m] differences the composite
// keeps for its backward are ever stored. The Poisson step evaluates it twice (clean and corrupted batch)
// with N = M = the batch, so on small models these pairs were most of the step.
//
// Three levels, each the rule of the one before:
//   1. green_quadrature_packed: the forward, [N, m + 1] (v, then grad v). Fused on the CPU.
//   2. green_quadrature_backward: its vector-Jacobian product for a cotangent g = (a, c), a [N] on v and
//      c [N, m] on grad v, also one pass over the pairs (two: one per row i for z, one per column j for the
//      quadrature codes and sources, so that no thread sums into another's result). With
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

// The three radial profiles of green_radial.h on an array of r2 (the same formulas, vectorized by Eigen).
template <class T>
struct Radial {
  int64_t k;
  T inv_area;  // 1 / |S^(k-1)|

  // g1 = r2^(-k/2) / |S^(k-1)|: integer powers (times one rsqrt for odd k) up to k = 8, exp/log above;
  // written into `out` without temporaries.
  void g1(const Column<T>& r2, Column<T>& out) const {
    if (k == 1) {
      out = r2.rsqrt() * inv_area;
    } else if (k == 2) {
      out = r2.inverse() * inv_area;
    } else if (k <= 8) {
      if (k % 2)
        out = r2.rsqrt() * inv_area;
      else
        out = r2.inverse() * inv_area;
      for (int64_t p = k % 2 ? 0 : 1; p < k / 2; ++p) out /= r2;
    } else {
      out = (r2.log() * static_cast<T>(-0.5 * static_cast<double>(k))).exp() * inv_area;
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
  void g2(const Column<T>& r2, const Column<T>& g1, Column<T>& out) const {
    out = g1 / r2 * static_cast<T>(-0.5 * static_cast<double>(k));
  }
};

// Rows split across threads by the CPU backend's loop, so that each thread gets at least kPairsPerThread
// pair-coordinates (about the cost of one vectorised transcendental per element: loops.h's kParallelGrain).
// Each row is one thread's, so the result does not depend on the thread count.
constexpr int64_t kPairsPerThread = 131072;
template <class F>
void for_row_blocks(int64_t rows, int64_t pairs_per_row, const F& f) {
  cpu::parallel_for(rows, f, std::max<int64_t>(1, kPairsPerThread / std::max<int64_t>(pairs_per_row, 1)));
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
};

template <class T>
void forward_kernel(const Sizes& sz, const T* z, const T* y, const T* s, T* out) {
  const std::vector<T> y_cols = columns_of(y, sz.m, sz.k);
  const Radial<T> radial{sz.k, static_cast<T>(1.0 / unit_sphere_area(sz.k))};
  const ConstColumn<T> src(s, sz.m);
  for_row_blocks(sz.n, sz.m * sz.k, [&](int64_t begin, int64_t end) {
    Column<T> r2(sz.m), g0(sz.m), g1(sz.m), ws(sz.m);
    for (int64_t i = begin; i < end; ++i) {
      const T* zi = z + i * sz.k;
      r2.setConstant(static_cast<T>(sz.eps2));
      for (int64_t c = 0; c < sz.k; ++c)
        r2 += (zi[c] - ConstColumn<T>(y_cols.data() + c * sz.m, sz.m)).square();
      radial.g1(r2, g1);
      radial.g0(r2, g1, g0);
      T* row = out + i * (sz.k + 1);
      row[0] = static_cast<T>(sz.scale) * (g0 * src).sum();  // v(z_i)
      ws = g1 * src;
      for (int64_t c = 0; c < sz.k; ++c)  // grad v(z_i), from the differences (no cancellation)
        row[1 + c] =
            static_cast<T>(sz.scale) * (ws * (zi[c] - ConstColumn<T>(y_cols.data() + c * sz.m, sz.m))).sum();
    }
  });
}

// The packed gradient [N*k | M*k | M] of backward level 2; `want_z` and `want_quad` say which parts to fill
// (the others are left zero).
template <class T>
void backward_kernel(const Sizes& sz, const T* z, const T* y, const T* s, const T* g, T* out, bool want_z,
                     bool want_quad) {
  const int64_t n = sz.n, m = sz.m, k = sz.k;
  const Radial<T> radial{k, static_cast<T>(1.0 / unit_sphere_area(k))};
  const T scale = static_cast<T>(sz.scale), eps2 = static_cast<T>(sz.eps2);
  if (want_z) {  // one row i per step: sum over the quadrature codes j
    const std::vector<T> y_cols = columns_of(y, m, k);
    const ConstColumn<T> src(s, m);
    T* dz = out;
    for_row_blocks(n, m * k, [&](int64_t begin, int64_t end) {
      Column<T> r2(m), g1(m), g2(m), cd(m), t(m);
      for (int64_t i = begin; i < end; ++i) {
        const T* zi = z + i * k;
        const T a = g[i * (k + 1)];
        const T* ci = g + i * (k + 1) + 1;
        r2.setConstant(eps2);
        cd.setZero();
        for (int64_t col = 0; col < k; ++col) {
          const auto d = zi[col] - ConstColumn<T>(y_cols.data() + col * m, m);
          r2 += d.square();
          cd += ci[col] * d;
        }
        radial.g1(r2, g1);
        radial.g2(r2, g1, g2);
        t = (a * g1 + T(2) * g2 * cd) * src;  // s_j t_ij
        const T sg1 = (g1 * src).sum();
        for (int64_t col = 0; col < k; ++col)
          dz[i * k + col] =
              scale * ((t * (zi[col] - ConstColumn<T>(y_cols.data() + col * m, m))).sum() + ci[col] * sg1);
      }
    });
  }
  if (want_quad) {  // one quadrature code j per step: sum over the evaluation codes i
    const std::vector<T> z_cols = columns_of(z, n, k);
    const std::vector<T> c_cols = columns_of(g, n, k, 1, k + 1);
    const Column<T> a_dense =
        Eigen::Map<const Column<T>, 0, Eigen::InnerStride<>>(g, n, Eigen::InnerStride<>(k + 1));
    const bool v_used = (a_dense != T(0)).any();  // training: L_Pois reads grad v only, so g0 is not needed
    T* dy = out + n * k;
    T* ds = out + n * k + m * k;
    for_row_blocks(m, n * k, [&](int64_t begin, int64_t end) {
      Column<T> r2(n), g0(n), g1(n), g2(n), cd(n), t(n);
      for (int64_t j = begin; j < end; ++j) {
        const T* yj = y + j * k;
        r2.setConstant(eps2);
        cd.setZero();
        for (int64_t col = 0; col < k; ++col) {
          const auto d = ConstColumn<T>(z_cols.data() + col * n, n) - yj[col];  // z_i - z_j
          r2 += d.square();
          cd += ConstColumn<T>(c_cols.data() + col * n, n) * d;
        }
        radial.g1(r2, g1);
        radial.g2(r2, g1, g2);
        t = a_dense * g1 + T(2) * g2 * cd;
        for (int64_t col = 0; col < k; ++col)
          dy[j * k + col] = -scale * s[j] *
                            ((t * (ConstColumn<T>(z_cols.data() + col * n, n) - yj[col])).sum() +
                             (g1 * ConstColumn<T>(c_cols.data() + col * n, n)).sum());
        T from_v = 0;
        if (v_used) {
          radial.g0(r2, g1, g0);
          from_v = (a_dense * g0).sum();
        }
        ds[j] = scale * (from_v + (g1 * cd).sum());
      }
    });
  }
}

// ---- The three levels ---------------------------------------------------------------------------------

bool fused_here(const Tensor& t) { return t.device().kind == Device::Kind::cpu; }

Sizes sizes_of(const Tensor& z, const Tensor& y, double eps) {
  return {z.size(0), y.size(0), z.size(1), eps * eps, 1.0 / static_cast<double>(y.size(0))};
}

// Level 3: the vector-Jacobian product of level 1 in ordinary ops, packed like level 2's output.
Tensor backward_composite(const Tensor& z, const Tensor& y, const Tensor& s, const Tensor& g, double eps) {
  const int64_t n = z.size(0), m = y.size(0), k = z.size(1);
  const double scale = 1.0 / static_cast<double>(m);
  const Tensor d = reshape(z, {n, 1, k}) - reshape(y, {1, m, k});  // [N, M, k]
  const Tensor r2 = sum(square(d), {2}) + eps * eps;               // [N, M]
  const Tensor g1 = green::g1_of_r2(r2, k);
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
                                 double eps, bool want_z, bool want_quad) {
  const Sizes sz = sizes_of(z, y, eps);
  Tensor out = Tensor::zeros({sz.n * sz.k + sz.m * sz.k + sz.m}, z.dtype(), z.device());
  if (z.dtype() == DType::f32)
    backward_kernel<float>(sz, z.data<float>(), y.data<float>(), s.data<float>(), g.data<float>(),
                           out.data<float>(), want_z, want_quad);
  else
    backward_kernel<double>(sz, z.data<double>(), y.data<double>(), s.data<double>(), g.data<double>(),
                            out.data<double>(), want_z, want_quad);
  return record("green_quadrature_backward", out, {z, y, s, g},
                [eps](BackwardContext& ctx, const Tensor& h) {
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
                      grad({backward_composite(at[0], at[1], at[2], at[3], eps)}, wrt, {h}, o);
                  std::vector<Tensor> out(4);
                  for (size_t i = 0, w = 0; i < 4; ++i)
                    if (ctx.needs(i)) out[i] = partial[w++];
                  return out;
                },
                {z, y, s, g});
}

// Level 1: fused on the CPU, its rule level 2.
Tensor green_quadrature_packed(const Tensor& z, const Tensor& y, const Tensor& s, double eps) {
  const Sizes sz = sizes_of(z, y, eps);
  Tensor out = Tensor::empty({sz.n, sz.k + 1}, z.dtype(), z.device());
  if (z.dtype() == DType::f32)
    forward_kernel<float>(sz, z.data<float>(), y.data<float>(), s.data<float>(), out.data<float>());
  else
    forward_kernel<double>(sz, z.data<double>(), y.data<double>(), s.data<double>(), out.data<double>());
  return record("green_quadrature", out, {z, y, s},
                [eps](BackwardContext& ctx, const Tensor& g) {
                  const Tensor z = ctx.saved(0), y = ctx.saved(1), s = ctx.saved(2);
                  const int64_t n = z.size(0), m = y.size(0), k = z.size(1);
                  const bool want_z = ctx.needs(0), want_quad = ctx.needs(1) || ctx.needs(2);
                  // A batch of cotangents (leading axes: a batched vjp) runs level 2 once per cotangent.
                  const Shape lead_shape(g.shape().begin(), g.shape().begin() + ctx.lead);
                  const int64_t lead = shape_numel(lead_shape);
                  const Tensor each = reshape(g, {lead, n, k + 1});
                  std::vector<Tensor> packed;
                  for (int64_t l = 0; l < lead; ++l)
                    packed.push_back(reshape(
                        green_quadrature_backward(z, y, s, reshape(slice(each, 0, l, l + 1), {n, k + 1}), eps,
                                                  want_z, want_quad),
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

GreenQuadrature green_quadrature(const Tensor& z_eval, const Tensor& z_quad, const Tensor& s_quad,
                                 double eps) {
  green::check_codes(z_eval, z_quad, "green_quadrature");
  GG_CHECK(s_quad.defined() && s_quad.dim() == 1 && s_quad.size(0) == z_quad.size(0),
           "green_quadrature: expected sources [" + std::to_string(z_quad.size(0)) + "], got " +
               (s_quad.defined() ? shape_str(s_quad.shape()) : "undefined"));
  GG_CHECK(s_quad.dtype() == z_quad.dtype(),
           "green_quadrature: sources " + s_quad.str() + " and codes " + z_quad.str() + " differ in dtype");
  GG_CHECK(eps >= 0, "green_quadrature: eps must be >= 0");
  const int64_t n = z_eval.size(0), m = z_quad.size(0), k = z_eval.size(1);
  GreenQuadrature out;
  if (fused_here(z_eval)) {
    const Tensor packed = green_quadrature_packed(z_eval, z_quad, s_quad, eps);  // [N, k + 1]
    out.v = reshape(slice(packed, 1, 0, 1), {n});
    out.grad = slice(packed, 1, 1, k + 1);
    return out;
  }
  // The composite: eq. 10 in ordinary ops, differentiated by the engine.
  const double inv_m = 1.0 / static_cast<double>(m);
  const Tensor r2 = green::pairwise_r2(z_eval, z_quad, eps);  // [N, M]
  out.v = reshape(matmul(green::g0_of_r2(r2, k), reshape(s_quad, {m, 1})), {n}) * inv_m;
  // (1/M) sum_j (z_i - z_j) g1_ij s_j = (1/M) (z_i sum_j g1_ij s_j - sum_j g1_ij s_j z_j).
  const Tensor ks = green::g1_of_r2(r2, k) * reshape(s_quad, {1, m});  // [N, M]
  out.grad = (z_eval * sum(ks, {1}, true) - matmul(ks, z_quad)) * inv_m;
  return out;
}

}  // namespace gg
