// Tensors: storage sharing, movement ops' values, broadcasting, random draws, and shape/dtype errors.
#include "engine/backend/backend.h"
#include "tests/helpers.h"

using namespace gg;
using gg::test::check_values;

TEST_CASE("reshape and detach share storage, permute, slice and concat copy the right elements") {
  Tensor x = Tensor::arange(6).reshape({2, 3});
  Tensor r = x.reshape({3, 2});
  CHECK(r.impl()->storage == x.impl()->storage);
  CHECK(x.detach().impl()->storage == x.impl()->storage);
  check_values(transpose(x), {0, 3, 1, 4, 2, 5});
  check_values(slice(x, 1, 0, 3, 2), {0, 2, 3, 5});
  check_values(concat({x, x}, 0).reshape({-1}), {0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5});
  check_values(pad(slice(x, 0, 1, 2), 1, 1, 0), {0, 3, 4, 5});
  CHECK(x.at({1, 2}) == 5.0);
  check_values(eye(2, DType::f64), {1, 0, 0, 1});
}

TEST_CASE("binary ops broadcast by NumPy rules") {
  Tensor a = Tensor::from_data({1, 2, 3}, {3, 1});
  Tensor b = Tensor::from_data({10, 20}, {2});
  Tensor c = a + b;
  CHECK(c.shape() == Shape{3, 2});
  check_values(c, {11, 21, 12, 22, 13, 23});
  check_values(sum(c, {0}), {36, 66});
  check_values(max(c, {1}, true), {21, 22, 23});
  check_values(gt(c, Tensor::scalar(15)), {0, 1, 0, 1, 0, 1});
}

TEST_CASE("matmul agrees with a hand product for every transpose flag and a broadcast batch") {
  Tensor a = Tensor::from_data({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = Tensor::from_data({1, 0, 2, 1, 0, 3}, {3, 2});
  check_values(matmul(a, b), {5, 11, 14, 23});
  check_values(matmul(transpose(a), transpose(b), true, true), {5, 11, 14, 23});
  check_values(matmul(a, transpose(b), false, true), {5, 11, 14, 23});
  Tensor batch = concat({a.reshape({1, 2, 3}), (a * 2.0).reshape({1, 2, 3})}, 0);
  check_values(matmul(batch, b), {5, 11, 14, 23, 10, 22, 28, 46});
}

TEST_CASE("convolutions match a hand computation") {
  // 1x1x3x3 image, 2x2 all-ones kernel, stride 1: each output is the sum of a 2x2 window.
  Tensor x = Tensor::arange(9).reshape({1, 1, 3, 3});
  Tensor w = Tensor::ones({1, 1, 2, 2});
  check_values(conv2d(x, w), {8, 12, 20, 24});
  // The transposed convolution spreads each input over a 2x2 window.
  Tensor y = conv_transpose2d(Tensor::ones({1, 1, 2, 2}), w);
  check_values(y, {1, 2, 1, 2, 4, 2, 1, 2, 1});
}

TEST_CASE("random draws are fixed by the seed and have the right moments") {
  Generator g1(42), g2(42);
  Tensor a = Tensor::randn({20000}, g1), b = Tensor::randn({20000}, g2);
  CHECK(gg::test::max_abs_diff(a, b) == 0.0);
  Tensor c = Tensor::randn({20000}, g1);  // the generator advanced: a different draw
  CHECK(gg::test::max_abs_diff(a, c) > 0.1);
  CHECK(mean(a).item() == doctest::Approx(0.0).epsilon(0.03));
  CHECK(var(a).item() == doctest::Approx(1.0).epsilon(0.03));
  Tensor u = Tensor::rand({20000}, g1, DType::f64);
  CHECK(mean(u).item() == doctest::Approx(0.5).epsilon(0.01));
  CHECK(max(u).item() < 1.0);
  CHECK(-max(-u).item() >= 0.0);
  Generator zero(0);  // seed 0's first draw once hit the hash's fixed point and came out exactly 0
  CHECK(-max(-Tensor::rand({64}, zero, DType::f64)).item() > 1e-6);
}

TEST_CASE("f32 and f64 give the same results up to rounding") {
  Generator g(3);
  Tensor x = Tensor::randn({8, 5}, g, DType::f64);
  Tensor w = Tensor::randn({4, 5}, g, DType::f64);
  Tensor y64 = tanh(linear(x, w));
  Tensor y32 = tanh(linear(x.to(DType::f32), w.to(DType::f32)));
  CHECK(y32.dtype() == DType::f32);
  CHECK(gg::test::max_abs_diff(y64, y32) < 1e-5);
}

TEST_CASE("mismatched shapes, dtypes and devices are refused with the op and the shapes named") {
  Tensor a = Tensor::zeros({2, 3}), b = Tensor::zeros({4});
  CHECK_THROWS_WITH_AS(a + b, doctest::Contains("add: shapes [2,3] and [4] cannot be broadcast"), Error);
  CHECK_THROWS_WITH_AS(matmul(a, Tensor::zeros({2, 3})), doctest::Contains("matmul: inner dimensions differ: [2,3] @ [2,3]"),
                       Error);
  CHECK_THROWS_WITH_AS(a * Tensor::zeros({2, 3}, DType::f64), doctest::Contains("mul: dtype mismatch between f32[2,3] and f64[2,3]"),
                       Error);
  CHECK_THROWS_WITH_AS(a.reshape({4, 2}), doctest::Contains("reshape: cannot reshape f32[2,3] to [4,2]"), Error);
  CHECK_THROWS_WITH_AS(sum(a, {2}), doctest::Contains("sum: axis 2 out of range for rank 2"), Error);
  CHECK_THROWS_WITH_AS(conv2d(Tensor::zeros({1, 2, 4, 4}), Tensor::zeros({3, 1, 2, 2})), doctest::Contains("conv2d"), Error);
  // Without a CUDA backend (or a GPU) a CUDA tensor is refused by name; the device check in every op names both.
  if (!has_backend(Device::cuda()))
    CHECK_THROWS_WITH_AS(Tensor::zeros({2}, DType::f32, Device::cuda()), doctest::Contains("cuda:0"), Error);
  Tensor fake = Tensor::zeros({2, 3});
  auto impl = std::make_shared<TensorImpl>(*fake.impl());
  impl->storage = std::shared_ptr<Storage>(fake.impl()->storage, fake.impl()->storage.get());
  Tensor other(impl);
  Device saved = other.impl()->storage->device;
  other.impl()->storage->device = Device::cuda();  // pretend, to reach the device check
  CHECK_THROWS_WITH_AS(a + other, doctest::Contains("add: device mismatch between f32[2,3] on cpu and f32[2,3] on cuda:0"),
                       Error);
  other.impl()->storage->device = saved;
}

TEST_CASE("softmax in one pass per row matches the softmax computed in long double, with large and equal entries") {
  const std::vector<double> v{1000.0, 999.0, -5.0, 0.0, 0.0, 0.0, 0.0, 0.0, -1e4, 3.0, 2.0, 1.0};
  std::vector<double> expect(v.size());
  for (size_t r = 0; r < 3; ++r) {
    long double top = v[4 * r], total = 0;
    for (size_t j = 0; j < 4; ++j) top = std::max<long double>(top, v[4 * r + j]);
    for (size_t j = 0; j < 4; ++j) total += std::exp((long double)v[4 * r + j] - top);
    for (size_t j = 0; j < 4; ++j) expect[4 * r + j] = double(std::exp((long double)v[4 * r + j] - top) / total);
  }
  for (DType t : {DType::f64, DType::f32}) {
    CAPTURE(dtype_name(t));
    const Tensor fused = softmax(Tensor::from_data(v, {3, 4}, t), -1);
    CHECK(gg::test::max_abs_diff(fused, Tensor::from_data(expect, {3, 4}, t)) < (t == DType::f64 ? 1e-15 : 1e-7));
    CHECK(fused.to_vector()[4] == 0.25);  // four equal entries
  }
}

TEST_CASE("softmax of a row holding a NaN is NaN across that row only") {
  const Tensor x = Tensor::from_data({1.0, std::nan(""), 2.0, 0.5, 1.5, 2.5}, {2, 3}, DType::f32);
  const std::vector<double> y = softmax(x, -1).to_vector();
  for (int i = 0; i < 3; ++i) CHECK(std::isnan(y[i]));
  for (int i = 3; i < 6; ++i) CHECK(std::isfinite(y[i]));
}
