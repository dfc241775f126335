#include "models/init.h"

#include <cmath>
#include <utility>

namespace gg {

namespace {

// Every accepted name with its scheme; canonical names first, each before its aliases.
const std::vector<std::pair<std::string, InitScheme>>& name_table() {
  static const std::vector<std::pair<std::string, InitScheme>> table = {
      {"torch_default", InitScheme::torch_default},
      {"xavier_uniform", InitScheme::xavier_uniform},
      {"xavier_normal", InitScheme::xavier_normal},
      {"kaiming_uniform", InitScheme::kaiming_uniform},
      {"kaiming_normal", InitScheme::kaiming_normal},
      {"lecun_normal", InitScheme::lecun_normal},
      {"zeros", InitScheme::zeros},
      {"glorot_uniform", InitScheme::xavier_uniform},
      {"glorot_normal", InitScheme::xavier_normal},
      {"he_uniform", InitScheme::kaiming_uniform},
      {"he_normal", InitScheme::kaiming_normal},
  };
  return table;
}

// U(-bound, bound) or N(0, std^2), drawn in f64 on `device` and cast to dtype.
Tensor uniform(const Shape& shape, double bound, Generator& gen, DType dtype, Device device) {
  return ((Tensor::rand(shape, gen, DType::f64, device) * 2.0 - 1.0) * bound).to(dtype);
}
Tensor normal(const Shape& shape, double std, Generator& gen, DType dtype, Device device) {
  return (Tensor::randn(shape, gen, DType::f64, device) * std).to(dtype);
}

}  // namespace

const std::vector<std::string>& init_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (const auto& [name, scheme] : name_table()) n.push_back(name);
    return n;
  }();
  return names;
}

Init parse_init(const std::string& name) {
  for (const auto& [n, scheme] : name_table()) {
    if (n != name) continue;
    const bool kaiming = scheme == InitScheme::kaiming_uniform || scheme == InitScheme::kaiming_normal;
    return Init{scheme, kaiming ? std::sqrt(2.0) : 1.0};
  }
  fail("unknown initializer '" + name + "' (valid: " + joined_names(init_names()) + ")");
}

std::string init_name(InitScheme scheme) {
  for (const auto& [n, s] : name_table())
    if (s == scheme) return n;
  fail("init_name: unknown scheme");
}

Fans compute_fans(const Shape& s) {
  GG_CHECK(s.size() >= 2, "compute_fans: weight shape " + shape_str(s) + " needs rank >= 2");
  const int64_t receptive = shape_numel(Shape(s.begin() + 2, s.end()));
  return {s[1] * receptive, s[0] * receptive};
}

Tensor init_weight(const Shape& shape, const Init& init, Generator& gen, DType dtype, Device device) {
  NoGradGuard no_grad;
  const Fans f = compute_fans(shape);
  GG_CHECK(f.in > 0 && f.out > 0, "init_weight: weight shape " + shape_str(shape) + " has an empty fan");
  const double fan_in = double(f.in), fan_sum = double(f.in + f.out);
  switch (init.scheme) {
    case InitScheme::torch_default:
      return uniform(shape, 1.0 / std::sqrt(fan_in), gen, dtype, device);
    case InitScheme::xavier_uniform:
      return uniform(shape, init.gain * std::sqrt(6.0 / fan_sum), gen, dtype, device);
    case InitScheme::xavier_normal:
      return normal(shape, init.gain * std::sqrt(2.0 / fan_sum), gen, dtype, device);
    case InitScheme::kaiming_uniform:
      return uniform(shape, init.gain * std::sqrt(3.0 / fan_in), gen, dtype, device);
    case InitScheme::kaiming_normal:
      return normal(shape, init.gain / std::sqrt(fan_in), gen, dtype, device);
    case InitScheme::lecun_normal:
      return normal(shape, 1.0 / std::sqrt(fan_in), gen, dtype, device);
    case InitScheme::zeros:
      return Tensor::zeros(shape, dtype, device);
  }
  fail("init_weight: unknown scheme");
}

Tensor init_bias(int64_t n, const Fans& fans, const Init& init, Generator& gen, DType dtype, Device device) {
  NoGradGuard no_grad;
  if (init.scheme == InitScheme::torch_default)
    return uniform({n}, 1.0 / std::sqrt(double(fans.in)), gen, dtype, device);
  return Tensor::zeros({n}, dtype, device);
}

}  // namespace gg
