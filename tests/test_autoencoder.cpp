// The autoencoders: config JSON, layouts and names, shapes of the paper's conv net, and two orders of
// derivatives with respect to every parameter through an MLP and a conv autoencoder.
#include <nlohmann/json.hpp>

#include "models/autoencoder.h"
#include "tests/helpers.h"
#include "tests/models_helpers.h"

using namespace gg;
using namespace gg::test;
using nlohmann::json;

namespace {

AutoencoderConfig mlp_config(Shape input_shape, int64_t k, std::vector<int64_t> hidden) {
  AutoencoderConfig c;
  c.arch = "mlp";
  c.input_shape = std::move(input_shape);
  c.code_dim = k;
  c.hidden = std::move(hidden);
  return c;
}

AutoencoderConfig conv_config(Shape input_shape, int64_t k, int64_t width) {
  AutoencoderConfig c;
  c.arch = "conv";
  c.input_shape = std::move(input_shape);
  c.code_dim = k;
  c.width = width;
  return c;
}

std::vector<std::string> names_of(const Module& m) {
  std::vector<std::string> names;
  for (const auto& [name, t] : m.named_parameters()) names.push_back(name);
  return names;
}

// gradcheck and gradgradcheck of x -> ae(x) with respect to all of ae's parameters (f64).
void check_parameter_derivatives(Autoencoder& ae, const Tensor& x) {
  std::vector<Tensor> params;
  for (const Tensor& p : ae.parameters()) params.push_back(p.detach().clone().requires_grad_());
  Function f = [&](const std::vector<Tensor>& p) {
    return call_with_parameters(ae, p, [&] { return ae(x); });
  };
  // The checks below would pass vacuously if f ignored its arguments: every parameter must matter.
  std::vector<Tensor> g = grad({sum(square(f(params)))}, params);
  for (size_t i = 0; i < g.size(); ++i)
    CHECK_MESSAGE(max(abs(g[i])).item() > 0, ae.named_parameters()[i].first);
  GradcheckResult first = gradcheck(f, params);
  CHECK_MESSAGE(first.ok, first.message);
  GradcheckResult second = gradgradcheck(f, params);
  CHECK_MESSAGE(second.ok, second.message);
}

}  // namespace

TEST_CASE("AutoencoderConfig: JSON round trip, defaults, and refusals naming the key") {
  AutoencoderConfig c = conv_config({3, 32, 32}, 16, 8);
  c.activation = "leaky_relu(0.2)";
  c.output_activation = "sigmoid";
  c.init = "kaiming_normal";
  c.dtype = DType::f64;
  c.seed = 42;
  json j = c;
  CHECK(j["dtype"] == "f64");
  CHECK_FALSE(j.contains("hidden"));  // an mlp-only key
  AutoencoderConfig back = j.get<AutoencoderConfig>();
  CHECK(json(back) == j);
  CHECK(back.input_shape == Shape{3, 32, 32});
  CHECK(back.seed == 42);

  AutoencoderConfig minimal = json::parse(R"({"input_shape": [2], "code_dim": 1})").get<AutoencoderConfig>();
  CHECK(minimal.arch == "mlp");
  CHECK(minimal.hidden == std::vector<int64_t>{64});
  CHECK(minimal.activation == "relu");
  CHECK(minimal.code_activation == "identity");
  CHECK(minimal.dtype == DType::f32);

  auto refusal = [](const std::string& text) {
    return error_of([&] { json::parse(text).get<AutoencoderConfig>(); });
  };
  const std::string unknown = refusal(R"({"input_shape": [2], "code_dim": 1, "latent": 3})");
  CHECK(contains(unknown, "unknown key 'latent'"));
  CHECK(contains(unknown, "code_dim"));  // lists the valid keys
  CHECK(contains(refusal(R"({"input_shape": [2], "code_dim": 0})"), "model.code_dim"));
  CHECK(contains(refusal(R"({"input_shape": [2], "code_dim": "3"})"), "model.code_dim"));
  CHECK(contains(refusal(R"({"input_shape": [2], "code_dim": 2.5})"), "model.code_dim"));
  CHECK(contains(refusal(R"({"code_dim": 2})"), "model.input_shape: required"));
  CHECK(contains(refusal(R"({"input_shape": [2, -1], "code_dim": 2})"), "model.input_shape"));
  CHECK(contains(refusal(R"({"input_shape": [784], "code_dim": 2, "arch": "conv"})"), "model.input_shape"));
  CHECK(contains(refusal(R"({"input_shape": [2], "code_dim": 2, "arch": "rnn"})"), "model.arch"));
  CHECK(
      contains(refusal(R"({"input_shape": [2], "code_dim": 2, "activation": "swish"})"), "model.activation"));
  CHECK(contains(refusal(R"({"input_shape": [2], "code_dim": 2, "init": "orthogonal"})"), "model.init"));
  CHECK(contains(refusal(R"({"input_shape": [2], "code_dim": 2, "dtype": "f16"})"), "model.dtype"));
  CHECK(contains(refusal(R"({"input_shape": [2], "code_dim": 2, "seed": -1})"), "model.seed"));
  CHECK(contains(refusal(R"({"input_shape": [2], "code_dim": 2, "variational": 1})"), "model.variational"));
  CHECK(contains(refusal(R"({"input_shape": [2], "code_dim": 2, "hidden": [8, 0]})"), "model.hidden"));
  CHECK(contains(refusal(R"({"input_shape": [1, 16, 16], "code_dim": 2, "arch": "conv", "hidden": [8]})"),
                 "model.hidden: applies only to arch \"mlp\""));
  CHECK(contains(
      refusal(R"({"input_shape": [2], "code_dim": 2, "variational": true, "code_activation": "sigmoid"})"),
      "model.code_activation"));
  CHECK(contains(refusal(R"({"input_shape": [2], "code_dim": 2, "device": "tpu"})"), "model.device"));
  CHECK(minimal.device == Device::cpu());
  CHECK(contains(refusal("[1, 2]"), "expected a JSON object"));
}

TEST_CASE("MLP autoencoder: layout, PyTorch names, one call each for E, D, D(E(x)) and E(D(z))") {
  Autoencoder ae(mlp_config({3}, 2, {8, 4}));
  CHECK(names_of(ae) == std::vector<std::string>{"encoder.1.weight", "encoder.1.bias", "encoder.3.weight",
                                                 "encoder.3.bias", "encoder.5.weight", "encoder.5.bias",
                                                 "decoder.0.weight", "decoder.0.bias", "decoder.2.weight",
                                                 "decoder.2.bias", "decoder.4.weight", "decoder.4.bias"});
  CHECK(ae.encoder().describe() ==
        "Sequential(Flatten, Linear(3->8), relu, Linear(8->4), relu, Linear(4->2), identity)");
  CHECK(ae.decoder().describe() ==
        "Sequential(Linear(2->4), relu, Linear(4->8), relu, Linear(8->3), identity, Unflatten([3]))");
  CHECK(ae.num_parameters() ==
        (3 * 8 + 8) + (8 * 4 + 4) + (4 * 2 + 2) + (2 * 4 + 4) + (4 * 8 + 8) + (8 * 3 + 3));
  CHECK(contains(ae.describe(), "Autoencoder(mlp, input [3], code 2, f32, 157 parameters)"));

  Generator gen(1);
  Tensor x = Tensor::randn({5, 3}, gen);
  Tensor z = ae.encode(x);
  CHECK(z.shape() == Shape{5, 2});
  CHECK(ae.decode(z).shape() == Shape{5, 3});
  CHECK(gg::test::max_abs_diff(ae(x), ae.decode(ae.encode(x))) == 0.0);
  CHECK(gg::test::max_abs_diff(ae.latent_map(z), ae.encode(ae.decode(z))) == 0.0);

  const std::string e = error_of([&] { ae.encode(Tensor::zeros({5, 4})); });
  CHECK(contains(e, "Autoencoder.encode: input f32[5,4] does not match [N,3]"));
  CHECK(contains(error_of([&] { ae.decode(Tensor::zeros({5, 3})); }), "Autoencoder.decode"));
  CHECK(contains(error_of([&] { ae.encode(Tensor::zeros({5, 3}, DType::f64)); }), "dtype"));
  CHECK(contains(error_of([&] { ae.encode_distribution(x); }), "not variational"));

  // Image-shaped input: flattened by the encoder, reshaped back by the decoder.
  Autoencoder img(mlp_config({1, 4, 4}, 3, {}));
  CHECK(img.encode(Tensor::zeros({2, 1, 4, 4})).shape() == Shape{2, 3});
  CHECK(img(Tensor::zeros({2, 1, 4, 4})).shape() == Shape{2, 1, 4, 4});
  CHECK(names_of(img) ==
        std::vector<std::string>{"encoder.1.weight", "encoder.1.bias", "decoder.0.weight", "decoder.0.bias"});
}

TEST_CASE("conv autoencoder (Table 3 of paper 002): shapes for 1x28x28 and 3x32x32, parameter count") {
  SUBCASE("MNIST 1x28x28, d = 32, k = 32: padded to 32x32 inside the encoder, cropped back in the decoder") {
    Autoencoder ae(conv_config({1, 28, 28}, 32, 32));
    // Encoder: 4 convs 1->32->64->128->256 (3x3) and a linear 256*2*2 -> 32; the decoder mirrors it.
    const int64_t convs =
        (32 * 1 * 9 + 32) + (64 * 32 * 9 + 64) + (128 * 64 * 9 + 128) + (256 * 128 * 9 + 256);
    const int64_t deconvs =
        (256 * 128 * 9 + 128) + (128 * 64 * 9 + 64) + (64 * 32 * 9 + 32) + (32 * 1 * 9 + 1);
    const int64_t linears = (1024 * 32 + 32) + (32 * 1024 + 1024);
    CHECK(ae.num_parameters() == convs + deconvs + linears);
    CHECK(ae.num_parameters() == 842017);
    CHECK(ae.encoder().describe() ==
          "Sequential(ZeroPad2d(l2, r2, t2, b2), Conv2d(1->32, k3, s2, p1), relu, Conv2d(32->64, k3, s2, "
          "p1), relu, "
          "Conv2d(64->128, k3, s2, p1), relu, Conv2d(128->256, k3, s2, p1), relu, Flatten, Linear(1024->32), "
          "identity)");
    CHECK(ae.decoder().describe() ==
          "Sequential(Linear(32->1024), relu, Unflatten([256,2,2]), ConvTranspose2d(256->128, k3, s2, p1, "
          "op1), relu, "
          "ConvTranspose2d(128->64, k3, s2, p1, op1), relu, ConvTranspose2d(64->32, k3, s2, p1, op1), relu, "
          "ConvTranspose2d(32->1, k3, s2, p1, op1), identity, ZeroPad2d(l-2, r-2, t-2, b-2))");
    std::vector<std::string> names = names_of(ae);
    CHECK(names.front() == "encoder.1.weight");
    CHECK(names[8] == "encoder.10.weight");
    CHECK(names[10] == "decoder.0.weight");
    CHECK(names.back() == "decoder.9.bias");
    Generator gen(2);
    Tensor x = Tensor::rand({2, 1, 28, 28}, gen);
    CHECK(ae.encode(x).shape() == Shape{2, 32});
    CHECK(ae(x).shape() == Shape{2, 1, 28, 28});
    CHECK(ae.latent_map(ae.encode(x)).shape() == Shape{2, 32});
  }
  SUBCASE("CIFAR 3x32x32, d = 8: no padding, 3 channels back") {
    Autoencoder ae(conv_config({3, 32, 32}, 16, 8));
    CHECK(contains(ae.encoder().describe(), "ZeroPad2d(l0, r0, t0, b0), Conv2d(3->8, k3, s2, p1)"));
    Generator gen(3);
    Tensor x = Tensor::rand({2, 3, 32, 32}, gen);
    CHECK(ae.encode(x).shape() == Shape{2, 16});
    CHECK(ae(x).shape() == Shape{2, 3, 32, 32});
  }
  SUBCASE("odd sizes: 1x17x20 pads 15 rows (7 above, 8 below) and 12 columns (6 each side)") {
    Autoencoder ae(conv_config({1, 17, 20}, 4, 2));
    CHECK(contains(ae.encoder().describe(), "ZeroPad2d(l6, r6, t7, b8)"));
    CHECK(contains(ae.decoder().describe(), "Unflatten([16,2,2])"));
    CHECK(ae(Tensor::zeros({1, 1, 17, 20})).shape() == Shape{1, 1, 17, 20});
  }
}

TEST_CASE("variational encoder: the head gives mean and log-variance, encode() is the mean") {
  AutoencoderConfig c = mlp_config({4}, 3, {6});
  c.variational = true;
  Autoencoder vae(c);
  Generator gen(4);
  Tensor x = Tensor::randn({5, 4}, gen);
  auto [mean, logvar] = vae.encode_distribution(x);
  CHECK(mean.shape() == Shape{5, 3});
  CHECK(logvar.shape() == Shape{5, 3});
  CHECK(gg::test::max_abs_diff(vae.encode(x), mean) == 0.0);
  CHECK(gg::test::max_abs_diff(vae(x), vae.decode(mean)) == 0.0);
  CHECK(contains(vae.encoder().describe(), "Linear(6->6)"));  // 2k outputs

  AutoencoderConfig cc = conv_config({1, 16, 16}, 3, 2);
  cc.variational = true;
  Autoencoder cvae(cc);
  CHECK(cvae.encode_distribution(Tensor::zeros({2, 1, 16, 16})).logvar.shape() == Shape{2, 3});
}

TEST_CASE("autoencoder seeding: one seed fixes every weight, kaiming takes the next activation's gain") {
  AutoencoderConfig c = conv_config({1, 16, 16}, 4, 2);
  c.seed = 9;
  Autoencoder a(c), b(c);
  c.seed = 10;
  Autoencoder other(c);
  for (size_t i = 0; i < a.parameters().size(); ++i) {
    CHECK(a.parameters()[i].to_vector() == b.parameters()[i].to_vector());
    CHECK(a.parameters()[i].to_vector() != other.parameters()[i].to_vector());
  }

  AutoencoderConfig k = mlp_config({512}, 128, {256});
  k.init = "kaiming_normal";
  k.activation = "tanh";
  Autoencoder ae(k);
  auto stddev = [](const Tensor& t) {
    double s = 0;
    for (double v : t.to_vector()) s += v * v;
    return std::sqrt(s / double(t.numel()));
  };
  auto params = ae.named_parameters();
  CHECK(params[0].first == "encoder.1.weight");  // [256, 512], followed by tanh
  CHECK(stddev(params[0].second) == doctest::Approx(5.0 / 3.0 / std::sqrt(512.0)).epsilon(0.02));
  CHECK(params[2].first == "encoder.3.weight");  // [128, 256], followed by the identity code activation
  CHECK(stddev(params[2].second) == doctest::Approx(1.0 / std::sqrt(256.0)).epsilon(0.03));
  CHECK(stddev(params[1].second) == 0.0);  // biases start at zero
}

TEST_CASE("gradcheck and gradgradcheck through a small MLP autoencoder, w.r.t. every parameter (f64)") {
  AutoencoderConfig c = mlp_config({3}, 2, {4});
  c.activation = "tanh";
  c.output_activation = "sigmoid";
  c.dtype = DType::f64;
  Autoencoder ae(c);
  check_parameter_derivatives(ae, input({2, 3}, 41).detach());

  c.activation = "gelu";
  c.code_activation = "softplus";
  c.hidden = {3, 3};
  Autoencoder deeper(c);
  check_parameter_derivatives(deeper, input({2, 3}, 42).detach());
}

TEST_CASE("gradcheck and gradgradcheck through a tiny conv autoencoder, w.r.t. every parameter (f64)") {
  // d = 2 on 1x12x12 (padded to 16x16): every conv, transposed conv, the pad and the crop are in the path.
  AutoencoderConfig c = conv_config({1, 12, 12}, 2, 2);
  c.activation = "tanh";
  c.dtype = DType::f64;
  Autoencoder ae(c);
  check_parameter_derivatives(ae, input({1, 1, 12, 12}, 43).detach());
}
