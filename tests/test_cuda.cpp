// The CUDA backend against the CPU's: every primitive in f64 (to a few ulp) and f32, on the same inputs.
// Each case needs a GPU; where none is visible it prints "GPU test skipped: ..." and CTest reports it as
// skipped. Autograd on the GPU (gradcheck, a contractive autoencoder) is in test_cuda_autograd.cpp.
#include "tests/device_helpers.h"
#include "tests/helpers.h"

using namespace gg;
using test::check_near;
using test::kGpu;
using test::rtol_of;

namespace {

const DType kTypes[] = {DType::f64, DType::f32};

// Uniform in [lo, hi) on the CPU, in dtype t, not requiring grad.
Tensor uniform(const Shape& s, uint64_t seed, DType t, double lo = -1, double hi = 1) {
  return cast(test::input(s, seed, lo, hi).detach(), t);
}

// Multiples of 1/4 in [-2, 2]: equal values on both sides make the comparisons' ties happen.
Tensor quarters(const Shape& s, uint64_t seed, DType t) {
  std::vector<double> v = test::input(s, seed, -8.5, 8.5).to_vector();
  for (double& x : v) x = std::round(x) / 4;
  return Tensor::from_data(v, s, t);
}

// Every primitive of the op lists, so a new one is tested here without a new line.
#define GG_UNARY_ENTRY(name) UnaryOp::name,
#define GG_BINARY_ENTRY(name) BinaryOp::name,
const UnaryOp kUnary[] = {GG_UNARY_OPS(GG_UNARY_ENTRY)};
const BinaryOp kBinary[] = {GG_BINARY_OPS(GG_BINARY_ENTRY)};
#undef GG_UNARY_ENTRY
#undef GG_BINARY_ENTRY

}  // namespace

TEST_CASE("cuda: every unary primitive matches the CPU") {
  if (!test::device_or_skip(kGpu)) return;
  for (DType t : kTypes) {
    // Negative inputs too: log and sqrt give NaN on both devices there.
    const Tensor x = uniform({1031}, 1, t, -3, 3), xg = x.to(kGpu);
    for (UnaryOp op : kUnary) {
      Tensor yc = Tensor::empty(x.shape(), t), yg = Tensor::empty(x.shape(), t, kGpu);
      backend_for(Device::cpu()).unary(op, t, x.numel(), x.raw(), yc.raw());
      backend_for(kGpu).unary(op, t, x.numel(), xg.raw(), yg.raw());
      check_near(yg, yc, rtol_of(t), rtol_of(t) * 1e-2, std::string(op_name(op)) + " " + dtype_name(t));
    }
  }
}

TEST_CASE("cuda: every binary primitive matches the CPU, broadcast on both sides") {
  if (!test::device_or_skip(kGpu)) return;
  for (DType t : kTypes) {
    const Tensor a = quarters({3, 1, 5}, 2, t), b = quarters({4, 5}, 3, t);
    const Tensor ag = a.to(kGpu), bg = b.to(kGpu);
    const Shape out{3, 4, 5};
    const Shape sa = broadcast_strides(a.shape(), out), sb = broadcast_strides(b.shape(), out);
    for (BinaryOp op : kBinary) {
      Tensor yc = Tensor::empty(out, t), yg = Tensor::empty(out, t, kGpu);
      backend_for(Device::cpu()).binary(op, t, out, a.raw(), sa, b.raw(), sb, yc.raw());
      backend_for(kGpu).binary(op, t, out, ag.raw(), sa, bg.raw(), sb, yg.raw());
      check_near(yg, yc, rtol_of(t), 0, std::string(op_name(op)) + " " + dtype_name(t));
    }
  }
}

TEST_CASE("cuda: where, fill, cast and strided copies match the CPU") {
  if (!test::device_or_skip(kGpu)) return;
  for (DType t : kTypes) {
    const Tensor c = gt(uniform({4, 1}, 4, t), Tensor::scalar(0, t)), a = uniform({4, 6}, 5, t),
                 b = uniform({6}, 6, t);
    check_near(where(c.to(kGpu), a.to(kGpu), b.to(kGpu)), where(c, a, b), 0, 0, "where");
    check_near(Tensor::full({7, 3}, 0.1, t, kGpu), Tensor::full({7, 3}, 0.1, t), 0, 0, "fill");
    const DType other = t == DType::f64 ? DType::f32 : DType::f64;
    check_near(cast(a.to(kGpu), other), cast(a, other), 0, 0, "cast");
    // Movement ops materialise through copy_strided: a rank-6 permutation, a stepped slice, padding.
    const Tensor x = uniform({2, 3, 1, 4, 2, 3}, 7, t), xg = x.to(kGpu);
    check_near(permute(xg, {5, 3, 0, 4, 1, 2}), permute(x, {5, 3, 0, 4, 1, 2}), 0, 0, "permute");
    check_near(slice(xg, 3, 1, 4, 2), slice(x, 3, 1, 4, 2), 0, 0, "slice");
    check_near(pad(xg, 1, 2, 1), pad(x, 1, 2, 1), 0, 0, "pad");
    check_near(concat({xg, xg}, 4), concat({x, x}, 4), 0, 0, "concat");
  }
}

TEST_CASE("cuda: copy_strided refuses more than eight unmergeable axes by name") {
  if (!test::device_or_skip(kGpu)) return;
  const Tensor x = Tensor::zeros(Shape(10, 2), DType::f32, kGpu);
  std::vector<int64_t> reversed(10);
  for (int64_t i = 0; i < 10; ++i) reversed[i] = 9 - i;
  CHECK_THROWS_WITH_AS(permute(x, reversed), doctest::Contains("more than 8 axes"), Error);
}

TEST_CASE("cuda: sum and max over any axes match the CPU, the same bits run to run") {
  if (!test::device_or_skip(kGpu)) return;
  const std::vector<std::vector<int64_t>> axes = {{}, {0}, {1}, {3}, {0, 2}, {1, 3}, {0, 1, 2, 3}};
  for (DType t : kTypes) {
    const Tensor x = uniform({3, 4, 5, 6}, 8, t), xg = x.to(kGpu);
    for (const auto& ax : axes) {
      check_near(sum(xg, ax), sum(x, ax), rtol_of(t), rtol_of(t) * 360, "sum");
      check_near(max(xg, ax), max(x, ax), 0, 0, "max");
    }
    // Long rows (a block per output), rows longer than a block's piece (two passes), many short ones (a
    // thread per output).
    for (const Shape& s : {Shape{40, 3000}, Shape{3, 100000}, Shape{70000, 3}}) {
      const Tensor y = uniform(s, 9, t), yg = y.to(kGpu);
      for (int64_t axis : {0, 1}) {
        const double atol = rtol_of(t) * double(s[axis]);
        check_near(sum(yg, {axis}), sum(y, {axis}), rtol_of(t), atol, "sum long/short");
        check_near(max(yg, {axis}), max(y, {axis}), 0, 0, "max long/short");
        check_near(sum(yg, {axis}), sum(yg, {axis}), 0, 0, "sum is deterministic");
      }
    }
    // NaN wins max on both devices.
    const Tensor n = Tensor::from_data({1, NAN, 3, 4}, {2, 2}, t);
    check_near(max(n.to(kGpu), {1}), max(n, {1}), 0, 0, "max with NaN");
  }
}

TEST_CASE("cuda: matmul through cuBLAS matches the CPU for every transpose flag and batch layout") {
  if (!test::device_or_skip(kGpu)) return;
  struct Case {
    Shape a, b;
    bool ta, tb;
  };
  const std::vector<Case> cases = {
      {{33, 17}, {17, 65}, false, false}, {{17, 33}, {17, 65}, true, false},
      {{33, 17}, {65, 17}, false, true},  {{17, 33}, {65, 17}, true, true},
      {{4, 3, 5}, {5, 6}, false, false},      // a batch of row blocks times one matrix: one tall product
      {{4, 5, 3}, {6, 5}, true, true},        // the same with flags: a strided batch with B's stride 0
      {{4, 3, 5}, {4, 5, 6}, false, false},   // strided batch
      {{3, 5}, {4, 5, 6}, false, false},      // one matrix times a batch
      {{2, 1, 3, 4}, {3, 4, 2}, false, false},  // broadcast batches that do not collapse: per-matrix products
      {{2, 3, 0}, {0, 4}, false, false},        // an empty contraction
  };
  for (DType t : kTypes)
    for (const Case& c : cases) {
      const Tensor a = uniform(c.a, 10, t), b = uniform(c.b, 11, t);
      const Tensor want = matmul(a, b, c.ta, c.tb), got = matmul(a.to(kGpu), b.to(kGpu), c.ta, c.tb);
      check_near(got, want, rtol_of(t), rtol_of(t) * 20, "matmul " + shape_str(c.a) + " " + shape_str(c.b));
    }
}

TEST_CASE("cuda: im2col, col2im and the convolutions match the CPU") {
  if (!test::device_or_skip(kGpu)) return;
  for (DType t : kTypes) {
    const Tensor x = uniform({2, 3, 7, 6}, 12, t), xg = x.to(kGpu);
    for (auto [k, s, p] : {std::tuple{3, 1, 1}, {3, 2, 1}, {2, 2, 0}, {5, 3, 2}}) {
      const std::string what = "k" + std::to_string(k) + " s" + std::to_string(s) + " p" + std::to_string(p);
      const Tensor cols = im2col(x, k, k, s, p);
      check_near(im2col(xg, k, k, s, p), cols, 0, 0, "im2col " + what);
      // col2im adds in the CPU's order, so it is exact too.
      check_near(col2im(cols.to(kGpu), x.shape(), k, k, s, p), col2im(cols, x.shape(), k, k, s, p), 0, 0,
                 "col2im " + what);
    }
    const Tensor w = uniform({4, 3, 3, 3}, 13, t), bias = uniform({4}, 14, t);
    check_near(conv2d(xg, w.to(kGpu), bias.to(kGpu), 2, 1), conv2d(x, w, bias, 2, 1), rtol_of(t), rtol_of(t) * 30,
               "conv2d");
    const Tensor wt = uniform({3, 2, 3, 3}, 15, t), bt = uniform({2}, 16, t);
    check_near(conv_transpose2d(xg, wt.to(kGpu), bt.to(kGpu), 2, 1, 1), conv_transpose2d(x, wt, bt, 2, 1, 1),
               rtol_of(t), rtol_of(t) * 30, "conv_transpose2d");
  }
}

TEST_CASE("cuda: random draws equal the CPU's for the same seed and offset") {
  if (!test::device_or_skip(kGpu)) return;
  for (DType t : kTypes) {
    Generator on_cpu(42), on_gpu(42);
    check_near(Tensor::rand({1000}, on_gpu, t, kGpu), Tensor::rand({1000}, on_cpu, t), 0, 0, "uniform");
    // Normal draws go through log, cos and sqrt, whose last bit may differ between libm and CUDA's (and an
    // f64 draw one ulp apart can round to neighbouring f32 values).
    const double ulps = t == DType::f64 ? 1e-15 : 2.5e-7;
    check_near(Tensor::randn({1000}, on_gpu, t, kGpu), Tensor::randn({1000}, on_cpu, t), ulps, 1e-15, "normal");
  }
}

TEST_CASE("cuda: the fused Adam step matches the CPU's") {
  if (!test::device_or_skip(kGpu)) return;
  for (DType t : kTypes)
    for (bool decoupled : {false, true}) {
      Tensor p = uniform({257}, 17, t), m = Tensor::zeros({257}, t), v = Tensor::zeros({257}, t);
      Tensor pg = p.to(kGpu), mg = m.to(kGpu), vg = v.to(kGpu);
      for (int step = 1; step <= 3; ++step) {
        const Tensor g = uniform({257}, 18 + step, t), g_gpu = g.to(kGpu);
        const double b1 = 0.9, b2 = 0.999, bias1 = 1 - std::pow(b1, step), bias2 = 1 - std::pow(b2, step);
        backend_for(Device::cpu()).adam_update(t, 257, p.raw(), g.raw(), m.raw(), v.raw(), 1e-2, b1, b2, 1e-8,
                                               0.01, decoupled, bias1, bias2);
        REQUIRE(backend_for(kGpu).adam_update(t, 257, pg.raw(), g_gpu.raw(), mg.raw(), vg.raw(), 1e-2, b1, b2,
                                              1e-8, 0.01, decoupled, bias1, bias2));
      }
      check_near(pg, p, rtol_of(t), rtol_of(t) * 1e-2, "adam p");
      check_near(mg, m, rtol_of(t), rtol_of(t) * 1e-2, "adam m");
      check_near(vg, v, rtol_of(t), rtol_of(t) * 1e-4, "adam v");
    }
}
