// Layers with PyTorch's parameter layouts and names, so weights move between the two: Linear (weight
// [out, in], bias [out]), Conv2d (weight [out, in, k, k]), ConvTranspose2d (weight [in, out, k, k]).
// Every layer checks its input's rank, sizes and dtype and throws an Error naming the layer and the shapes.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "models/init.h"
#include "models/module.h"

namespace gg {

struct LayerOptions {
  bool bias = true;
  Init init = {};
  DType dtype = DType::f32;
  Device device = {};  // where the parameters are made
};

// A layer with a weight and, unless LayerOptions::bias is false, a bias: registered as "weight" and "bias"
// in that order, as PyTorch names them.
class WeightedLayer : public Module {
 public:
  const Tensor& weight() const { return *weight_; }
  Tensor bias() const { return bias_ ? *bias_ : Tensor(); }  // undefined without bias

 protected:
  // Draws the weight (shape `weight_shape`), then the bias ([bias_size]), from gen; `name` is the layer's.
  WeightedLayer(const char* name, const Shape& weight_shape, int64_t bias_size, Generator& gen,
                const LayerOptions& o);
  // Refuses an input whose dtype is not the parameters'.
  void check_dtype(const Tensor& x) const;

 private:
  Tensor* weight_;
  Tensor* bias_ = nullptr;
};

// y = x W^T + b for x [..., in].
class Linear : public WeightedLayer {
 public:
  // Draws the weight, then the bias, from gen.
  Linear(int64_t in, int64_t out, Generator& gen, const LayerOptions& options = {});
  Tensor forward(const Tensor& x) override;
  std::string describe() const override;  // "Linear(784->512)", or "Linear(784->512, no bias)"
  const int64_t in_features, out_features;
};

// Cross-correlation of x [N, in, H, W] with a square kernel: [N, out, (H + 2p - k)/s + 1, ...].
class Conv2d : public WeightedLayer {
 public:
  Conv2d(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t padding, Generator& gen,
         const LayerOptions& options = {});
  Tensor forward(const Tensor& x) override;
  std::string describe() const override;  // "Conv2d(1->32, k3, s2, p1)"
  const int64_t in_channels, out_channels, kernel, stride, padding;
};

// The transpose of Conv2d: x [N, in, H, W] -> [N, out, (H - 1)s - 2p + k + output_padding, ...].
class ConvTranspose2d : public WeightedLayer {
 public:
  ConvTranspose2d(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t padding,
                  int64_t output_padding, Generator& gen, const LayerOptions& options = {});
  Tensor forward(const Tensor& x) override;
  std::string describe() const override;  // "ConvTranspose2d(256->128, k3, s2, p1, op1)"
  const int64_t in_channels, out_channels, kernel, stride, padding, output_padding;
};

// The exact GELU, x Phi(x) = x (1 + erf(x / sqrt 2)) / 2 (not the tanh approximation).
Tensor gelu(const Tensor& x);

// An elementwise nonlinearity chosen by name: "identity", "relu", "leaky_relu" (slope 0.01) or
// "leaky_relu(<slope>)", "sigmoid", "tanh", "softplus", "silu", "gelu". An unknown name is an error listing
// the valid ones.
class Activation : public Module {
 public:
  enum class Kind { identity, relu, leaky_relu, sigmoid, tanh, softplus, silu, gelu };
  explicit Activation(const std::string& spec);
  Tensor forward(const Tensor& x) override;
  std::string describe() const override;  // the canonical spec: "tanh", "leaky_relu(0.2)"
  Kind kind() const { return kind_; }
  double slope() const { return slope_; }
  // The gain PyTorch's calculate_gain gives this nonlinearity (1 for identity and sigmoid, 5/3 for tanh,
  // sqrt(2) for relu, sqrt(2 / (1 + slope^2)) for leaky_relu). PyTorch lists none for softplus, silu and
  // gelu; they are ReLU-like, so they get sqrt(2).
  double gain() const;
  // The accepted base names, for messages and command-line help.
  static const std::vector<std::string>& names();

 private:
  Kind kind_;
  std::string name_;  // the base name, without the slope
  double slope_ = 0.01;
};

// [N, d1, d2, ...] -> [N, d1 * d2 * ...].
class Flatten : public Module {
 public:
  Flatten() : Module("Flatten") {}
  Tensor forward(const Tensor& x) override;
};

// [N, prod(shape)] -> [N, shape...].
class Unflatten : public Module {
 public:
  explicit Unflatten(Shape shape);
  Tensor forward(const Tensor& x) override;
  std::string describe() const override;  // "Unflatten([256,2,2])"
  const Shape shape;
};

// Zeros around the last two axes of [N, C, H, W], PyTorch's nn.ZeroPad2d((left, right, top, bottom)); as
// there, a negative amount removes that many rows or columns instead, so ZeroPad2d(-l, -r, -t, -b) crops
// back what ZeroPad2d(l, r, t, b) added.
class ZeroPad2d : public Module {
 public:
  ZeroPad2d(int64_t left, int64_t right, int64_t top, int64_t bottom);
  Tensor forward(const Tensor& x) override;
  std::string describe() const override;  // "ZeroPad2d(l2, r2, t2, b2)"
  const int64_t left, right, top, bottom;
};

// Children applied in order, named "0", "1", ... as in PyTorch's nn.Sequential.
class Sequential : public Module {
 public:
  Sequential() : Module("Sequential") {}
  template <class M>
  M& add(std::shared_ptr<M> layer) {
    return register_module(std::to_string(children().size()), std::move(layer));
  }
  size_t size() const { return children().size(); }
  Module& operator[](size_t i) const { return *children().at(i).second; }
  Tensor forward(const Tensor& x) override;
};

}  // namespace gg
