#include "engine/tensor.h"

#include <cstring>

#include "engine/autograd/autograd.h"
#include "engine/autograd/node.h"
#include "engine/backend/backend.h"
#include "engine/ops/ops.h"

namespace gg {

Storage::Storage(size_t b, Device d) : bytes(b), device(d) { data = backend_for(d).allocate(b); }
Storage::~Storage() { backend_for(device).deallocate(data, bytes); }

Tensor Tensor::empty(const Shape& shape, DType t, Device d) {
  for (auto s : shape) GG_CHECK(s >= 0, "empty: negative size in shape " + shape_str(shape));
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(shape_numel(shape) * dtype_size(t), d);
  impl->shape = shape;
  impl->dtype = t;
  return Tensor(std::move(impl));
}

Tensor Tensor::full(const Shape& shape, double value, DType t, Device d) {
  Tensor out = empty(shape, t, d);
  backend_for(d).fill(t, out.numel(), value, out.raw());
  return out;
}
Tensor Tensor::zeros(const Shape& shape, DType t, Device d) { return full(shape, 0.0, t, d); }
Tensor Tensor::ones(const Shape& shape, DType t, Device d) { return full(shape, 1.0, t, d); }
Tensor Tensor::scalar(double value, DType t, Device d) { return full({}, value, t, d); }

Tensor Tensor::from_data(const std::vector<double>& values, const Shape& shape, DType t, Device d) {
  GG_CHECK(static_cast<int64_t>(values.size()) == shape_numel(shape),
           "from_data: " + std::to_string(values.size()) + " values for shape " + shape_str(shape));
  Tensor host = empty(shape, DType::f64, Device::cpu());
  std::memcpy(host.raw(), values.data(), values.size() * sizeof(double));
  Tensor out = empty(shape, t, d);
  Tensor converted = t == DType::f64 ? host : empty(shape, t, Device::cpu());
  if (t != DType::f64) backend_for(Device::cpu()).cast(DType::f64, t, host.numel(), host.raw(), converted.raw());
  backend_for(d).copy_from_host(out.raw(), converted.raw(), out.numel() * dtype_size(t));
  return out;
}

Tensor Tensor::arange(int64_t n, DType t, Device d) {
  std::vector<double> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = double(i);
  return from_data(v, {n}, t, d);
}

static Tensor random_tensor(RandomKind kind, const Shape& shape, Generator& gen, DType t, Device d) {
  Tensor out = Tensor::empty(shape, t, d);
  backend_for(d).random(kind, t, out.numel(), gen.seed, gen.offset, out.raw());
  gen.offset += out.numel();
  return out;
}
Tensor Tensor::randn(const Shape& s, Generator& g, DType t, Device d) {
  return random_tensor(RandomKind::normal, s, g, t, d);
}
Tensor Tensor::rand(const Shape& s, Generator& g, DType t, Device d) {
  return random_tensor(RandomKind::uniform, s, g, t, d);
}

int64_t Tensor::size(int64_t axis) const { return shape()[normalize_axis(axis, dim(), "size")]; }
std::string Tensor::str() const { return std::string(dtype_name(dtype())) + shape_str(shape()); }

namespace {

// Host reads and writes of the elements need them in host memory.
void check_on_host(const Tensor& t, const char* op) {
  GG_CHECK(t.device() == Device::cpu(), std::string(op) + ": tensor " + t.str() + " is on " +
                                            t.device().str() + ", not the host; copy it with to(Device::cpu()) first");
}

// The backend of a device, with `op` named in the error for a device this build lacks.
Backend& backend_named(Device d, const char* op) {
  try {
    return backend_for(d);
  } catch (const Error& e) {
    fail(std::string(op) + ": " + e.what());
  }
}

// Every element as double on the host, copied through the tensor's backend; `op` names the caller.
std::vector<double> host_values(const Tensor& t, const char* op) {
  Backend& backend = backend_named(t.device(), op);
  Tensor host = Tensor::empty(t.shape(), t.dtype(), Device::cpu());
  backend.copy_to_host(host.raw(), t.raw(), t.numel() * dtype_size(t.dtype()));
  std::vector<double> out(t.numel());
  backend_for(Device::cpu()).cast(t.dtype(), DType::f64, t.numel(), host.raw(), out.data());
  return out;
}

}  // namespace

void* Tensor::raw() const {
  return static_cast<char*>(impl_->storage->data) + impl_->offset * dtype_size(impl_->dtype);
}
template <class T>
T* Tensor::data() const {
  check_on_host(*this, "data");
  GG_CHECK((std::is_same_v<T, float> && dtype() == DType::f32) || (std::is_same_v<T, double> && dtype() == DType::f64),
           "data: element type does not match the tensor's dtype " + std::string(dtype_name(dtype())));
  return static_cast<T*>(raw());
}
template float* Tensor::data<float>() const;
template double* Tensor::data<double>() const;

std::vector<double> Tensor::to_vector() const { return host_values(*this, "to_vector"); }

double Tensor::item() const {
  GG_CHECK(numel() == 1, "item: tensor " + str() + " has " + std::to_string(numel()) + " elements, not 1");
  return host_values(*this, "item")[0];
}

double Tensor::at(std::initializer_list<int64_t> index) const {
  check_on_host(*this, "at");
  GG_CHECK(static_cast<int64_t>(index.size()) == dim(), "at: index of rank " + std::to_string(index.size()) +
                                                            " for tensor " + str());
  Shape st = contiguous_strides(shape());
  int64_t off = 0, i = 0;
  for (int64_t v : index) {
    GG_CHECK(v >= 0 && v < shape()[i], "at: index out of range for tensor " + str());
    off += v * st[i++];
  }
  return dtype() == DType::f32 ? double(data<float>()[off]) : data<double>()[off];
}

Tensor& Tensor::requires_grad_(bool on) {
  GG_CHECK(is_leaf() || on, "requires_grad_: cannot turn off requires_grad on a non-leaf tensor; use detach()");
  impl_->requires_grad = on;
  return *this;
}

Tensor alias_of(const Tensor& base, const Shape& shape) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = base.impl()->storage;
  impl->offset = base.impl()->offset;
  impl->shape = shape;
  impl->dtype = base.dtype();
  return Tensor(std::move(impl));
}

Tensor Tensor::detach() const { return alias_of(*this, shape()); }

void Tensor::copy_(const Tensor& src) {
  GG_CHECK(src.shape() == shape() && src.dtype() == dtype(),
           "copy_: source " + src.str() + " does not match destination " + str());
  GG_CHECK(!(requires_grad() && grad_enabled() && !is_leaf()), "copy_: in-place write into a non-leaf tensor");
  const Tensor here = src.device() == device() ? src : gg::to_device(src.detach(), device());
  backend_for(device()).copy_strided(dtype(), {numel()}, here.raw(), {1}, raw(), {1});
}

Tensor Tensor::clone() const { return cast(*this, dtype()); }
Tensor Tensor::to(DType t) const { return cast(*this, t); }
Tensor Tensor::to(Device d) const { return gg::to_device(*this, d); }

void Tensor::backward(const Tensor& gradient, bool retain_graph, bool create_graph) const {
  GG_CHECK(requires_grad(), "backward: tensor " + str() + " does not require grad and has no grad_fn");
  std::vector<Tensor> leaves = graph_leaves(*this);
  GradOptions opt;
  opt.retain_graph = retain_graph;
  opt.create_graph = create_graph;
  std::vector<Tensor> grads = gg::grad(std::vector<Tensor>{*this}, leaves, std::vector<Tensor>{gradient}, opt);
  for (size_t i = 0; i < leaves.size(); ++i) {
    Tensor g = create_graph ? grads[i] : grads[i].detach();
    Tensor prev = leaves[i].grad();
    if (prev.defined()) {
      GradModeGuard mode(create_graph);
      g = prev + g;
    }
    leaves[i].set_grad(g);
  }
}

// Method forms.
Tensor Tensor::reshape(const Shape& s) const { return gg::reshape(*this, s); }
Tensor Tensor::permute(const std::vector<int64_t>& p) const { return gg::permute(*this, p); }
Tensor Tensor::transpose(int64_t a, int64_t b) const { return gg::transpose(*this, a, b); }
Tensor Tensor::expand(const Shape& s) const { return gg::expand(*this, s); }
Tensor Tensor::sum(const std::vector<int64_t>& axes, bool keepdim) const { return gg::sum(*this, axes, keepdim); }
Tensor Tensor::mean(const std::vector<int64_t>& axes, bool keepdim) const { return gg::mean(*this, axes, keepdim); }

}  // namespace gg
