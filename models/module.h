// Module: a differentiable function with named parameters and named child modules, as in PyTorch's
// nn.Module. Parameter names are dotted paths in registration order ("encoder.0.weight"), the same names
// PyTorch's state_dict() gives the same structure, so a checkpoint moves between the two unchanged.
//
// A module owns its parameters through slots: layers read them back from their slots on every call, so a
// parameter can be converted in place (to()) or swapped for another tensor (call_with_parameters()).
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/gradgrad.h"

namespace gg {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class Module {
 public:
  explicit Module(std::string type) : type_(std::move(type)) {}
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  virtual Tensor forward(const Tensor& x) = 0;
  Tensor operator()(const Tensor& x) { return forward(x); }

  // The class name, e.g. "Linear".
  const std::string& type() const { return type_; }
  // One line saying what the module computes, e.g. "Linear(784->512)"; containers list their children.
  virtual std::string describe() const;

  // Every parameter of this module and its children, depth first in registration order.
  NamedTensors named_parameters() const;
  std::vector<Tensor> parameters() const;
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& children() const { return children_; }
  // The number of scalar parameters (sum of numel).
  int64_t num_parameters() const;

  // Clears every parameter's accumulated .grad().
  void zero_grad();
  // Converts every parameter to `t` in place: each keeps its identity (handles held elsewhere, e.g. by an
  // optimizer, see the new values) and requires_grad; accumulated gradients are dropped.
  void to(DType t);
  // Moves every parameter to device `d` in place, in the same way (a device this build lacks is an Error
  // naming it). An optimizer's buffers stay where they were made: move the module before making one.
  void to(Device d);
  // Where the parameters live: the first parameter's device, the CPU for a module without parameters.
  Device device() const;

 protected:
  // Adds a parameter under `name` (no dots, unique in this module); it becomes a leaf that requires grad.
  // Returns the slot, whose address stays valid for the module's lifetime.
  Tensor& register_parameter(const std::string& name, Tensor value);
  // Adds a child whose parameters are named "<name>.<its names>".
  template <class M>
  M& register_module(const std::string& name, std::shared_ptr<M> child) {
    check_new_name(name);
    M& ref = *child;
    children_.emplace_back(name, std::move(child));
    return ref;
  }

 private:
  struct Slot {
    std::string name;
    Tensor value;
  };
  void check_new_name(const std::string& name) const;
  // Replaces each parameter's storage by that of convert(parameter) in place, where that is new storage.
  void convert_parameters(const std::function<Tensor(const Tensor&)>& convert);
  void collect_slots(const std::string& prefix, std::vector<std::pair<std::string, Tensor*>>& out);
  void collect_slots(const std::string& prefix,
                     std::vector<std::pair<std::string, const Tensor*>>& out) const;
  friend Tensor call_with_parameters(Module&, const std::vector<Tensor>&, const std::function<Tensor()>&);

  std::string type_;
  std::deque<Slot> params_;  // a deque keeps slot addresses stable as parameters are added
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
};

// Runs f with the module's parameters replaced by `values` (one per parameters() entry, same shapes and
// dtypes) and restores the originals afterwards, also when f throws: PyTorch's functional_call. Gradients
// of f's result then flow to `values`, e.g. for gradcheck with respect to the parameters.
Tensor call_with_parameters(Module& module, const std::vector<Tensor>& values,
                            const std::function<Tensor()>& f);

}  // namespace gg
