// Shared helpers for the tests: seeded f64 inputs, tolerance checks and a scratch folder.
#pragma once

#include <doctest/doctest.h>

#include <stdlib.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "engine/gradgrad.h"

namespace gg::test {

// Uniform in [lo, hi), optionally pushed away from zero by `gap` (keeps kinks such as relu's out of reach
// of the finite differences), as an f64 leaf that requires grad.
inline Tensor input(const Shape& shape, uint64_t seed, double lo = -1.0, double hi = 1.0, double gap = 0.0) {
  Generator gen(seed);
  std::vector<double> v = Tensor::rand(shape, gen, DType::f64).to_vector();
  for (double& x : v) {
    x = lo + (hi - lo) * x;
    if (gap > 0 && std::abs(x) < gap) x = x < 0 ? x - gap : x + gap;
  }
  return Tensor::from_data(v, shape, DType::f64).requires_grad_();
}

inline double max_abs(const Tensor& t) {
  double m = 0;
  for (double v : t.to_vector()) m = std::max(m, std::abs(v));
  return m;
}

inline double max_abs_diff(const Tensor& a, const Tensor& b) {
  REQUIRE(a.numel() == b.numel());
  auto x = a.to_vector(), y = b.to_vector();
  double m = 0;
  for (size_t i = 0; i < x.size(); ++i) m = std::max(m, std::abs(x[i] - y[i]));
  return m;
}

inline void check_values(const Tensor& t, const std::vector<double>& expect, double tol = 1e-6) {
  auto v = t.to_vector();
  REQUIRE(v.size() == expect.size());
  for (size_t i = 0; i < v.size(); ++i) CHECK(v[i] == doctest::Approx(expect[i]).epsilon(tol));
}

// A fresh folder under the system's temporary directory, removed with everything in it at scope exit.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "gg_test_XXXXXX").string();
    REQUIRE(mkdtemp(pattern.data()) != nullptr);
    path = pattern;
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
};

// Writes `bytes` to `path` as they are: the test's own input files, good or corrupt.
inline void write_bytes(const std::string& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}
inline void write_bytes(const std::string& path, const std::vector<unsigned char>& bytes) {
  write_bytes(path, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

// The bytes of a file the test wrote (empty when it cannot be read; the library's readers are what is tested).
inline std::vector<unsigned char> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The exact Jacobian penalty sum ||dz/dx||^2 of a two-layer conv net, recorded for a double backward: x
// [batch, 1, 16, 16] -> conv 32 -> relu -> conv 16 -> relu -> z [batch, 256] (3 x 3, stride 2, padding 1),
// by one batched pass with 256 one-hot cotangents, so the first layer's cotangents are [256, batch, 32, 8,
// 8]. In f64, weights drawn from `gen`.
struct ConvPenalty {
  Tensor x, w1, w2, penalty;
};
inline ConvPenalty conv_penalty(Generator& gen, int64_t batch) {
  ConvPenalty c;
  c.x = Tensor::rand({batch, 1, 16, 16}, gen, DType::f64).requires_grad_();
  c.w1 = (Tensor::randn({32, 1, 3, 3}, gen, DType::f64) * 0.3).requires_grad_();
  c.w2 = (Tensor::randn({16, 32, 3, 3}, gen, DType::f64) * 0.1).requires_grad_();
  const Tensor z = flatten(relu(conv2d(relu(conv2d(c.x, c.w1, {}, 2, 1)), c.w2, {}, 2, 1)));
  const int64_t m = z.size(1);
  const Tensor cotangents = expand(reshape(eye(m, DType::f64), {m, 1, m}), {m, batch, m}).clone();
  GradOptions batched;
  batched.create_graph = true;
  batched.batch_axes = 1;
  c.penalty = sum(square(grad(z, c.x, cotangents, batched)));
  return c;
}

}  // namespace gg::test
