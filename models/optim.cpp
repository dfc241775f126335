#include "models/optim.h"

#include <cmath>
#include <type_traits>
#include <nlohmann/json.hpp>

#include "engine/backend/backend.h"
#include "models/config_reader.h"

namespace gg {

Optimizer::Optimizer(std::vector<Tensor> params, double lr) : params_(std::move(params)), lr_(lr) {
  for (const Tensor& p : params_) GG_CHECK(p.is_leaf(), "optimizer: parameter " + p.str() + " is not a leaf tensor");
  GG_CHECK(lr > 0 && std::isfinite(lr), "optimizer: lr must be positive, got " + std::to_string(lr));
}

void Optimizer::step(const std::vector<Tensor>& grads) {
  GG_CHECK(grads.size() == params_.size(), "optimizer step: " + std::to_string(grads.size()) +
                                               " gradients for " + std::to_string(params_.size()) + " parameters");
  for (size_t i = 0; i < params_.size(); ++i)
    GG_CHECK(grads[i].shape() == params_[i].shape() && grads[i].dtype() == params_[i].dtype() &&
                 grads[i].device() == params_[i].device(),
             "optimizer step: gradient " + grads[i].str() + " does not match parameter " + params_[i].str());
  ++t_;
  NoGradGuard no_grad;
  update(grads);
}

void Optimizer::step() {
  std::vector<Tensor> grads;
  for (Tensor& p : params_) {
    GG_CHECK(p.grad().defined(), "optimizer step: parameter " + p.str() + " has no gradient; call backward() first");
    grads.push_back(p.grad());
  }
  step(grads);
  for (Tensor& p : params_) p.zero_grad();
}

void Optimizer::load_state(const std::vector<std::pair<std::string, std::vector<Tensor>>>& saved,
                           int64_t steps_taken) {
  auto mine = state();
  GG_CHECK(saved.size() == mine.size(), "optimizer load_state: expected " + std::to_string(mine.size()) +
                                            " buffer kinds, got " + std::to_string(saved.size()));
  for (size_t k = 0; k < mine.size(); ++k) {
    GG_CHECK(saved[k].first == mine[k].first && saved[k].second.size() == mine[k].second.size(),
             "optimizer load_state: expected buffers '" + mine[k].first + "' for " +
                 std::to_string(mine[k].second.size()) + " parameters");
    for (size_t i = 0; i < mine[k].second.size(); ++i) {
      Tensor dst = mine[k].second[i];
      GG_CHECK(saved[k].second[i].shape() == dst.shape(), "optimizer load_state: buffer '" + mine[k].first + "' " +
                                                              std::to_string(i) + " has shape " +
                                                              shape_str(saved[k].second[i].shape()) + ", expected " +
                                                              shape_str(dst.shape()));
      dst.copy_(saved[k].second[i].to(dst.dtype()));
    }
  }
  t_ = steps_taken;
}

// ---- SGD ----

SGD::SGD(std::vector<Tensor> params, Options options) : Optimizer(std::move(params), options.lr), opt_(options) {
  GG_CHECK(opt_.momentum >= 0 && opt_.momentum < 1, "SGD: momentum must be in [0, 1)");
  for (const Tensor& p : params_) momentum_.push_back(zeros_like(p));
}

void SGD::update(const std::vector<Tensor>& grads) {
  for (size_t i = 0; i < params_.size(); ++i) {
    Tensor g = opt_.weight_decay > 0 ? grads[i] + opt_.weight_decay * params_[i] : grads[i];
    if (opt_.momentum > 0) {
      momentum_[i].copy_(opt_.momentum * momentum_[i] + g);
      g = momentum_[i];
    }
    params_[i].copy_(params_[i] - lr_ * g);
  }
}

std::vector<std::pair<std::string, std::vector<Tensor>>> SGD::state() const { return {{"momentum", momentum_}}; }

// ---- Adam ----

Adam::Adam(std::vector<Tensor> params, Options options) : Optimizer(std::move(params), options.lr), opt_(options) {
  for (const Tensor& p : params_) {
    m_.push_back(zeros_like(p));
    v_.push_back(zeros_like(p));
  }
}

void Adam::update(const std::vector<Tensor>& grads) {
  const double bias1 = 1 - std::pow(opt_.beta1, double(t_)), bias2 = 1 - std::pow(opt_.beta2, double(t_));
  const double wd = opt_.weight_decay;
  const bool decoupled = opt_.decoupled_weight_decay;
  for (size_t i = 0; i < params_.size(); ++i) {
    Tensor &p = params_[i], &m = m_[i], &v = v_[i];
    if (opt_.fused && backend_for(p.device()).adam_update(p.dtype(), p.numel(), p.raw(), grads[i].raw(), m.raw(),
                                                          v.raw(), lr_, opt_.beta1, opt_.beta2, opt_.eps, wd,
                                                          decoupled, bias1, bias2))
      continue;
    // The same step in ops (the formula of Backend::adam_update), for a backend without the fused kernel.
    const Tensor g = decoupled || wd == 0 ? grads[i] : grads[i] + wd * p;
    m.copy_(opt_.beta1 * m + (1 - opt_.beta1) * g);
    v.copy_(opt_.beta2 * v + (1 - opt_.beta2) * g * g);
    const Tensor decayed = decoupled && wd != 0 ? (1 - lr_ * wd) * p : p;
    p.copy_(decayed - (lr_ / bias1) * m / (sqrt(v) * (1 / std::sqrt(bias2)) + opt_.eps));
  }
}

std::vector<std::pair<std::string, std::vector<Tensor>>> Adam::state() const { return {{"m", m_}, {"v", v_}}; }

// ---- from config ----

// The keys of each optimizer's and the schedule's config section (models/config_reader.h).
template <class Self, class Field>
void config_fields(Self& o, Field&& field) {
  if constexpr (std::is_same_v<std::remove_const_t<Self>, LrSchedule>) {
    field("kind", o.kind, std::vector<std::string>{"constant", "step", "linear"});
    field("step_size", o.step_size);
    field("gamma", o.gamma);
    field("end_factor", o.end_factor);
  } else {
    field("lr", o.lr);
    if constexpr (std::is_same_v<std::remove_const_t<Self>, SGD::Options>) {
      field("momentum", o.momentum);
    } else {
      field("beta1", o.beta1);
      field("beta2", o.beta2);
      field("eps", o.eps);
    }
    field("weight_decay", o.weight_decay);
  }
}

namespace {

std::unique_ptr<Optimizer> make_sgd(ConfigReader& r, std::vector<Tensor> params) {
  SGD::Options o;
  read_fields(r, o);
  r.done();
  return std::make_unique<SGD>(std::move(params), o);
}

// Adam, or AdamW (decoupled weight decay, 1e-2 unless set) when `decoupled`.
template <bool decoupled>
std::unique_ptr<Optimizer> make_adam(ConfigReader& r, std::vector<Tensor> params) {
  Adam::Options o;
  o.weight_decay = decoupled ? 1e-2 : 0.0;
  o.decoupled_weight_decay = decoupled;
  read_fields(r, o);
  r.done();
  return std::make_unique<Adam>(std::move(params), o);
}

}  // namespace

const Registry<OptimizerFactory>& optimizer_registry() {
  static const Registry<OptimizerFactory> registry(
      "optimizer", {{"sgd", "SGD with momentum and (coupled) weight decay: lr, momentum, weight_decay", make_sgd},
                    {"adam", "Adam: lr, beta1, beta2, eps, weight_decay (added to the gradient)", make_adam<false>},
                    {"adamw", "AdamW: Adam with decoupled weight decay (default 1e-2)", make_adam<true>}});
  return registry;
}

std::unique_ptr<Optimizer> make_optimizer(const nlohmann::json& c, std::vector<Tensor> params) {
  ConfigReader r(c, "optimizer");
  std::string name = "adam";
  r.read("name", name);
  return optimizer_registry().at(name, "optimizer.name").make(r, std::move(params));
}

LrSchedule LrSchedule::from_json(const nlohmann::json& c, int64_t total_epochs) {
  ConfigReader r(c, "schedule");
  LrSchedule s;
  read_fields(r, s);
  r.done();
  s.total_epochs = std::max<int64_t>(total_epochs, 1);
  if (s.step_size <= 0) r.fail_at("step_size", "must be positive");
  return s;
}

double LrSchedule::lr_at(double base_lr, int64_t epoch) const {
  if (kind == "step") return base_lr * std::pow(gamma, double(epoch / step_size));
  if (kind == "linear") {
    const double progress = std::min(1.0, double(epoch) / double(total_epochs));
    return base_lr * (1 + (end_factor - 1) * progress);
  }
  return base_lr;
}

double clip_grad_norm(std::vector<Tensor>& grads, double max_norm) {
  GG_CHECK(max_norm > 0, "clip_grad_norm: max_norm must be positive");
  NoGradGuard no_grad;
  double total = 0;
  for (const Tensor& g : grads) total += sum(square(g.to(DType::f64))).item();
  total = std::sqrt(total);
  if (total > max_norm)
    for (Tensor& g : grads) g = g * (max_norm / (total + 1e-12));
  return total;
}

}  // namespace gg
