// The autoencoder the benchmarks time, here and in bench/torch_peer.py: encoder d -> h -> m with tanh on
// both layers, decoder m -> h (tanh) -> d (linear), loss = MSE (+ lambda * mean_b ||J_E(x_b)||_F^2). The
// penalty is the regularizers' one implementation (regularizers/jacobian_penalty.h), by the route each
// benchmark row names: the vectorized reverse pass, the Gram route through the first layer, the m-pass loop.
#pragma once

#include <cmath>
#include <string>

#include "engine/gradgrad.h"
#include "models/optim.h"
#include "regularizers/jacobian_penalty.h"

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

  // The code z = E(x) and the first layer's pre-activation h = x W1^T + b1 (the Gram route's h).
  struct Encoded {
    Tensor h, z;
  };
  Encoded encode(const Tensor& x) const {
    const auto& p = params;
    Tensor h = linear(x, p[0], p[1]);
    return {h, tanh(linear(tanh(h), p[2], p[3]))};
  }

  // mean_b ||J_E(x_b)||_F^2 by the route `method` names (none: undefined); x must require grad.
  Tensor penalty(const Tensor& x, const Encoded& e, Penalty method) const {
    if (method == Penalty::none) return {};
    const char* route = method == Penalty::exact_vectorized ? "reverse" : method == Penalty::exact_gram ? "gram" : "loop";
    return mean(jacobian_sq({e.z, x, e.h, params[0]}, {"exact", route}));
  }

  // Loss of one batch; x must require grad when a penalty is asked for.
  Tensor loss(const Tensor& x, Penalty method, double lambda = 0.1) const {
    const auto& p = params;
    const Encoded e = encode(x);
    Tensor xhat = linear(tanh(linear(e.z, p[4], p[5])), p[6], p[7]);
    Tensor l = mse(xhat, x);
    return method == Penalty::none ? l : l + penalty(x, e, method) * lambda;
  }
};

}  // namespace gg::bench
