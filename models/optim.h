// Optimizers update parameters in place with fused backend kernels: no graph, no per-parameter op chain.
#pragma once

#include <vector>

#include "engine/gradgrad.h"

namespace gg {

// Adam (Kingma & Ba 2015); with decoupled weight decay it is AdamW (Loshchilov & Hutter 2019).
class Adam {
 public:
  struct Options {
    double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.0;
    bool decoupled_weight_decay = false;
  };
  Adam(std::vector<Tensor> params, Options options);
  explicit Adam(std::vector<Tensor> params) : Adam(std::move(params), Options{}) {}
  // One update from the given gradients (one per parameter, same shapes).
  void step(const std::vector<Tensor>& grads);
  // One update from the parameters' accumulated .grad(), which it then clears.
  void step();
  int64_t steps_taken() const { return t_; }
  Options& options() { return opt_; }

 private:
  std::vector<Tensor> params_, m_, v_;
  Options opt_;
  int64_t t_ = 0;
};

}  // namespace gg
