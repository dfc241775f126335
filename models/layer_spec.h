// One layer of an nn.Sequential described in JSON the way PyTorch constructs it: {"kind": <PyTorch's class
// name>, <its constructor's keyword arguments>}, so that a model trained elsewhere is written down layer by
// layer and built here with the same parameter names (models/autoencoder.h, arch "sequential";
// docs/pretrained.md). tests/torch_pretrained.py builds the PyTorch side as getattr(nn, kind)(**arguments).
//
//   kind             arguments (defaults as PyTorch's)
//   Linear           in_features, out_features, bias (true)
//   Conv2d           in_channels, out_channels, kernel_size, stride (1), padding (0), bias (true)
//   ConvTranspose2d  the same and output_padding (0)
//   Flatten          start_dim (1), end_dim (-1): only these values
//   Unflatten        dim (1 only), unflattened_size
//   ZeroPad2d        padding: one number, or [left, right, top, bottom]
//   Identity, ReLU, Sigmoid, Tanh, Softplus, SiLU, GELU     none
//   LeakyReLU        negative_slope (0.01)
//
// Kernels, strides and paddings are single numbers (square kernels). An unknown kind or argument is refused
// by its config path ("model.encoder[3].kind: unknown layer kind 'BatchNorm2d' (known: ...)").
#pragma once

#include <array>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>

#include "models/layers.h"

namespace gg {

struct LayerSpec {
  std::string kind = "Identity";
  int64_t in = 0, out = 0;  // Linear: in_features, out_features; the convolutions: in_ and out_channels
  int64_t kernel_size = 0, stride = 1, padding = 0, output_padding = 0;
  bool bias = true;
  Shape unflattened_size;                // Unflatten
  std::array<int64_t, 4> zero_pad = {};  // ZeroPad2d: left, right, top, bottom
  double negative_slope = 0.01;          // LeakyReLU

  // The Activation spec (models/layers.h) of an activation kind ("relu", "leaky_relu(0.2)"); "" for the
  // other kinds.
  std::string activation() const;
};

// The kinds above, for messages.
const std::vector<std::string>& layer_kinds();

// Every argument written, defaults included.
void to_json(nlohmann::json& j, const LayerSpec& s);
void from_json(const nlohmann::json& j, LayerSpec& s);

// The layer itself, its weights drawn from gen. Sizes the layer refuses (a non-positive width, a negative
// padding...) are the layer constructor's Error.
std::shared_ptr<Module> make_layer(const LayerSpec& s, Generator& gen, const LayerOptions& options);

}  // namespace gg
