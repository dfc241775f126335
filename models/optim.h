// Optimizers, learning-rate schedules and gradient clipping. Updates run in place with no graph recorded.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "engine/gradgrad.h"
#include "engine/registry.h"

namespace gg {

class Optimizer {
 public:
  explicit Optimizer(std::vector<Tensor> params, double lr);
  virtual ~Optimizer() = default;
  // One update from the given gradients (one per parameter, same shapes and dtypes).
  void step(const std::vector<Tensor>& grads);
  // One update from the parameters' accumulated .grad(), which it then clears.
  void step();
  double lr() const { return lr_; }
  void set_lr(double lr) { lr_ = lr; }
  int64_t steps_taken() const { return t_; }
  const std::vector<Tensor>& params() const { return params_; }
  // The optimizer's buffers (moments, momentum), one list per kind, each in parameter order, so a checkpoint
  // can store them and a resumed run continues to the same numbers. load_state checks shapes.
  virtual std::vector<std::pair<std::string, std::vector<Tensor>>> state() const = 0;
  void load_state(const std::vector<std::pair<std::string, std::vector<Tensor>>>& state, int64_t steps_taken);

 protected:
  virtual void update(const std::vector<Tensor>& grads) = 0;  // t_ already counts this step
  std::vector<Tensor> params_;
  double lr_;
  int64_t t_ = 0;
};

// SGD with heavy-ball momentum (PyTorch's convention: buf = mu * buf + g; p -= lr * buf) and L2 weight decay
// added to the gradient.
class SGD : public Optimizer {
 public:
  struct Options {
    double lr = 1e-2, momentum = 0.0, weight_decay = 0.0;
  };
  SGD(std::vector<Tensor> params, Options options);
  std::vector<std::pair<std::string, std::vector<Tensor>>> state() const override;

 private:
  void update(const std::vector<Tensor>& grads) override;
  Options opt_;
  std::vector<Tensor> momentum_;
};

// Adam (Kingma & Ba 2015); with decoupled weight decay it is AdamW (Loshchilov & Hutter 2019), otherwise the
// decay is L2 added to the gradient. The step is written with ordinary ops, so it runs on every backend; a
// backend's fused kernel (Backend::adam_update, the CPU has one) computes the same in one pass where offered.
class Adam : public Optimizer {
 public:
  struct Options {
    double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.0;
    bool decoupled_weight_decay = false;
    bool fused = true;  // use the backend's fused kernel when it has one; false always runs the composite
  };
  Adam(std::vector<Tensor> params, Options options);
  explicit Adam(std::vector<Tensor> params) : Adam(std::move(params), Options{}) {}
  std::vector<std::pair<std::string, std::vector<Tensor>>> state() const override;

 private:
  void update(const std::vector<Tensor>& grads) override;
  Options opt_;
  std::vector<Tensor> m_, v_;
};

// From a config object {"name": "sgd"|"adam"|"adamw", "lr", "momentum", "beta1", "beta2", "eps",
// "weight_decay"}; an unknown name or key is refused with a message naming it.
std::unique_ptr<Optimizer> make_optimizer(const nlohmann::json& config, std::vector<Tensor> params);

class ConfigReader;
// Builds one optimizer from the rest of its config section (the reader has consumed "name").
using OptimizerFactory = std::unique_ptr<Optimizer> (*)(ConfigReader& section, std::vector<Tensor> params);
// Every optimizer by name (`gradgrad help` lists them).
const Registry<OptimizerFactory>& optimizer_registry();

// The learning rate at an epoch: constant; "step" multiplies by gamma every step_size epochs; "linear" goes
// linearly from lr to lr * end_factor over total_epochs (PyTorch's StepLR and LinearLR).
struct LrSchedule {
  std::string kind = "constant";
  int64_t step_size = 1;
  double gamma = 0.1;
  double end_factor = 0.0;
  int64_t total_epochs = 1;

  static LrSchedule from_json(const nlohmann::json& config, int64_t total_epochs);
  double lr_at(double base_lr, int64_t epoch) const;
};

// Scales the gradients in place so their global L2 norm is at most max_norm; returns the norm before clipping.
double clip_grad_norm(std::vector<Tensor>& grads, double max_norm);

}  // namespace gg
