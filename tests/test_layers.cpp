// Modules, layers and initializers: forward values against hand computations and direct loops, parameter
// naming, in-place conversion, two orders of derivatives through every activation, initializer statistics.
#include <cmath>

#include "models/init.h"
#include "models/layers.h"
#include "tests/helpers.h"
#include "tests/models_helpers.h"

using namespace gg;
using gg::test::contains;
using gg::test::error_of;
using gg::test::input;
using gg::test::max_abs_diff;

namespace {

LayerOptions f64_options(bool bias = true) {
  LayerOptions o;
  o.bias = bias;
  o.dtype = DType::f64;
  return o;
}

void set_values(const Tensor& t, const std::vector<double>& v) {
  NoGradGuard no_grad;
  Tensor(t).copy_(Tensor::from_data(v, t.shape(), t.dtype()));
}

// Direct loops over the definitions (x [N,C,H,W]; conv weight [O,C,k,k]; transposed weight [C,O,k,k]).
std::vector<double> conv2d_loop(const Tensor& x, const Tensor& w, const Tensor& b, int64_t s, int64_t p) {
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3), O = w.size(0), k = w.size(2);
  const int64_t Ho = (H + 2 * p - k) / s + 1, Wo = (W + 2 * p - k) / s + 1;
  auto xv = x.to_vector(), wv = w.to_vector(), bv = b.to_vector();
  std::vector<double> y(N * O * Ho * Wo);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o)
      for (int64_t i = 0; i < Ho; ++i)
        for (int64_t j = 0; j < Wo; ++j) {
          double acc = bv[o];
          for (int64_t c = 0; c < C; ++c)
            for (int64_t a = 0; a < k; ++a)
              for (int64_t e = 0; e < k; ++e) {
                const int64_t r = i * s - p + a, q = j * s - p + e;
                if (r >= 0 && r < H && q >= 0 && q < W)
                  acc += xv[((n * C + c) * H + r) * W + q] * wv[((o * C + c) * k + a) * k + e];
              }
          y[((n * O + o) * Ho + i) * Wo + j] = acc;
        }
  return y;
}

std::vector<double> conv_transpose2d_loop(const Tensor& x, const Tensor& w, const Tensor& b, int64_t s,
                                          int64_t p, int64_t op) {
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3), O = w.size(1), k = w.size(2);
  const int64_t Ho = (H - 1) * s - 2 * p + k + op, Wo = (W - 1) * s - 2 * p + k + op;
  auto xv = x.to_vector(), wv = w.to_vector(), bv = b.to_vector();
  std::vector<double> y(N * O * Ho * Wo);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o)
      for (int64_t r = 0; r < Ho * Wo; ++r) y[(n * O + o) * Ho * Wo + r] = bv[o];
  // Each input pixel scatters its kernel-weighted value onto the output.
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t i = 0; i < H; ++i)
        for (int64_t j = 0; j < W; ++j)
          for (int64_t o = 0; o < O; ++o)
            for (int64_t a = 0; a < k; ++a)
              for (int64_t e = 0; e < k; ++e) {
                const int64_t r = i * s - p + a, q = j * s - p + e;
                if (r >= 0 && r < Ho && q >= 0 && q < Wo)
                  y[((n * O + o) * Ho + r) * Wo + q] +=
                      xv[((n * C + c) * H + i) * W + j] * wv[((c * O + o) * k + a) * k + e];
              }
  return y;
}

double variance(const std::vector<double>& v) {
  double m = 0, s = 0;
  for (double x : v) m += x;
  m /= double(v.size());
  for (double x : v) s += (x - m) * (x - m);
  return s / double(v.size());
}

}  // namespace

TEST_CASE("Linear: PyTorch's [out, in] weight, y = x W^T + b, and errors naming the layer") {
  Generator gen(0);
  Linear lin(3, 2, gen, f64_options());
  CHECK(lin.weight().shape() == Shape{2, 3});
  CHECK(lin.bias().shape() == Shape{2});
  set_values(lin.weight(), {1, 2, 3, -1, 0, 4});
  set_values(lin.bias(), {0.5, -2});
  Tensor x = Tensor::from_data({1, 1, 1, 2, -1, 0.5}, {2, 3}, DType::f64);
  // Row 1: (1+2+3)+0.5, (-1+0+4)-2; row 2: (2-2+1.5)+0.5, (-2+0+2)-2.
  gg::test::check_values(lin(x), {6.5, 1.0, 2.0, -2.0}, 1e-12);

  Linear no_bias(3, 2, gen, f64_options(false));
  CHECK_FALSE(no_bias.bias().defined());
  CHECK(no_bias.named_parameters().size() == 1);
  CHECK(no_bias.describe() == "Linear(3->2, no bias)");

  const std::string e = error_of([&] { lin(Tensor::zeros({2, 4}, DType::f64)); });
  CHECK(contains(e, "Linear(3->2)"));
  CHECK(contains(e, "f64[2,4]"));
  CHECK(contains(error_of([&] { lin(Tensor::zeros({2, 3}, DType::f32)); }), "dtype"));
}

TEST_CASE("Conv2d and ConvTranspose2d match direct loops over their definitions") {
  Generator gen(1);
  SUBCASE("Conv2d, stride 2, padding 1") {
    Conv2d conv(3, 4, 3, 2, 1, gen, f64_options());
    CHECK(conv.weight().shape() == Shape{4, 3, 3, 3});
    Tensor x = input({2, 3, 7, 6}, 11);
    Tensor y = conv(x);
    CHECK(y.shape() == Shape{2, 4, 4, 3});
    gg::test::check_values(y, conv2d_loop(x, conv.weight(), conv.bias(), 2, 1), 1e-12);
  }
  SUBCASE("Conv2d, stride 1, no padding, 5x5 kernel") {
    Conv2d conv(2, 3, 5, 1, 0, gen, f64_options());
    Tensor x = input({1, 2, 6, 7}, 12);
    CHECK(conv(x).shape() == Shape{1, 3, 2, 3});
    gg::test::check_values(conv(x), conv2d_loop(x, conv.weight(), conv.bias(), 1, 0), 1e-12);
  }
  SUBCASE("ConvTranspose2d: PyTorch's [in, out, k, k] weight, stride 2, padding 1, output padding 1") {
    ConvTranspose2d deconv(3, 2, 3, 2, 1, 1, gen, f64_options());
    CHECK(deconv.weight().shape() == Shape{3, 2, 3, 3});
    Tensor x = input({2, 3, 4, 5}, 13);
    Tensor y = deconv(x);
    CHECK(y.shape() == Shape{2, 2, 8, 10});  // exactly doubles, as the conv AE's decoder needs
    gg::test::check_values(y, conv_transpose2d_loop(x, deconv.weight(), deconv.bias(), 2, 1, 1), 1e-12);
  }
  SUBCASE("errors name the layer and the shapes") {
    Conv2d conv(3, 4, 3, 2, 1, gen);
    const std::string e = error_of([&] { conv(Tensor::zeros({2, 2, 8, 8})); });
    CHECK(contains(e, "Conv2d(3->4, k3, s2, p1)"));
    CHECK(contains(e, "f32[2,2,8,8]"));
    CHECK(contains(error_of([&] { conv(Tensor::zeros({3, 8, 8})); }), "needs [N, 3, H, W]"));
    ConvTranspose2d deconv(4, 2, 3, 2, 1, 1, gen);
    const std::string e2 = error_of([&] { deconv(Tensor::zeros({1, 3, 2, 2})); });
    CHECK(contains(e2, "ConvTranspose2d(4->2, k3, s2, p1, op1)"));
    CHECK(contains(error_of([&] { ConvTranspose2d(4, 2, 3, 2, 1, 2, gen); }), "output_padding"));
  }
}

TEST_CASE("Activation by name: values, canonical names, gains and errors") {
  Tensor x = Tensor::from_data({-1.0, 0.5, 2.0}, {3}, DType::f64);
  auto values = [&](const std::string& spec) { return Activation(spec)(x); };
  gg::test::check_values(values("identity"), {-1.0, 0.5, 2.0}, 1e-14);
  gg::test::check_values(values("relu"), {0.0, 0.5, 2.0}, 1e-14);
  gg::test::check_values(values("leaky_relu"), {-0.01, 0.5, 2.0}, 1e-14);
  gg::test::check_values(values("leaky_relu(0.2)"), {-0.2, 0.5, 2.0}, 1e-14);
  gg::test::check_values(values("sigmoid"), {0.2689414213699951, 0.6224593312018546, 0.8807970779778823},
                         1e-14);
  gg::test::check_values(values("tanh"), {-0.7615941559557649, 0.46211715726000974, 0.9640275800758169},
                         1e-14);
  gg::test::check_values(values("softplus"), {0.31326168751822286, 0.9740769841801067, 2.1269280110429727},
                         1e-14);
  gg::test::check_values(values("silu"), {-0.2689414213699951, 0.3112296656009273, 1.7615941559557646},
                         1e-14);
  // Exact GELU x Phi(x), not the tanh approximation (which gives 0.3457140 at 0.5).
  gg::test::check_values(values("gelu"), {-0.15865525393145707, 0.34573123063700656, 1.9544997361036416},
                         1e-14);

  CHECK(Activation("leaky_relu(0.2)").describe() == "leaky_relu(0.2)");
  CHECK(Activation("gelu").describe() == "gelu");
  CHECK(Activation("relu").gain() == doctest::Approx(std::sqrt(2.0)));
  CHECK(Activation("tanh").gain() == doctest::Approx(5.0 / 3.0));
  CHECK(Activation("sigmoid").gain() == 1.0);
  CHECK(Activation("leaky_relu(0.2)").gain() == doctest::Approx(std::sqrt(2.0 / 1.04)));

  const std::string e = error_of([] { Activation("swish"); });
  CHECK(contains(e, "unknown activation 'swish'"));
  CHECK(contains(e, "gelu"));
  CHECK(contains(error_of([] { Activation("leaky_relu(abc)"); }), "leaky_relu(abc)"));
  CHECK(contains(error_of([] { Activation("tanh(0.1)"); }), "tanh(0.1)"));
  CHECK(contains(error_of([] { Activation("leaky_relu(0.1"); }), "leaky_relu(0.1"));
}

TEST_CASE("every activation passes gradcheck and gradgradcheck (f64)") {
  for (std::string spec :
       {"identity", "relu", "leaky_relu(0.2)", "sigmoid", "tanh", "softplus", "silu", "gelu"}) {
    CAPTURE(spec);
    Activation act(spec);
    Function f = [&](const std::vector<Tensor>& x) { return act(x[0]); };
    std::vector<Tensor> x{input({3, 4}, 21, -2.5, 2.5, 0.1)};  // away from relu's kink
    GradcheckResult first = gradcheck(f, x), second = gradgradcheck(f, x);
    CHECK_MESSAGE(first.ok, first.message);
    CHECK_MESSAGE(second.ok, second.message);
  }
}

TEST_CASE("shape layers: Flatten, Unflatten, ZeroPad2d (padding, and cropping where negative)") {
  Tensor x = input({2, 3, 4, 5}, 31);
  CHECK(Flatten()(x).shape() == Shape{2, 60});
  CHECK(Unflatten({3, 4, 5})(Flatten()(x)).shape() == Shape{2, 3, 4, 5});
  const std::string e = error_of([&] { Unflatten({3, 4, 4})(Flatten()(x)); });
  CHECK(contains(e, "Unflatten([3,4,4]): input f64[2,60]"));
  CHECK(contains(error_of([] { Flatten()(Tensor::zeros({4})); }), "Flatten: input f32[4]"));

  ZeroPad2d pad(1, 2, 3, 0);  // PyTorch's order: left, right, top, bottom
  Tensor p = pad(x);
  CHECK(p.shape() == Shape{2, 3, 7, 8});
  CHECK(p.at({1, 2, 0, 0}) == 0.0);
  CHECK(p.at({1, 2, 3, 1}) == x.at({1, 2, 0, 0}));
  CHECK(p.at({1, 2, 6, 5}) == x.at({1, 2, 3, 4}));
  CHECK(max_abs_diff(ZeroPad2d(-1, -2, -3, 0)(p), x) == 0.0);  // negated amounts crop back
  const Tensor mixed = ZeroPad2d(-1, 1, 2, -3)(x);                // crop one side, pad the other
  CHECK(mixed.shape() == Shape{2, 3, 3, 5});
  CHECK(mixed.at({0, 1, 2, 0}) == x.at({0, 1, 0, 1}));
  CHECK(mixed.at({0, 1, 2, 4}) == 0.0);
  CHECK(contains(error_of([&] { ZeroPad2d(0, 0, -4, -3)(p); }), "ZeroPad2d(l0, r0, t-4, b-3): input f64[2,3,7,8]"));
}

TEST_CASE("Module: dotted names in registration order, Sequential children, to(), zero_grad, describe") {
  Generator gen(3);
  auto inner = std::make_shared<Sequential>();
  inner->add(std::make_shared<Linear>(2, 3, gen));
  inner->add(std::make_shared<Activation>("tanh"));
  inner->add(std::make_shared<Linear>(3, 1, gen, LayerOptions{.bias = false}));
  Sequential net;
  net.add(std::make_shared<Flatten>());
  net.add(inner);

  std::vector<std::string> names;
  for (const auto& [name, t] : net.named_parameters()) names.push_back(name);
  CHECK(names == std::vector<std::string>{"1.0.weight", "1.0.bias", "1.2.weight"});
  CHECK(net.num_parameters() == 6 + 3 + 3);
  CHECK(net.describe() == "Sequential(Flatten, Sequential(Linear(2->3), tanh, Linear(3->1, no bias)))");
  CHECK(net.size() == 2);
  CHECK(net[1].type() == "Sequential");

  // Every parameter requires grad; backward fills .grad, zero_grad clears it.
  Tensor x = Tensor::ones({4, 2});
  sum(net(x)).backward();
  for (const Tensor& p : net.parameters()) {
    CHECK(p.requires_grad());
    CHECK(p.grad().defined());
  }
  net.zero_grad();
  for (const Tensor& p : net.parameters()) CHECK_FALSE(p.grad().defined());

  // to() converts in place: a handle taken before sees the new dtype and values, requires_grad stays.
  Tensor w = net.parameters()[0];
  const std::vector<double> before = w.to_vector();
  net.to(DType::f64);
  CHECK(w.dtype() == DType::f64);
  CHECK(w.requires_grad());
  for (size_t i = 0; i < before.size(); ++i) CHECK(w.to_vector()[i] == before[i]);  // f32 -> f64 is exact
  CHECK(net(x.to(DType::f64)).dtype() == DType::f64);
}

TEST_CASE("call_with_parameters evaluates with substitute parameters and restores the originals") {
  Generator gen(4);
  Linear lin(2, 1, gen, f64_options());
  Tensor w = Tensor::from_data({1.0, 2.0}, {1, 2}, DType::f64).requires_grad_();
  Tensor b = Tensor::from_data({0.5}, {1}, DType::f64).requires_grad_();
  Tensor x = Tensor::from_data({3.0, 4.0}, {1, 2}, DType::f64);
  Tensor y = call_with_parameters(lin, {w, b}, [&] { return lin(x); });
  CHECK(y.item() == doctest::Approx(11.5));
  CHECK(grad(sum(y), w).to_vector() == std::vector<double>{3.0, 4.0});
  CHECK(lin.weight().impl() != w.impl());  // restored
  CHECK(
      contains(error_of([&] { call_with_parameters(lin, {w}, [&] { return lin(x); }); }), "1 values for 2"));
}

TEST_CASE("initializers: variances follow their formulas, fans follow PyTorch") {
  CHECK(compute_fans({8, 4}).in == 4);
  CHECK(compute_fans({8, 4}).out == 8);
  CHECK(compute_fans({8, 4, 3, 3}).in == 36);  // Conv2d [out, in, k, k]
  CHECK(compute_fans({4, 8, 3, 3}).in == 72);  // ConvTranspose2d [in, out, k, k]: PyTorch's fan_in is out k^2
  CHECK(compute_fans({4, 8, 3, 3}).out == 36);

  const Shape shape{300, 400};  // fan_in 400, fan_out 300
  const double fi = 400, fo = 300;
  struct Case {
    std::string name;
    double gain, var;
  };
  const double g = 5.0 / 3.0;
  for (const Case& c : std::vector<Case>{{"torch_default", 1, 1.0 / (3 * fi)},
                                         {"xavier_uniform", 1, 2.0 / (fi + fo)},
                                         {"glorot_normal", 1, 2.0 / (fi + fo)},
                                         {"xavier_normal", g, g * g * 2.0 / (fi + fo)},
                                         {"kaiming_uniform", 0, 2.0 / fi},
                                         {"he_normal", 0, 2.0 / fi},
                                         {"kaiming_normal", g, g * g / fi},
                                         {"lecun_normal", 1, 1.0 / fi}}) {
    CAPTURE(c.name);
    Init init = parse_init(c.name);
    if (c.gain) init.gain = c.gain;  // 0 keeps parse_init's default (sqrt 2 for kaiming)
    Generator gen(5);
    std::vector<double> w = init_weight(shape, init, gen, DType::f64).to_vector();
    CHECK(variance(w) == doctest::Approx(c.var).epsilon(0.02));
    double mean = 0;
    for (double v : w) mean += v / double(w.size());
    CHECK(std::abs(mean) < 4 * std::sqrt(c.var / double(w.size())));
  }

  // torch_default draws weight and bias from U(-1/sqrt(fan_in), 1/sqrt(fan_in)); the other schemes' biases
  // are 0.
  auto max_abs = [](const Tensor& t) { return max(abs(t)).item(); };
  Generator gen(6);
  CHECK(max_abs(init_weight(shape, parse_init("torch_default"), gen, DType::f64)) <= 1.0 / std::sqrt(fi));
  Tensor b = init_bias(300, compute_fans(shape), parse_init("torch_default"), gen, DType::f64);
  CHECK(max_abs(b) <= 1.0 / std::sqrt(fi));
  CHECK(variance(b.to_vector()) == doctest::Approx(1.0 / (3 * fi)).epsilon(0.25));
  CHECK(max_abs(init_bias(300, compute_fans(shape), parse_init("kaiming_normal"), gen)) == 0.0);
  CHECK(max_abs(init_weight(shape, parse_init("zeros"), gen)) == 0.0);

  CHECK(parse_init("he_uniform").scheme == InitScheme::kaiming_uniform);
  CHECK(init_name(InitScheme::xavier_normal) == "xavier_normal");
  const std::string e = error_of([] { parse_init("orthogonal"); });
  CHECK(contains(e, "unknown initializer 'orthogonal'"));
  CHECK(contains(e, "kaiming_normal"));
}

TEST_CASE("initializers: one seed fixes every weight, in either dtype") {
  auto draw = [](uint64_t seed, DType t) {
    Generator gen(seed);
    Linear a(5, 4, gen, LayerOptions{.init = parse_init("xavier_normal"), .dtype = t});
    Conv2d b(2, 3, 3, 1, 1, gen, LayerOptions{.dtype = t});
    std::vector<double> v;
    for (const Tensor& p : {a.weight(), a.bias(), b.weight(), b.bias()}) {
      auto x = p.to_vector();
      v.insert(v.end(), x.begin(), x.end());
    }
    return v;
  };
  CHECK(draw(7, DType::f64) == draw(7, DType::f64));
  CHECK(draw(7, DType::f64) != draw(8, DType::f64));
  const auto f32 = draw(7, DType::f32), f64 = draw(7, DType::f64);
  for (size_t i = 0; i < f64.size(); ++i) CHECK(f32[i] == doctest::Approx(f64[i]).epsilon(1e-6));
}
