#include "models/layers.h"

#include <cmath>
#include <numbers>
#include <sstream>
#include <utility>

namespace gg {

namespace {

// Throws "<layer>: input <x> <what>" unless ok.
void check_input(bool ok, const Module& layer, const Tensor& x, const std::string& what) {
  GG_CHECK(ok, layer.describe() + ": input " + x.str() + " " + what);
}

std::string conv_geometry(int64_t in, int64_t out, int64_t k, int64_t s, int64_t p) {
  return std::to_string(in) + "->" + std::to_string(out) + ", k" + std::to_string(k) + ", s" +
         std::to_string(s) + ", p" + std::to_string(p);
}

}  // namespace

// ---- Layers with parameters -----------------------------------------------------------------------------

WeightedLayer::WeightedLayer(const char* name, const Shape& weight_shape, int64_t bias_size, Generator& gen,
                             const LayerOptions& o)
    : Module(name) {
  for (int64_t d : weight_shape)
    GG_CHECK(d > 0,
             std::string(name) + ": weight shape " + shape_str(weight_shape) + " must have positive sizes");
  weight_ = &register_parameter("weight", init_weight(weight_shape, o.init, gen, o.dtype, o.device));
  if (o.bias)
    bias_ = &register_parameter(
        "bias", init_bias(bias_size, compute_fans(weight_shape), o.init, gen, o.dtype, o.device));
}

void WeightedLayer::check_dtype(const Tensor& x) const {
  check_input(
      x.dtype() == weight().dtype(), *this, x,
      std::string("has a different dtype from the layer's ") + dtype_name(weight().dtype()) + " parameters");
}

Linear::Linear(int64_t in, int64_t out, Generator& gen, const LayerOptions& o)
    : WeightedLayer("Linear", {out, in}, out, gen, o), in_features(in), out_features(out) {}

Tensor Linear::forward(const Tensor& x) {
  check_input(x.dim() >= 1 && x.size(-1) == in_features, *this, x,
              "needs a last axis of " + std::to_string(in_features));
  check_dtype(x);
  return linear(x, weight(), bias());
}

std::string Linear::describe() const {
  return "Linear(" + std::to_string(in_features) + "->" + std::to_string(out_features) +
         (bias().defined() ? ")" : ", no bias)");
}

// ---- Conv2d -------------------------------------------------------------------------------------------

Conv2d::Conv2d(int64_t in, int64_t out, int64_t k, int64_t s, int64_t p, Generator& gen,
               const LayerOptions& o)
    : WeightedLayer("Conv2d", {out, in, k, k}, out, gen, o),
      in_channels(in),
      out_channels(out),
      kernel(k),
      stride(s),
      padding(p) {
  GG_CHECK(s > 0 && p >= 0,
           "Conv2d(" + conv_geometry(in, out, k, s, p) + "): stride must be positive, padding >= 0");
}

Tensor Conv2d::forward(const Tensor& x) {
  check_input(x.dim() == 4 && x.size(1) == in_channels, *this, x,
              "needs [N, " + std::to_string(in_channels) + ", H, W]");
  check_input(x.size(2) + 2 * padding >= kernel && x.size(3) + 2 * padding >= kernel, *this, x,
              "is smaller than the kernel");
  check_dtype(x);
  return conv2d(x, weight(), bias(), stride, padding);
}

std::string Conv2d::describe() const {
  return "Conv2d(" + conv_geometry(in_channels, out_channels, kernel, stride, padding) +
         (bias().defined() ? ")" : ", no bias)");
}

// ---- ConvTranspose2d ----------------------------------------------------------------------------------

ConvTranspose2d::ConvTranspose2d(int64_t in, int64_t out, int64_t k, int64_t s, int64_t p, int64_t op,
                                 Generator& gen, const LayerOptions& o)
    : WeightedLayer("ConvTranspose2d", {in, out, k, k}, out, gen, o),
      in_channels(in),
      out_channels(out),
      kernel(k),
      stride(s),
      padding(p),
      output_padding(op) {
  GG_CHECK(s > 0 && p >= 0 && op >= 0 && op < s,
           "ConvTranspose2d(" + conv_geometry(in, out, k, s, p) + ", op" + std::to_string(op) +
               "): stride must be positive, padding >= 0 and output_padding in [0, stride)");
}

Tensor ConvTranspose2d::forward(const Tensor& x) {
  check_input(x.dim() == 4 && x.size(1) == in_channels, *this, x,
              "needs [N, " + std::to_string(in_channels) + ", H, W]");
  check_input((x.size(2) - 1) * stride + kernel + output_padding > 2 * padding &&
                  (x.size(3) - 1) * stride + kernel + output_padding > 2 * padding,
              *this, x, "gives an empty output");
  check_dtype(x);
  return conv_transpose2d(x, weight(), bias(), stride, padding, output_padding);
}

std::string ConvTranspose2d::describe() const {
  return "ConvTranspose2d(" + conv_geometry(in_channels, out_channels, kernel, stride, padding) + ", op" +
         std::to_string(output_padding) + (bias().defined() ? ")" : ", no bias)");
}

// ---- Activation ---------------------------------------------------------------------------------------

Tensor gelu(const Tensor& x) { return x * (1.0 + erf(x * std::numbers::sqrt2 / 2.0)) * 0.5; }

namespace {

const std::vector<std::pair<std::string, Activation::Kind>>& activation_table() {
  using K = Activation::Kind;
  static const std::vector<std::pair<std::string, K>> table = {
      {"identity", K::identity}, {"relu", K::relu}, {"leaky_relu", K::leaky_relu},
      {"sigmoid", K::sigmoid},   {"tanh", K::tanh}, {"softplus", K::softplus},
      {"silu", K::silu},         {"gelu", K::gelu},
  };
  return table;
}

[[noreturn]] void bad_activation(const std::string& spec) {
  std::string valid;
  for (const std::string& n : Activation::names()) valid += (valid.empty() ? "" : ", ") + n;
  fail("unknown activation '" + spec + "' (valid: " + valid + ", leaky_relu(<slope>))");
}

}  // namespace

const std::vector<std::string>& Activation::names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (const auto& [name, kind] : activation_table()) n.push_back(name);
    return n;
  }();
  return names;
}

Activation::Activation(const std::string& spec) : Module("Activation") {
  std::string base = spec;
  if (const size_t open = spec.find('('); open != std::string::npos) {
    // "leaky_relu(<slope>)": the whole text between the parentheses must be one number.
    base = spec.substr(0, open);
    if (base != "leaky_relu" || spec.back() != ')') bad_activation(spec);
    const std::string arg = spec.substr(open + 1, spec.size() - open - 2);
    size_t used = 0;
    try {
      slope_ = std::stod(arg, &used);
    } catch (const std::exception&) {
      used = std::string::npos;
    }
    if (arg.empty() || used != arg.size() || !std::isfinite(slope_)) bad_activation(spec);
  }
  for (const auto& [name, kind] : activation_table())
    if (name == base) {
      kind_ = kind;
      name_ = name;
      return;
    }
  bad_activation(spec);
}

Tensor Activation::forward(const Tensor& x) {
  switch (kind_) {
    case Kind::identity:
      return x;
    case Kind::relu:
      return relu(x);
    case Kind::leaky_relu:
      return leaky_relu(x, slope_);
    case Kind::sigmoid:
      return sigmoid(x);
    case Kind::tanh:
      return tanh(x);
    case Kind::softplus:
      return softplus(x);
    case Kind::silu:
      return silu(x);
    case Kind::gelu:
      return gelu(x);
  }
  fail("Activation: unknown kind");
}

std::string Activation::describe() const {
  if (kind_ != Kind::leaky_relu) return name_;
  std::ostringstream s;
  s << name_ << "(" << slope_ << ")";
  return s.str();
}

double Activation::gain() const {
  switch (kind_) {
    case Kind::identity:
    case Kind::sigmoid:
      return 1.0;
    case Kind::tanh:
      return 5.0 / 3.0;
    case Kind::leaky_relu:
      return std::sqrt(2.0 / (1.0 + slope_ * slope_));
    case Kind::relu:
    case Kind::softplus:
    case Kind::silu:
    case Kind::gelu:
      return std::sqrt(2.0);
  }
  fail("Activation: unknown kind");
}

// ---- Shape layers -------------------------------------------------------------------------------------

Tensor Flatten::forward(const Tensor& x) {
  check_input(x.dim() >= 2, *this, x, "needs a batch axis and at least one more");
  return flatten(x, 1);
}

Unflatten::Unflatten(Shape s) : Module("Unflatten"), shape(std::move(s)) {
  for (int64_t d : shape)
    GG_CHECK(d > 0, "Unflatten: shape " + shape_str(shape) + " must have positive sizes");
}

Tensor Unflatten::forward(const Tensor& x) {
  check_input(x.dim() == 2 && x.size(1) == shape_numel(shape), *this, x,
              "needs [N, " + std::to_string(shape_numel(shape)) + "]");
  Shape out{x.size(0)};
  out.insert(out.end(), shape.begin(), shape.end());
  return reshape(x, out);
}

std::string Unflatten::describe() const { return "Unflatten(" + shape_str(shape) + ")"; }

ZeroPad2d::ZeroPad2d(int64_t l, int64_t r, int64_t t, int64_t b)
    : Module("ZeroPad2d"), left(l), right(r), top(t), bottom(b) {}

namespace {
// One axis of ZeroPad2d: `before` and `after` zeros added, or as many entries removed where negative.
Tensor pad_or_crop(const Tensor& x, int64_t axis, int64_t before, int64_t after) {
  Tensor y = before > 0 || after > 0 ? pad(x, axis, std::max<int64_t>(before, 0), std::max<int64_t>(after, 0)) : x;
  const int64_t cut_before = std::max<int64_t>(-before, 0), cut_after = std::max<int64_t>(-after, 0);
  return cut_before || cut_after ? slice(y, axis, cut_before, y.size(axis) - cut_after) : y;
}
}  // namespace

Tensor ZeroPad2d::forward(const Tensor& x) {
  check_input(x.dim() == 4, *this, x, "needs [N, C, H, W]");
  check_input(x.size(2) + top + bottom > 0 && x.size(3) + left + right > 0, *this, x,
              "would be cropped to nothing");
  return pad_or_crop(pad_or_crop(x, 2, top, bottom), 3, left, right);
}

std::string ZeroPad2d::describe() const {
  return "ZeroPad2d(l" + std::to_string(left) + ", r" + std::to_string(right) + ", t" + std::to_string(top) +
         ", b" + std::to_string(bottom) + ")";
}

// ---- Sequential ---------------------------------------------------------------------------------------

Tensor Sequential::forward(const Tensor& x) {
  Tensor y = x;
  for (const auto& [name, layer] : children()) y = layer->forward(y);
  return y;
}

}  // namespace gg
