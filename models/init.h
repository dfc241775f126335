// Weight initializers. Every draw comes from the caller's Generator, so one seed fixes every weight; values
// are drawn in f64 and then cast, so an f32 and an f64 model made from the same seed agree to rounding.
//
// Fans follow PyTorch: for a weight [d0, d1, k...] with receptive field r = prod(k), fan_in = d1 * r and
// fan_out = d0 * r. So a Linear weight [out, in] has fan_in = in, a Conv2d weight [out, in, k, k] has
// fan_in = in k^2, and a ConvTranspose2d weight [in, out, k, k] has fan_in = out k^2, as in PyTorch.
#pragma once

#include <string>
#include <vector>

#include "engine/gradgrad.h"

namespace gg {

enum class InitScheme {
  torch_default,    // PyTorch's nn.Linear/Conv default: weight, bias ~ U(-b, b), b = 1 / sqrt(fan_in)
  xavier_uniform,   // Glorot & Bengio 2010: U(-b, b), b = gain sqrt(6 / (fan_in + fan_out))
  xavier_normal,    // N(0, s^2), s = gain sqrt(2 / (fan_in + fan_out))
  kaiming_uniform,  // He et al. 2015, fan_in mode: U(-b, b), b = gain sqrt(3 / fan_in)
  kaiming_normal,   // N(0, s^2), s = gain / sqrt(fan_in)
  lecun_normal,     // LeCun 1998: N(0, 1 / fan_in)
  zeros,            // all zeros
};

// A scheme and the gain it multiplies its scale by (xavier and kaiming; the others ignore it). For kaiming
// the gain is the following nonlinearity's (Activation::gain(): sqrt(2) for relu, 5/3 for tanh, ...).
// Every scheme but torch_default sets biases to zero.
struct Init {
  InitScheme scheme = InitScheme::torch_default;
  double gain = 1.0;
};

// By name: "torch_default", "xavier_uniform" (or "glorot_uniform"), "xavier_normal" ("glorot_normal"),
// "kaiming_uniform" ("he_uniform"), "kaiming_normal" ("he_normal"), "lecun_normal", "zeros". The gain is 1,
// except sqrt(2) for kaiming (PyTorch's default, relu). An unknown name is an error listing the valid ones.
Init parse_init(const std::string& name);
// The canonical name of a scheme (parse_init(init_name(s)).scheme == s).
std::string init_name(InitScheme scheme);
const std::vector<std::string>& init_names();

struct Fans {
  int64_t in = 0, out = 0;
};
// Fans of a weight of rank >= 2, by the rule above.
Fans compute_fans(const Shape& weight_shape);

// A fresh weight of the given shape, dtype and device (not yet requiring grad), drawn by `init`; the draw is
// the same on every device.
Tensor init_weight(const Shape& shape, const Init& init, Generator& gen, DType dtype = DType::f32,
                   Device device = {});
// A fresh bias [n] for a weight with fans `fans`: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for torch_default,
// zeros otherwise (drawing nothing from gen).
Tensor init_bias(int64_t n, const Fans& fans, const Init& init, Generator& gen, DType dtype = DType::f32,
                 Device device = {});

}  // namespace gg
