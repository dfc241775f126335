#include "models/optim.h"

#include <cmath>

#include "engine/backend/backend.h"

namespace gg {

Adam::Adam(std::vector<Tensor> params, Options options) : params_(std::move(params)), opt_(options) {
  for (const Tensor& p : params_) {
    GG_CHECK(p.is_leaf(), "Adam: parameter " + p.str() + " is not a leaf tensor");
    m_.push_back(zeros_like(p));
    v_.push_back(zeros_like(p));
  }
}

void Adam::step(const std::vector<Tensor>& grads) {
  GG_CHECK(grads.size() == params_.size(), "Adam.step: " + std::to_string(grads.size()) + " gradients for " +
                                               std::to_string(params_.size()) + " parameters");
  ++t_;
  const double bias1 = 1 - std::pow(opt_.beta1, double(t_)), bias2 = 1 - std::pow(opt_.beta2, double(t_));
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor& p = params_[i];
    GG_CHECK(grads[i].shape() == p.shape() && grads[i].dtype() == p.dtype(),
             "Adam.step: gradient " + grads[i].str() + " does not match parameter " + p.str());
    backend_for(p.device()).adam_update(p.dtype(), p.numel(), p.raw(), grads[i].raw(), m_[i].raw(), v_[i].raw(),
                                        opt_.lr, opt_.beta1, opt_.beta2, opt_.eps, opt_.weight_decay,
                                        opt_.decoupled_weight_decay, bias1, bias2);
  }
}

void Adam::step() {
  std::vector<Tensor> grads;
  for (Tensor& p : params_) {
    GG_CHECK(p.grad().defined(), "Adam.step: parameter " + p.str() + " has no gradient; call backward() first");
    grads.push_back(p.grad());
  }
  step(grads);
  for (Tensor& p : params_) p.zero_grad();
}

}  // namespace gg
