#include "models/module.h"

#include "engine/backend/backend.h"

namespace gg {

std::string Module::describe() const {
  if (children_.empty()) return type_;
  std::string s = type_ + "(";
  for (size_t i = 0; i < children_.size(); ++i) s += (i ? ", " : "") + children_[i].second->describe();
  return s + ")";
}

void Module::check_new_name(const std::string& name) const {
  GG_CHECK(!name.empty() && name.find('.') == std::string::npos,
           type_ + ": invalid name '" + name + "' (must be non-empty and contain no '.')");
  for (const Slot& p : params_)
    GG_CHECK(p.name != name, type_ + ": name '" + name + "' is already a parameter");
  for (const auto& c : children_)
    GG_CHECK(c.first != name, type_ + ": name '" + name + "' is already a child module");
}

Tensor& Module::register_parameter(const std::string& name, Tensor value) {
  check_new_name(name);
  GG_CHECK(value.defined(), type_ + ": parameter '" + name + "' is undefined");
  GG_CHECK(value.is_leaf(), type_ + ": parameter '" + name + "' must be a leaf tensor (detach it first)");
  value.requires_grad_(true);
  params_.push_back({name, std::move(value)});
  return params_.back().value;
}

void Module::collect_slots(const std::string& prefix, std::vector<std::pair<std::string, Tensor*>>& out) {
  for (Slot& p : params_) out.emplace_back(prefix + p.name, &p.value);
  for (auto& [name, child] : children_) child->collect_slots(prefix + name + ".", out);
}

void Module::collect_slots(const std::string& prefix,
                           std::vector<std::pair<std::string, const Tensor*>>& out) const {
  for (const Slot& p : params_) out.emplace_back(prefix + p.name, &p.value);
  for (const auto& [name, child] : children_) std::as_const(*child).collect_slots(prefix + name + ".", out);
}

NamedTensors Module::named_parameters() const {
  std::vector<std::pair<std::string, const Tensor*>> slots;
  collect_slots("", slots);
  NamedTensors out;
  for (const auto& [name, t] : slots) out.emplace_back(name, *t);
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [name, t] : named_parameters()) out.push_back(t);
  return out;
}

int64_t Module::num_parameters() const {
  int64_t n = 0;
  for (const Tensor& t : parameters()) n += t.numel();
  return n;
}

void Module::zero_grad() {
  for (Tensor& t : parameters()) t.zero_grad();
}

void Module::convert_parameters(const std::function<Tensor(const Tensor&)>& convert) {
  NoGradGuard no_grad;
  for (Tensor& p : parameters()) {
    Tensor converted = convert(p.detach());
    if (converted.impl()->storage == p.impl()->storage) continue;  // already as asked
    TensorImpl& impl = *p.impl();  // rewritten in place, so every handle to this parameter sees it
    impl.storage = converted.impl()->storage;
    impl.offset = converted.impl()->offset;
    impl.dtype = converted.dtype();
    impl.grad.reset();
  }
}

void Module::to(DType t) {
  convert_parameters([t](const Tensor& p) { return p.dtype() == t ? p : p.to(t); });
}

void Module::to(Device d) {
  backend_for(d);  // refuses a device this build lacks, also for a module without parameters
  convert_parameters([d](const Tensor& p) { return p.to(d); });
}

Device Module::device() const {
  const std::vector<Tensor> ps = parameters();
  return ps.empty() ? Device::cpu() : ps.front().device();
}

Tensor call_with_parameters(Module& module, const std::vector<Tensor>& values,
                            const std::function<Tensor()>& f) {
  std::vector<std::pair<std::string, Tensor*>> slots;
  module.collect_slots("", slots);
  GG_CHECK(values.size() == slots.size(), "call_with_parameters: " + std::to_string(values.size()) +
                                              " values for " + std::to_string(slots.size()) + " parameters");
  for (size_t i = 0; i < slots.size(); ++i) {
    const Tensor& now = *slots[i].second;
    GG_CHECK(values[i].defined() && values[i].shape() == now.shape() && values[i].dtype() == now.dtype(),
             "call_with_parameters: value for '" + slots[i].first + "' is " +
                 (values[i].defined() ? values[i].str() : std::string("undefined")) + ", parameter is " +
                 now.str());
  }
  std::vector<Tensor> originals;
  for (auto& [name, slot] : slots) originals.push_back(*slot);
  struct Restore {
    std::vector<std::pair<std::string, Tensor*>>& slots;
    std::vector<Tensor>& originals;
    ~Restore() {
      for (size_t i = 0; i < slots.size(); ++i) *slots[i].second = originals[i];
    }
  } restore{slots, originals};
  for (size_t i = 0; i < slots.size(); ++i) *slots[i].second = values[i];
  return f();
}

}  // namespace gg
