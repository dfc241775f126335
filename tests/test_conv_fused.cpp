// The three convolution primitives (conv2d, conv_transpose2d, conv2d_weight_grad) against a direct loop over
// their defining sums, on shapes that make the CPU's fused kernels (engine/backend/cpu/conv.cpp) cut the
// batch into chunks of several samples with a short last one, with leading cotangent axes on either operand
// or both (a shared operand has stride 0), and the weight gradient summed in several runs. The composites
// of im2col, matmul and col2im that a backend without fused kernels runs (the GPU's) are checked the same
// way here on the CPU.
#include "engine/ops/op_helpers.h"
#include "tests/helpers.h"

using namespace gg;
using gg::test::input;

namespace {

struct Geometry {
  int64_t n, c, h, w, o, k, stride, pad;
  int64_t oh() const { return (h + 2 * pad - k) / stride + 1; }
  int64_t ow() const { return (w + 2 * pad - k) / stride + 1; }
};

// Calls f(n, o, c, oy, ox, i, j, pixel) for every term w[o,c,i,j] x[n,c,pixel] y[n,o,oy,ox] of the sums,
// pixel being the flat index of x[n, c] that the kernel tap (i, j) of output (oy, ox) reads.
template <class F>
void for_each_term(const Geometry& g, F&& f) {
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t o = 0; o < g.o; ++o)
      for (int64_t c = 0; c < g.c; ++c)
        for (int64_t oy = 0; oy < g.oh(); ++oy)
          for (int64_t ox = 0; ox < g.ow(); ++ox)
            for (int64_t i = 0; i < g.k; ++i)
              for (int64_t j = 0; j < g.k; ++j) {
                const int64_t y = oy * g.stride - g.pad + i, x = ox * g.stride - g.pad + j;
                if (y >= 0 && y < g.h && x >= 0 && x < g.w) f(n, o, c, oy, ox, i, j, y * g.w + x);
              }
}

// One lead entry of each operand: entry e of an operand with `entries` entries (1: shared).
std::vector<double> entry(const std::vector<double>& v, int64_t entries, int64_t e) {
  if (entries == 1) return v;
  const int64_t size = int64_t(v.size()) / entries;
  return std::vector<double>(v.begin() + e * size, v.begin() + (e + 1) * size);
}

std::vector<double> direct_conv(const Geometry& g, const std::vector<double>& x,
                                const std::vector<double>& w) {
  std::vector<double> y(g.n * g.o * g.oh() * g.ow(), 0.0);
  for_each_term(
      g, [&](int64_t n, int64_t o, int64_t c, int64_t oy, int64_t ox, int64_t i, int64_t j, int64_t px) {
        y[((n * g.o + o) * g.oh() + oy) * g.ow() + ox] +=
            w[((o * g.c + c) * g.k + i) * g.k + j] * x[(n * g.c + c) * g.h * g.w + px];
      });
  return y;
}

std::vector<double> direct_transpose(const Geometry& g, const std::vector<double>& y,
                                     const std::vector<double>& w) {
  std::vector<double> x(g.n * g.c * g.h * g.w, 0.0);
  for_each_term(
      g, [&](int64_t n, int64_t o, int64_t c, int64_t oy, int64_t ox, int64_t i, int64_t j, int64_t px) {
        x[(n * g.c + c) * g.h * g.w + px] +=
            w[((o * g.c + c) * g.k + i) * g.k + j] * y[((n * g.o + o) * g.oh() + oy) * g.ow() + ox];
      });
  return x;
}

std::vector<double> direct_weight_grad(const Geometry& g, const std::vector<double>& y,
                                       const std::vector<double>& x) {
  std::vector<double> w(g.o * g.c * g.k * g.k, 0.0);
  for_each_term(
      g, [&](int64_t n, int64_t o, int64_t c, int64_t oy, int64_t ox, int64_t i, int64_t j, int64_t px) {
        w[((o * g.c + c) * g.k + i) * g.k + j] +=
            y[((n * g.o + o) * g.oh() + oy) * g.ow() + ox] * x[(n * g.c + c) * g.h * g.w + px];
      });
  return w;
}

// The operand's shape with `entries` leading entries ([] for 0: no leading axis).
Shape led(int64_t entries, Shape core) {
  if (entries > 0) core.insert(core.begin(), entries);
  return core;
}

// Runs one primitive on operands with a, b leading entries (0: none) and checks every entry of the result
// against `direct` on the matching entries of the operands.
void check_primitive(
    const char* what, const Geometry& g, int64_t a_entries, int64_t b_entries, const Shape& a_core,
    const Shape& b_core, const std::function<Tensor(const Tensor&, const Tensor&)>& op,
    const std::function<std::vector<double>(const std::vector<double>&, const std::vector<double>&)>& direct,
    DType dtype = DType::f64) {
  CAPTURE(what);
  CAPTURE(a_entries);
  CAPTURE(b_entries);
  const Tensor a = cast(input(led(a_entries, a_core), 31).detach(), dtype);
  const Tensor b = cast(input(led(b_entries, b_core), 32).detach(), dtype);
  const Tensor out = cast(op(a, b), DType::f64);
  const int64_t entries = std::max<int64_t>({a_entries, b_entries, 1});
  const std::vector<double> av = cast(a, DType::f64).to_vector(), bv = cast(b, DType::f64).to_vector();
  const std::vector<double> got = out.to_vector();
  const int64_t per_entry = int64_t(got.size()) / entries;
  double worst = 0, scale = 0;
  for (int64_t e = 0; e < entries; ++e) {
    const std::vector<double> want =
        direct(entry(av, std::max<int64_t>(a_entries, 1), e), entry(bv, std::max<int64_t>(b_entries, 1), e));
    REQUIRE(int64_t(want.size()) == per_entry);
    for (int64_t i = 0; i < per_entry; ++i) {
      worst = std::max(worst, std::abs(got[e * per_entry + i] - want[i]));
      scale = std::max(scale, std::abs(want[i]));
    }
  }
  CHECK(scale > 0.1);
  CHECK(worst <= (dtype == DType::f64 ? 1e-12 : 1e-5) * scale);
}

// Batches of 7 and 13 samples: on two threads the fused kernels cut them into chunks of 2 (the last 1) and 4
// (the last 1); with leading entries, into fewer chunks per entry.
const std::vector<Geometry> kGeometries = {
    {7, 3, 10, 10, 5, 3, 2, 1},  // stride 2, padding 1: Table 3's layers
    {13, 2, 6, 7, 4, 3, 1, 0},   // stride 1, no padding
    {5, 4, 5, 5, 3, 2, 2, 0},    // an even kernel
};

}  // namespace

TEST_CASE(
    "conv2d, conv_transpose2d and conv2d_weight_grad equal their defining sums, fused and as composites, "
    "with leading axes on either operand, the other shared") {
  for (const bool composite : {false, true}) {
    CAPTURE(composite);
    for (const Geometry& g : kGeometries) {
      CAPTURE(g.n);
      const Shape image{g.n, g.c, g.h, g.w}, weight{g.o, g.c, g.k, g.k}, output{g.n, g.o, g.oh(), g.ow()};
      // output_padding brings the transposed size back to g.h x g.w where the stride drops a row
      const int64_t out_pad = g.h - ((g.oh() - 1) * g.stride - 2 * g.pad + g.k);
      for (auto [a, b] : std::vector<std::pair<int64_t, int64_t>>{{0, 0}, {3, 0}, {0, 3}, {2, 2}, {5, 0}}) {
        check_primitive(
            "conv2d", g, a, b, image, weight,
            [&](const Tensor& x, const Tensor& w) {
              return composite ? detail::conv2d_by_columns(x, w, g.stride, g.pad)
                               : conv2d(x, w, {}, g.stride, g.pad);
            },
            [&](const auto& x, const auto& w) { return direct_conv(g, x, w); });
        check_primitive(
            "conv_transpose2d", g, a, b, output, weight,
            [&](const Tensor& y, const Tensor& w) {
              return composite ? detail::conv_transpose2d_by_columns(y, w, g.h, g.w, g.stride, g.pad)
                               : conv_transpose2d(y, w, {}, g.stride, g.pad, out_pad);
            },
            [&](const auto& y, const auto& w) { return direct_transpose(g, y, w); });
        check_primitive(
            "weight_grad", g, a, b, output, image,
            [&](const Tensor& y, const Tensor& x) {
              return composite ? detail::conv2d_weight_grad_by_columns(y, x, g.k, g.k, g.stride, g.pad)
                               : conv2d_weight_grad(y, x, g.k, g.k, g.stride, g.pad);
            },
            [&](const auto& y, const auto& x) { return direct_weight_grad(g, y, x); });
      }
    }
  }
}

TEST_CASE("the fused convolutions in f32 agree with the f64 sums to f32 rounding") {
  const Geometry g = kGeometries[0];
  const Shape image{g.n, g.c, g.h, g.w}, weight{g.o, g.c, g.k, g.k}, output{g.n, g.o, g.oh(), g.ow()};
  check_primitive(
      "conv2d", g, 2, 0, image, weight,
      [&](const Tensor& x, const Tensor& w) { return conv2d(x, w, {}, g.stride, g.pad); },
      [&](const auto& x, const auto& w) { return direct_conv(g, x, w); }, DType::f32);
  check_primitive(
      "weight_grad", g, 2, 2, output, image,
      [&](const Tensor& y, const Tensor& x) { return conv2d_weight_grad(y, x, g.k, g.k, g.stride, g.pad); },
      [&](const auto& y, const auto& x) { return direct_weight_grad(g, y, x); }, DType::f32);
}

TEST_CASE("conv2d_weight_grad and conv_transpose2d name the op and the shapes that do not fit") {
  const Tensor y = Tensor::zeros({2, 4, 3, 3}), x = Tensor::zeros({2, 3, 8, 8});
  CHECK_THROWS_WITH_AS(conv2d_weight_grad(y, x, 3, 3, 2, 1),
                       doctest::Contains("conv2d_weight_grad: output side"), Error);
  CHECK_THROWS_WITH_AS(conv2d_weight_grad(y, Tensor::zeros({3, 3, 5, 5}), 3, 3, 2, 1),
                       doctest::Contains("conv2d_weight_grad"), Error);
  CHECK_THROWS_WITH_AS(conv_transpose2d(y, Tensor::zeros({3, 2, 3, 3})),
                       doctest::Contains("conv_transpose2d"), Error);
  // stride 1, padding 2 and a 3x3 kernel would take a 1x1 input to a -1x-1 output
  CHECK_THROWS_WITH_AS(conv_transpose2d(Tensor::zeros({1, 1, 1, 1}), Tensor::zeros({1, 1, 3, 3}), {}, 1, 2),
                       doctest::Contains("give an output of -1x-1"), Error);
}

TEST_CASE("a backward pass with two cotangent axes through conv2d and conv_transpose2d gives each cotangent's "
          "gradients, the weights' included") {
  const Tensor x = input({3, 2, 6, 6}, 51), w = input({4, 2, 3, 3}, 52), wt = input({4, 3, 3, 3}, 53);
  const Tensor y = conv_transpose2d(conv2d(x, w, {}, 2, 1), wt, {}, 2, 1, 1);  // [3, 3, 6, 6]
  const Tensor u = input({2, 3, 3, 3, 6, 6}, 54).detach();                      // two cotangent axes
  GradOptions o;
  o.batch_axes = 2;
  o.retain_graph = true;
  const std::vector<Tensor> batched = grad({y}, {x, w, wt}, {u}, o);
  CHECK(batched[1].shape() == Shape{2, 3, 4, 2, 3, 3});
  CHECK(batched[2].shape() == Shape{2, 3, 4, 3, 3, 3});
  for (int64_t a = 0; a < 2; ++a)
    for (int64_t b = 0; b < 3; ++b) {
      CAPTURE(a);
      CAPTURE(b);
      GradOptions keep;
      keep.retain_graph = true;
      const Tensor ub = reshape(slice(slice(u, 0, a, a + 1), 1, b, b + 1), {3, 3, 6, 6});
      const std::vector<Tensor> one = grad({y}, {x, w, wt}, {ub}, keep);
      for (size_t k = 0; k < 3; ++k) {
        const Tensor part = reshape(slice(slice(batched[k], 0, a, a + 1), 1, b, b + 1), one[k].shape());
        CHECK(gg::test::max_abs_diff(part, one[k]) < 1e-12);
      }
    }
}

TEST_CASE("convolutions of an empty batch are empty, and the weight gradient over no samples is zero") {
  const Tensor x = Tensor::zeros({0, 2, 5, 5}, DType::f64), w = input({3, 2, 3, 3}, 55).detach();
  CHECK(conv2d(x, w, {}, 2, 1).shape() == Shape{0, 3, 3, 3});
  CHECK(conv_transpose2d(Tensor::zeros({0, 3, 3, 3}, DType::f64), w, {}, 2, 1, 0).shape() == Shape{0, 2, 5, 5});
  const Tensor gw = conv2d_weight_grad(Tensor::zeros({0, 3, 3, 3}, DType::f64), x, 3, 3, 2, 1);
  CHECK(gw.shape() == Shape{3, 2, 3, 3});
  CHECK(gg::test::max_abs(gw) == 0.0);
}

TEST_CASE("leading axes that broadcast against each other: the fused conv2d equals the composite") {
  const Tensor x = input({2, 1, 3, 2, 6, 6}, 56).detach(), w = input({3, 4, 2, 3, 3}, 57).detach();
  const Tensor fused = conv2d(x, w, {}, 2, 1);
  CHECK(fused.shape() == Shape{2, 3, 3, 4, 3, 3});
  NoGradGuard no_grad;
  CHECK(gg::test::max_abs_diff(fused, detail::conv2d_by_columns(x, w, 2, 1)) < 1e-12);
  CHECK_THROWS_WITH_AS(conv2d(x, input({3, 4, 4, 2, 3, 3}, 58), {}, 2, 1),
                       doctest::Contains("conv2d: the leading axes of"), Error);
}

TEST_CASE("conv2d_with_weight_grad gives the bits of conv2d and conv2d_weight_grad, also written over dy") {
  // The double backward's last pass takes both at every layer (engine/ops/conv.cpp); the backend fuses them
  // where the weight's gradient is summed over chunks (more than 16 MB of columns): here 150 samples of
  // 32 channels, 16 x 16 -> 8 x 8, in f64 (22 MB of columns).
  Generator gen(21);
  const int64_t n = 150, c = 32, o = 24, hw = 16;
  const Tensor x = Tensor::randn({n, c, hw, hw}, gen, DType::f64);
  const Tensor w = Tensor::randn({o, c, 3, 3}, gen, DType::f64);
  const Tensor dy = Tensor::randn({n, o, 8, 8}, gen, DType::f64);
  const Tensor y_expected = conv2d(x, w, {}, 2, 1);
  const Tensor dw_expected = conv2d_weight_grad(dy, x, 3, 3, 2, 1);
  const ConvBatch b{.g = ConvGeometry{n, c, hw, hw, 3, 3, 2, 1}, .out_channels = o};
  Backend& cpu = backend_for(Device::cpu());
  const Tensor y = Tensor::empty(y_expected.shape(), DType::f64), dw = Tensor::empty(w.shape(), DType::f64);
  REQUIRE(cpu.conv2d_with_weight_grad(DType::f64, b, x.raw(), w.raw(), dy.raw(), y.raw(), dw.raw()));
  CHECK(gg::test::max_abs_diff(y, y_expected) == 0.0);
  CHECK(gg::test::max_abs_diff(dw, dw_expected) == 0.0);
  // y written over dy, each chunk of dy read first
  const Tensor over = dy.clone(), dw_over = Tensor::empty(w.shape(), DType::f64);
  REQUIRE(
      cpu.conv2d_with_weight_grad(DType::f64, b, x.raw(), w.raw(), over.raw(), over.raw(), dw_over.raw()));
  CHECK(gg::test::max_abs_diff(over, y_expected) == 0.0);
  CHECK(gg::test::max_abs_diff(dw_over, dw_expected) == 0.0);
  // Below 16 MB of columns the weight's gradient is one product over the batch: declined.
  const ConvBatch small{.g = ConvGeometry{4, c, hw, hw, 3, 3, 2, 1}, .out_channels = o};
  CHECK_FALSE(cpu.conv2d_with_weight_grad(DType::f64, small, x.raw(), w.raw(), dy.raw(), y.raw(), dw.raw()));
}

TEST_CASE("a double backward through conv nets gives the same bits with its last pass fused or not") {
  // Without a graph recorded, the transposed convolutions' rules take both gradients from one pass (and
  // write the input's gradient over their saved cotangent when the graph is not kept); recording a graph
  // runs the two rules apart. All three ways give the same bits.
  Generator gen(23);
  const test::ConvPenalty net = test::conv_penalty(gen, 6);  // layer 2: 1536 samples, 57 MB of columns
  const Tensor& penalty = net.penalty;
  const Tensor &w1 = net.w1, &w2 = net.w2;
  const std::vector<Tensor> kept = grad({penalty}, {w1, w2}, {}, {.retain_graph = true});
  const std::vector<Tensor> recorded = grad({penalty}, {w1, w2}, {}, {.create_graph = true});
  const std::vector<Tensor> last = grad({penalty}, {w1, w2});
  for (size_t i = 0; i < 2; ++i) {
    CHECK(gg::test::max_abs_diff(kept[i], recorded[i]) == 0.0);
    CHECK(gg::test::max_abs_diff(last[i], recorded[i]) == 0.0);
  }
}
