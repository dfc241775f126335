// The regularized Green function G_eps of the Laplacian in R^k (paper 000, eq. 5 and eq. 10) as a function of
// r2 = ||z - y||^2 + eps^2, in ordinary ops: the one place its formulas are written for the composite paths
// (poisson.cpp, green_quadrature.cpp). The fused CPU kernel of green_quadrature.cpp evaluates the same three
// profiles on arrays. Sign convention: poisson.h.
#pragma once

#include <numbers>

#include "regularizers/poisson.h"

namespace gg {
namespace green {

// Throws, naming `who`, unless zi [N, m] and zj [M, m] are codes of one width and dtype.
inline void check_codes(const Tensor& zi, const Tensor& zj, const char* who) {
  GG_CHECK(zi.defined() && zj.defined() && zi.dim() == 2 && zj.dim() == 2 && zi.size(1) == zj.size(1) &&
               zi.size(1) >= 1,
           std::string(who) + ": expected codes [N, m] and [M, m], got " +
               (zi.defined() ? shape_str(zi.shape()) : "undefined") + " and " +
               (zj.defined() ? shape_str(zj.shape()) : "undefined"));
  GG_CHECK(zi.dtype() == zj.dtype(),
           std::string(who) + ": codes " + zi.str() + " and " + zj.str() + " differ in dtype");
}

// r_eps^2 = ||z_i - z_j||^2 + eps^2: [N, M], from differences (no cancellation when z_i ~ z_j).
inline Tensor pairwise_r2(const Tensor& zi, const Tensor& zj, double eps) {
  const int64_t n = zi.size(0), m = zj.size(0), k = zi.size(1);
  const Tensor diff = reshape(zi, {n, 1, k}) - reshape(zj, {1, m, k});
  return sum(square(diff), {2}) + eps * eps;
}

// g0 = G = -Phi (see poisson.h's sign convention).
inline Tensor g0_of_r2(const Tensor& r2, int64_t k) {
  if (k == 1) return sqrt(r2) * 0.5;                              // |r| / 2
  if (k == 2) return log(r2) * (1.0 / (4.0 * std::numbers::pi));  // (1 / 2 pi) log r
  const double kd = static_cast<double>(k);
  if (k <= 8) return pow(r2, scalar_like(0.5 * (2.0 - kd), r2)) * (-1.0 / ((kd - 2.0) * unit_sphere_area(k)));
  return -exp(log(r2) * (0.5 * (2.0 - kd)) - (log_unit_sphere_area(k) + std::log(kd - 2.0)));  // as g1 below
}

// g1, the radial factor of grad G: grad_{z_i} G = (z_i - z_j) g1, g1 = 1 / (|S^(k-1)| r^k).
inline Tensor g1_of_r2(const Tensor& r2, int64_t k) {
  const double kd = static_cast<double>(k);
  if (k <= 8) return pow(r2, scalar_like(-0.5 * kd, r2)) * (1.0 / unit_sphere_area(k));
  // 1 / |S^(k-1)| inside the exp: it is 3e55 for k = 128, beyond f32 on its own, and r2^(-k/2) can underflow.
  return exp(log(r2) * (-0.5 * kd) - log_unit_sphere_area(k));
}

// g2 = d g1 / d r2 = -(k / 2) g1 / r2, so that the Hessian of G is g1 I + 2 g2 (z_i - z_j)(z_i - z_j)^T.
inline Tensor g2_of_g1(const Tensor& g1, const Tensor& r2, int64_t k) {
  return g1 / r2 * (-0.5 * static_cast<double>(k));
}

}  // namespace green
}  // namespace gg
