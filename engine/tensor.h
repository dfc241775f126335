// Tensor: a handle to contiguous row-major storage of f32 or f64 on a device, plus its autograd identity.
//
// Storage is shared between a tensor and its reshapes and detached copies; ops that reorder elements
// (permute, slice, expand, concat) write a fresh contiguous tensor. A tensor that requires grad is either a
// leaf (made by the user, its gradient lands in .grad()) or the output of a recorded op (grad_fn() set).
#pragma once

#include <initializer_list>
#include <memory>
#include <vector>

#include "engine/core.h"

namespace gg {

class Backend;
struct Node;

// A block of device memory, returned to its backend's caching allocator when the last user lets go.
struct Storage {
  void* data = nullptr;
  size_t bytes = 0;
  Device device;
  Storage(size_t bytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
};

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  int64_t offset = 0;  // first element, in elements
  Shape shape;
  DType dtype = DType::f32;
  bool requires_grad = false;
  std::shared_ptr<Node> grad_fn;     // the op that made this tensor, when recorded
  std::shared_ptr<TensorImpl> grad;  // accumulated by backward() on leaves
};

// A seeded stream of random draws: each draw uses the counter range [offset, offset + n) and advances it,
// so one seed fixes every number on every device.
struct Generator {
  uint64_t seed = 0;
  uint64_t offset = 0;
  explicit Generator(uint64_t s = 0) : seed(s) {}
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // Factories (the storage is uninitialised for empty()).
  static Tensor empty(const Shape& shape, DType t = DType::f32, Device d = {});
  static Tensor zeros(const Shape& shape, DType t = DType::f32, Device d = {});
  static Tensor ones(const Shape& shape, DType t = DType::f32, Device d = {});
  static Tensor full(const Shape& shape, double value, DType t = DType::f32, Device d = {});
  static Tensor scalar(double value, DType t = DType::f32, Device d = {});
  static Tensor from_data(const std::vector<double>& values, const Shape& shape, DType t = DType::f32,
                          Device d = {});
  static Tensor arange(int64_t n, DType t = DType::f32, Device d = {});
  static Tensor randn(const Shape& shape, Generator& gen, DType t = DType::f32, Device d = {});
  static Tensor rand(const Shape& shape, Generator& gen, DType t = DType::f32, Device d = {});

  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl_->shape; }
  int64_t dim() const { return static_cast<int64_t>(impl_->shape.size()); }
  int64_t size(int64_t axis) const;
  int64_t numel() const { return shape_numel(impl_->shape); }
  DType dtype() const { return impl_->dtype; }
  Device device() const { return impl_->storage->device; }
  std::string str() const;  // "f32[2,3]"

  // Host access to the elements: CPU tensors only, anything else is an Error naming the op and the device
  // (copy the tensor with to(Device::cpu()) first). T must match dtype().
  template <class T> T* data() const;
  double at(std::initializer_list<int64_t> index) const;
  // The first element in the device's memory, for backends and host copies (any device).
  void* raw() const;
  // Copies of the elements on the host, as double, through the device's backend (so from any device this
  // build has a backend for; otherwise an Error naming the op and the device).
  double item() const;                   // the one element of a one-element tensor
  std::vector<double> to_vector() const; // all elements

  // Autograd.
  bool requires_grad() const { return impl_->requires_grad; }
  Tensor& requires_grad_(bool on = true);
  bool is_leaf() const { return impl_->grad_fn == nullptr; }
  const std::shared_ptr<Node>& grad_fn() const { return impl_->grad_fn; }
  Tensor grad() const { return Tensor(impl_->grad); }
  void set_grad(const Tensor& g) { impl_->grad = g.impl_; }
  void zero_grad() { impl_->grad.reset(); }
  // A tensor sharing this storage with no history.
  Tensor detach() const;
  // Accumulates d(this)/d(leaf) into every leaf's .grad(); `gradient` defaults to ones for a scalar.
  void backward(const Tensor& gradient = {}, bool retain_graph = false, bool create_graph = false) const;

  // In-place updates for optimizers and initialisers: no graph is recorded. `src` may be on another device.
  void copy_(const Tensor& src);
  Tensor clone() const;  // a contiguous copy with its own storage (differentiable)
  Tensor to(DType t) const;  // a copy in dtype t (differentiable: the gradient is cast back)
  // This tensor on device d: itself when it is there already, else a copy through the host
  // (copy_to_host / copy_from_host). Differentiable, like PyTorch's .to: the gradient is copied back to
  // this tensor's device. A device whose backend this build lacks is an Error naming it.
  Tensor to(Device d) const;

  // Method forms of common ops (defined in engine/ops).
  Tensor reshape(const Shape& shape) const;
  Tensor permute(const std::vector<int64_t>& perm) const;
  Tensor transpose(int64_t a = -2, int64_t b = -1) const;
  Tensor expand(const Shape& shape) const;
  Tensor sum(const std::vector<int64_t>& axes = {}, bool keepdim = false) const;
  Tensor mean(const std::vector<int64_t>& axes = {}, bool keepdim = false) const;

  const std::shared_ptr<TensorImpl>& impl() const { return impl_; }
  // The key under which autograd tracks this tensor: its op's node, or the tensor itself for a leaf.
  const void* autograd_key() const {
    return impl_->grad_fn ? static_cast<const void*>(impl_->grad_fn.get()) : impl_.get();
  }

 private:
  std::shared_ptr<TensorImpl> impl_;
};

// A tensor of the given shape sharing `base`'s storage (used by reshape and detach).
Tensor alias_of(const Tensor& base, const Shape& shape);

}  // namespace gg
