#include "models/layer_spec.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "models/config_reader.h"

namespace gg {

namespace {

// PyTorch's activation classes and the Activation spec of each.
const std::vector<std::pair<std::string, std::string>>& activation_kinds() {
  static const std::vector<std::pair<std::string, std::string>> kinds = {
      {"Identity", "identity"}, {"ReLU", "relu"}, {"LeakyReLU", "leaky_relu"},
      {"Sigmoid", "sigmoid"},   {"Tanh", "tanh"}, {"Softplus", "softplus"},
      {"SiLU", "silu"},         {"GELU", "gelu"},
  };
  return kinds;
}

bool is_conv(const LayerSpec& s) { return s.kind == "Conv2d" || s.kind == "ConvTranspose2d"; }

}  // namespace

const std::vector<std::string>& layer_kinds() {
  static const std::vector<std::string> kinds = [] {
    std::vector<std::string> k = {"Linear", "Conv2d", "ConvTranspose2d", "Flatten", "Unflatten", "ZeroPad2d"};
    for (const auto& [kind, activation] : activation_kinds()) k.push_back(kind);
    return k;
  }();
  return kinds;
}

std::string LayerSpec::activation() const {
  for (const auto& [k, spec] : activation_kinds()) {
    if (k != kind) continue;
    if (kind != "LeakyReLU") return spec;
    char slope[32];  // every digit, so that the Activation gets PyTorch's slope exactly
    std::snprintf(slope, sizeof slope, "%.17g", negative_slope);
    return spec + "(" + slope + ")";
  }
  return "";
}

void to_json(nlohmann::json& j, const LayerSpec& s) {
  j = {{"kind", s.kind}};
  if (s.kind == "Linear") {
    j["in_features"] = s.in, j["out_features"] = s.out, j["bias"] = s.bias;
  } else if (is_conv(s)) {
    j["in_channels"] = s.in, j["out_channels"] = s.out, j["kernel_size"] = s.kernel_size;
    j["stride"] = s.stride, j["padding"] = s.padding, j["bias"] = s.bias;
    if (s.kind == "ConvTranspose2d") j["output_padding"] = s.output_padding;
  } else if (s.kind == "Flatten") {
    j["start_dim"] = 1, j["end_dim"] = -1;
  } else if (s.kind == "Unflatten") {
    j["dim"] = 1, j["unflattened_size"] = s.unflattened_size;
  } else if (s.kind == "ZeroPad2d") {
    j["padding"] = s.zero_pad;
  } else if (s.kind == "LeakyReLU") {
    j["negative_slope"] = s.negative_slope;
  }
}

void from_json(const nlohmann::json& j, LayerSpec& out) {
  ConfigReader r(j, "layer");
  LayerSpec s;
  s.kind = r.required<std::string>("kind");
  const std::vector<std::string>& kinds = layer_kinds();
  if (std::find(kinds.begin(), kinds.end(), s.kind) == kinds.end())
    r.fail_at("kind", "unknown layer kind '" + s.kind + "' (known: " + joined_names(kinds) + ")");
  // A PyTorch argument this engine has only at one value: refused at any other.
  auto only = [&](const char* key, int64_t supported, const std::string& why) {
    int64_t v = supported;
    if (r.read(key, v) && v != supported)
      r.fail_at(
          key, "only " + std::to_string(supported) + " is supported (" + why + "), got " + std::to_string(v));
  };
  if (s.kind == "Linear") {
    s.in = r.required<int64_t>("in_features");
    s.out = r.required<int64_t>("out_features");
    r.read("bias", s.bias);
  } else if (is_conv(s)) {
    s.in = r.required<int64_t>("in_channels");
    s.out = r.required<int64_t>("out_channels");
    s.kernel_size = r.required<int64_t>("kernel_size");
    r.read("stride", s.stride);
    r.read("padding", s.padding);
    if (s.kind == "ConvTranspose2d") r.read("output_padding", s.output_padding);
    r.read("bias", s.bias);
  } else if (s.kind == "Flatten") {
    only("start_dim", 1, "the batch axis stays");
    only("end_dim", -1, "everything after the batch axis is flattened");
  } else if (s.kind == "Unflatten") {
    if (!r.has("dim")) r.fail_at("dim", "required (1: the axis after the batch axis)");
    only("dim", 1, "the axis after the batch axis");
    s.unflattened_size = r.required<Shape>("unflattened_size");
  } else if (s.kind == "ZeroPad2d") {
    const nlohmann::json& p = r.at("padding");
    if (p.is_number_integer()) {
      s.zero_pad.fill(p.get<int64_t>());
    } else {
      const std::vector<int64_t> sides = r.required<std::vector<int64_t>>("padding");
      if (sides.size() != 4)
        r.fail_at("padding", "expected one integer or [left, right, top, bottom], got " + json_brief(p));
      std::copy(sides.begin(), sides.end(), s.zero_pad.begin());
    }
  } else if (s.kind == "LeakyReLU") {
    r.read("negative_slope", s.negative_slope);
  }
  r.done();
  out = s;
}

std::shared_ptr<Module> make_layer(const LayerSpec& s, Generator& gen, const LayerOptions& options) {
  LayerOptions o = options;
  o.bias = s.bias;
  if (s.kind == "Linear") return std::make_shared<Linear>(s.in, s.out, gen, o);
  if (s.kind == "Conv2d")
    return std::make_shared<Conv2d>(s.in, s.out, s.kernel_size, s.stride, s.padding, gen, o);
  if (s.kind == "ConvTranspose2d")
    return std::make_shared<ConvTranspose2d>(s.in, s.out, s.kernel_size, s.stride, s.padding,
                                             s.output_padding, gen, o);
  if (s.kind == "Flatten") return std::make_shared<Flatten>();
  if (s.kind == "Unflatten") return std::make_shared<Unflatten>(s.unflattened_size);
  if (s.kind == "ZeroPad2d")
    return std::make_shared<ZeroPad2d>(s.zero_pad[0], s.zero_pad[1], s.zero_pad[2], s.zero_pad[3]);
  GG_CHECK(!s.activation().empty(), "make_layer: unknown layer kind '" + s.kind + "'");
  return std::make_shared<Activation>(s.activation());
}

}  // namespace gg
