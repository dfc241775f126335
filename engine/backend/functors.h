// The math of every elementwise primitive, written once: one functor per op of GG_UNARY_OPS and
// GG_BINARY_OPS (backend.h), named as the op, plus the counter-based random draws. Every backend includes
// this header and runs the functors in its own loop (the CPU in an OpenMP loop, CUDA in a grid-stride
// kernel), so a function of the elements never differs between devices by more than the device's libm.
//
// Keep it compilable by nvcc for the device: scalar <cmath> math only (which CUDA provides as device
// functions), no Eigen, no containers, no exceptions; every function marked GG_HD.
#pragma once

#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define GG_HD __host__ __device__
#else
#define GG_HD
#endif

namespace gg::fn {

// Defines a functor struct `name` whose operator() computes `expr` of x (unary) or of a and b (binary).
#define GG_UNARY_FUNCTOR(name, expr)    \
  struct name {                         \
    template <class T>                  \
    GG_HD T operator()(T x) const {     \
      return expr;                      \
    }                                   \
  };
#define GG_BINARY_FUNCTOR(name, expr)     \
  struct name {                           \
    template <class T>                    \
    GG_HD T operator()(T a, T b) const {  \
      return expr;                        \
    }                                     \
  };

// ---- Unary (one per GG_UNARY_OPS entry) ---------------------------------------------------------------
GG_UNARY_FUNCTOR(neg, -x)
GG_UNARY_FUNCTOR(exp, std::exp(x))
GG_UNARY_FUNCTOR(log, std::log(x))
GG_UNARY_FUNCTOR(sqrt, std::sqrt(x))
GG_UNARY_FUNCTOR(abs, std::abs(x))
GG_UNARY_FUNCTOR(tanh, std::tanh(x))
GG_UNARY_FUNCTOR(sigmoid, T(1) / (T(1) + std::exp(-x)))
GG_UNARY_FUNCTOR(relu, x < T(0) ? T(0) : x)  // NaN stays NaN, as std::max(x, 0) and Eigen's max
GG_UNARY_FUNCTOR(sin, std::sin(x))
GG_UNARY_FUNCTOR(cos, std::cos(x))
GG_UNARY_FUNCTOR(erf, std::erf(x))
GG_UNARY_FUNCTOR(sinh, std::sinh(x))

// ---- Binary (one per GG_BINARY_OPS entry); comparisons give 0 or 1 in the operands' type ---------------
GG_BINARY_FUNCTOR(add, a + b)
GG_BINARY_FUNCTOR(sub, a - b)
GG_BINARY_FUNCTOR(mul, a * b)
GG_BINARY_FUNCTOR(div, a / b)
GG_BINARY_FUNCTOR(pow, b == T(2) ? a * a : std::pow(a, b))
GG_BINARY_FUNCTOR(maximum, (a > b || std::isnan(a)) ? a : b)  // a NaN on either side wins
GG_BINARY_FUNCTOR(eq, T(a == b))
GG_BINARY_FUNCTOR(ne, T(a != b))
GG_BINARY_FUNCTOR(lt, T(a < b))
GG_BINARY_FUNCTOR(le, T(a <= b))
GG_BINARY_FUNCTOR(gt, T(a > b))
GG_BINARY_FUNCTOR(ge, T(a >= b))

#undef GG_UNARY_FUNCTOR
#undef GG_BINARY_FUNCTOR

// ---- Random draws ---------------------------------------------------------------------------------------
// Counter-based: element i of a draw is a hash of (seed, counter = offset + i), so a draw is the same however
// the work is split across threads, blocks or devices.
GG_HD inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
// Uniform in [0, 1) with 53 random bits; `stream` separates independent draws of one counter.
GG_HD inline double uniform01(uint64_t seed, uint64_t counter, uint64_t stream) {
  // The added constant keeps (seed 0, stream 0, counter 0) off mix64's fixed point 0, which drew an exact 0.
  const uint64_t h = mix64(mix64(seed * 0x9e3779b97f4a7c15ULL + stream + 0x632be59bd9b4e019ULL) ^
                           (counter * 0xd1b54a32d192ed03ULL));
  return double(h >> 11) * 0x1.0p-53;
}
// N(0, 1) by Box-Muller on two independent uniforms of the same counter.
GG_HD inline double normal01(uint64_t seed, uint64_t counter) {
  const double u1 = 1.0 - uniform01(seed, counter, 1), u2 = uniform01(seed, counter, 2);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * 3.14159265358979323846 * u2);
}

}  // namespace gg::fn
