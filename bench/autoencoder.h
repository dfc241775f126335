// The autoencoder the benchmarks time, here and in bench/torch_peer.py: encoder d -> h -> m with tanh on
// both layers, decoder m -> h (tanh) -> d (linear), loss = MSE (+ lambda * mean_b ||J_E(x_b)||_F^2).
#pragma once

#include <cmath>
#include <string>

#include "engine/gradgrad.h"
#include "models/optim.h"

namespace gg::bench {

enum class Penalty { none, exact_vectorized, exact_gram, exact_loop };

inline const char* penalty_name(Penalty p) {
  switch (p) {
    case Penalty::none: return "plain";
    case Penalty::exact_vectorized: return "exact-vectorized";
    case Penalty::exact_gram: return "exact-gram";
    case Penalty::exact_loop: return "exact-loop";
  }
  return "?";
}

struct Autoencoder {
  std::vector<Tensor> params;  // W1 b1 W2 b2 W3 b3 W4 b4, PyTorch's nn.Linear layout and init range

  Autoencoder(int64_t d, int64_t h, int64_t m, uint64_t seed) {
    Generator gen(seed);
    auto layer = [&](int64_t in, int64_t out) {
      const double bound = 1.0 / std::sqrt(double(in));
      params.push_back((Tensor::rand({out, in}, gen) * (2 * bound) - bound).detach().requires_grad_());
      params.push_back((Tensor::rand({out}, gen) * (2 * bound) - bound).detach().requires_grad_());
    };
    layer(d, h);
    layer(h, m);
    layer(m, h);
    layer(h, d);
  }

  // Loss of one batch; x must require grad when a penalty is asked for.
  Tensor loss(const Tensor& x, Penalty penalty, double lambda = 0.1) const {
    const auto& p = params;
    Tensor pre = linear(x, p[0], p[1]);
    Tensor z = tanh(linear(tanh(pre), p[2], p[3]));
    Tensor xhat = linear(tanh(linear(z, p[4], p[5])), p[6], p[7]);
    Tensor l = mse(xhat, x);
    switch (penalty) {
      case Penalty::none: return l;
      case Penalty::exact_vectorized: return l + jacobian_frobenius_sq(z, x) * lambda;
      case Penalty::exact_gram: return l + jacobian_frobenius_sq_through_linear(z, pre, p[0]) * lambda;
      case Penalty::exact_loop: {
        // The m-pass baseline: one backward pass per code unit.
        Tensor s = scalar_like(0.0, x);
        GradOptions o;
        o.create_graph = true;
        for (int64_t k = 0; k < z.size(1); ++k) {
          Tensor gk = grad(sum(slice(z, 1, k, k + 1)), x, {}, o);
          s = s + sum(gk * gk);
        }
        return l + s * (lambda / double(x.size(0)));
      }
    }
    return l;
  }
};

}  // namespace gg::bench
