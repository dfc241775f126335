// safetensors files and checkpoints: round trips, the exact bytes of the format, refusals of corrupt files,
// loading into a model, and files moving between gradgrad and PyTorch.
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "datasets/files.h"
#include "models/autoencoder.h"
#include "models/checkpoint.h"
#include "tests/helpers.h"
#include "tests/models_helpers.h"
#include "tests/run_helpers.h"

using namespace gg;
using namespace gg::test;
using nlohmann::json;

namespace {

// A safetensors file made by hand: the 8-byte little-endian length, the header text, the buffer.
std::string file_with(const std::string& header, const std::string& buffer) {
  std::string out;
  for (int i = 0; i < 8; ++i) out.push_back(char((header.size() >> (8 * i)) & 0xff));
  return out + header + buffer;
}

// The error load_safetensors raises on a file with this header and buffer.
std::string load_error(const TempDir& dir, const std::string& header, const std::string& buffer) {
  const std::string path = dir / "bad.safetensors";
  write_bytes(path, file_with(header, buffer));
  std::string e = error_of([&] { load_safetensors(path); });
  CHECK(contains(e, path));
  return e;
}

bool same_tensor(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() && a.to_vector() == b.to_vector();
}

AutoencoderConfig small_mlp(uint64_t seed, std::vector<int64_t> hidden = {4}) {
  AutoencoderConfig c;
  c.input_shape = {3};
  c.code_dim = 2;
  c.hidden = std::move(hidden);
  c.seed = seed;
  return c;
}

}  // namespace

TEST_CASE("safetensors: round trip of f32, f64, scalar and empty tensors with metadata") {
  TempDir dir;
  Generator gen(1);
  NamedTensors tensors = {{"w", Tensor::randn({2, 3}, gen)},
                          {"v", Tensor::randn({4}, gen, DType::f64)},
                          {"step", Tensor::scalar(7.0, DType::f64)},
                          {"empty", Tensor::zeros({0, 3})}};
  const std::string path = dir / "t.safetensors";
  save_safetensors(path, tensors, {{"note", "hello"}, {"json", "{\"a\": 1}"}});
  SafetensorsFile f = load_safetensors(path);
  REQUIRE(f.tensors.size() == 4);
  for (size_t i = 0; i < 4; ++i) {
    CHECK(f.tensors[i].first == tensors[i].first);  // file order is the order given
    CHECK(same_tensor(f.tensors[i].second, tensors[i].second));
  }
  CHECK(f.metadata == Metadata{{"note", "hello"}, {"json", "{\"a\": 1}"}});

  // Saving again replaces the file atomically and leaves no temporary file behind.
  save_safetensors(path, {{"w", Tensor::ones({1})}});
  CHECK(load_safetensors(path).tensors.size() == 1);
  CHECK(std::distance(std::filesystem::directory_iterator(dir.path), {}) == 1);
  CHECK(contains(error_of([&] { save_safetensors(dir / "no/such/dir/t.safetensors", tensors); }),
                 "no/such/dir/t.safetensors"));
  const NamedTensors twice = {{"a", Tensor::ones({1})}, {"a", Tensor::ones({1})}};
  CHECK(contains(error_of([&] { save_safetensors(path, twice); }), "'a' given twice"));
}

TEST_CASE("safetensors: the writer's bytes are the format's, byte by byte, and a hand-made file loads") {
  TempDir dir;
  const std::string path = dir / "hand.safetensors";
  save_safetensors(
      path, {{"a", Tensor::from_data({1.0, -2.0}, {2})}, {"b", Tensor::from_data({0.5}, {1, 1}, DType::f64)}},
      {{"k", "v"}});
  // 194 bytes of JSON and six spaces pad the header to 200 = 0xc8 bytes, so the buffer is 8-byte aligned. The
  // checksums are zlib.crc32 of each tensor's bytes, as Python computes them.
  const std::string header =
      R"({"__metadata__":{"gradgrad.crc32":"{\"a\":\"c3872656\",\"b\":\"8d3a01b8\"}","k":"v"},)"
      R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
      R"("b":{"dtype":"F64","shape":[1,1],"data_offsets":[8,16]}}      )";
  REQUIRE(header.size() == 200);
  const std::string expected = std::string("\xc8\0\0\0\0\0\0\0", 8) + header +
                               std::string("\x00\x00\x80\x3f", 4) +                 // 1.0f
                               std::string("\x00\x00\x00\xc0", 4) +                 // -2.0f
                               std::string("\x00\x00\x00\x00\x00\x00\xe0\x3f", 8);  // 0.5
  CHECK(read_file(path) == expected);

  // Another writer's choices: fields in another order, tensors listed against their byte order, whitespace.
  write_bytes(path, file_with(R"({ "y": {"data_offsets": [8, 12], "shape": [], "dtype": "F32"},
                                   "x": {"shape": [2], "dtype": "F32", "data_offsets": [0, 8]} }   )",
                              std::string("\x00\x00\x80\x3f\x00\x00\x00\x40\x00\x00\x40\x40", 12)));
  SafetensorsFile f = load_safetensors(path);
  REQUIRE(f.tensors.size() == 2);
  CHECK(f.tensors[0].first == "x");
  CHECK(f.tensors[0].second.to_vector() == std::vector<double>{1.0, 2.0});
  CHECK(f.tensors[1].first == "y");
  CHECK(f.tensors[1].second.shape() == Shape{});
  CHECK(f.tensors[1].second.item() == 3.0);
  CHECK(f.metadata.empty());
}

TEST_CASE("safetensors: corrupt files are refused with errors naming the file, the tensor and the problem") {
  TempDir dir;
  const std::string f32x2 = std::string(8, '\0');
  auto entry = [](const std::string& name, const std::string& dtype, const std::string& shape, int b, int e) {
    return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":[" +
           std::to_string(b) + "," + std::to_string(e) + "]}";
  };

  const std::string path = dir / "short.safetensors";
  write_bytes(path, std::string("\x10\0\0\0\0", 5));
  CHECK(contains(error_of([&] { load_safetensors(path); }), "is 5 bytes, too short"));
  CHECK(contains(error_of([&] { load_safetensors(dir / "missing.safetensors"); }), "cannot open"));

  write_bytes(path, file_with("{}", ""));  // no tensors at all is a valid file
  CHECK(load_safetensors(path).tensors.empty());

  std::string too_long = file_with("{}", "");
  too_long[0] = char(0xe8), too_long[1] = char(0x03);  // claims 1000 header bytes
  write_bytes(path, too_long);
  CHECK(contains(error_of([&] { load_safetensors(path); }), "header length 1000 exceeds the 2 bytes"));

  CHECK(contains(load_error(dir, "{\"a\": ", ""), "header is not valid JSON"));
  CHECK(contains(load_error(dir, "[1, 2]", ""), "header must be a JSON object"));
  CHECK(contains(
      load_error(dir, "{" + entry("a", "F32", "[2]", 0, 8) + "," + entry("a", "F32", "[2]", 0, 8) + "}",
                 f32x2),
      "the key 'a' twice"));
  CHECK(contains(
      load_error(dir, "{" + entry("a", "F32", "[2]", 0, 8) + "," + entry("b", "F32", "[2]", 4, 12) + "}",
                 f32x2 + "1234"),
      "tensors 'a' and 'b' overlap"));
  CHECK(contains(load_error(dir, "{" + entry("a", "F32", "[3]", 0, 8) + "}", f32x2),
                 "tensor 'a': shape [3] of F32 needs 12 bytes, but its byte range [0, 8) holds 8"));
  CHECK(contains(load_error(dir, "{" + entry("w", "Q7", "[2]", 0, 8) + "}", f32x2),
                 "tensor 'w': unknown dtype 'Q7'"));
  CHECK(contains(load_error(dir, "{" + entry("h", "F16", "[4]", 0, 8) + "}", f32x2),
                 "tensor 'h': dtype F16 is not supported"));
  CHECK(contains(load_error(dir, "{" + entry("a", "F32", "[2]", 0, 8) + "}", "1234"),
                 "tensor 'a': byte range [0, 8) lies outside the 4-byte data buffer"));
  CHECK(contains(load_error(dir, "{" + entry("a", "F32", "[2]", 4, 12) + "}", f32x2 + "1234"),
                 "bytes [0, 4) before tensor 'a' belong to no tensor"));
  CHECK(contains(load_error(dir, "{" + entry("a", "F32", "[2]", 0, 8) + "}", f32x2 + "1234"),
                 "bytes [8, 12) at the end belong to no tensor"));
  CHECK(
      contains(load_error(dir, "{" + entry("a", "F32", "[-2]", 0, 8) + "}", f32x2), "non-negative integers"));
  CHECK(
      contains(load_error(dir, "{" + entry("a", "F32", "[2]", 8, 0) + "}", f32x2), "ends before it begins"));
  CHECK(contains(load_error(dir, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", f32x2),
                 "tensor 'a': entry needs"));
  CHECK(contains(load_error(dir, "{\"__metadata__\":{\"k\":1}}", ""),
                 "__metadata__ value of 'k' must be a string"));

  // A good file cut short loses the end of its last tensor.
  const std::string good = dir / "good.safetensors";
  save_safetensors(good, {{"first", Tensor::ones({4})}, {"last", Tensor::ones({4})}});
  std::string bytes = read_file(good);
  write_bytes(good, bytes.substr(0, bytes.size() - 4));
  CHECK(
      contains(error_of([&] { load_safetensors(good); }), "tensor 'last': byte range [16, 32) lies outside"));
}

TEST_CASE("checkpoints: parameters, config and extra tensors come back, mismatches are listed") {
  TempDir dir;
  const std::string path = dir / "ae.safetensors";
  Autoencoder saved(small_mlp(1));
  NamedTensors extra = {{"adam.step", Tensor::scalar(12, DType::f64)},
                        {"adam.m.encoder.1.weight", Tensor::ones({4, 3})}};
  save_checkpoint(path, saved, json(saved.config()), extra, {{"epoch", "3"}});

  Autoencoder fresh(small_mlp(2));
  Tensor handle = fresh.parameters()[0];
  CHECK_FALSE(same_tensor(handle, saved.parameters()[0]));
  Checkpoint c = load_checkpoint_into(fresh, path);
  for (size_t i = 0; i < saved.parameters().size(); ++i)
    CHECK(same_tensor(fresh.parameters()[i], saved.parameters()[i]));
  CHECK(same_tensor(handle, saved.parameters()[0]));  // copied in place
  CHECK(handle.requires_grad());
  CHECK(c.config == json(saved.config()));
  CHECK(c.config.get<AutoencoderConfig>().seed == 1);
  REQUIRE(c.extra.size() == 2);
  CHECK(c.extra[0].first == "adam.step");
  CHECK(c.extra[0].second.item() == 12);
  CHECK(c.extra[1].first == "adam.m.encoder.1.weight");
  CHECK(c.metadata.at("epoch") == "3");
  CHECK(c.parameters.size() == saved.parameters().size());

  // A model of another shape: nothing is copied and every difference is listed.
  Autoencoder wider(small_mlp(3, {5}));
  const std::vector<double> before = wider.parameters()[0].to_vector();
  const std::string e = error_of([&] { load_checkpoint_into(wider, path); });
  CHECK(contains(e, "mismatched: encoder.1.weight (file f32[4,3], model f32[5,3])"));
  CHECK(wider.parameters()[0].to_vector() == before);
  Autoencoder deeper(small_mlp(3, {4, 4}));
  const std::string e2 = error_of([&] { load_checkpoint_into(deeper, path); });
  CHECK(contains(e2, "missing: encoder.5.weight, encoder.5.bias, decoder.4.weight, decoder.4.bias"));
  AutoencoderConfig f64 = small_mlp(3);
  f64.dtype = DType::f64;
  Autoencoder double_model(f64);
  CHECK(contains(error_of([&] { load_checkpoint_into(double_model, path); }),
                 "(file f32[4,3], model f64[4,3])"));
  Autoencoder shallow(small_mlp(3, {}));
  CHECK(contains(error_of([&] { load_checkpoint_into(shallow, path); }), "unexpected: decoder.2.bias"));

  const NamedTensors clash = {{"encoder.1.bias", Tensor::ones({4})}};
  CHECK(contains(error_of([&] { save_checkpoint(path, saved, {}, clash); }),
                 "extra tensor 'encoder.1.bias' has a parameter's name"));
  CHECK(contains(error_of([&] { save_checkpoint(path, saved, {}, {}, {{kConfigKey, "{}"}}); }), "reserved"));
}

TEST_CASE("PyTorch loads our checkpoints and we load PyTorch's: same names, same outputs") {
  if (!torch_importable()) {
    MESSAGE("skipped: " << kPython << " cannot import torch (install python3-torch to run this check)");
    return;
  }
  TempDir dir;
  AutoencoderConfig mlp = small_mlp(5, {16, 8});
  mlp.input_shape = {5};
  mlp.activation = "gelu";
  mlp.output_activation = "sigmoid";
  AutoencoderConfig conv;
  conv.arch = "conv";
  conv.input_shape = {3, 20, 12};  // padded to 32x16 and cropped back
  conv.code_dim = 3;
  conv.width = 2;
  conv.activation = "leaky_relu(0.2)";
  conv.variational = true;
  conv.dtype = DType::f64;
  conv.seed = 6;
  struct Case {
    std::string name;
    AutoencoderConfig config;
    double tolerance;
  };
  const std::vector<Case> cases = {{"mlp", mlp, 1e-6}, {"conv", conv, 1e-12}};

  for (const Case& c : cases) {
    Autoencoder ours(c.config);
    Shape x_shape{4};
    x_shape.insert(x_shape.end(), c.config.input_shape.begin(), c.config.input_shape.end());
    Generator gen(7);
    write_bytes(dir / (c.name + ".config.json"), json(c.config).dump());
    save_safetensors(dir / (c.name + ".input.safetensors"),
                     {{"input", Tensor::randn(x_shape, gen, c.config.dtype)}});
    save_checkpoint(dir / (c.name + ".ours.safetensors"), ours, json(c.config));
  }

  const std::string script =
      (std::filesystem::path(__FILE__).parent_path() / "torch_safetensors.py").string();
  const Outcome torch = run_command(std::string(kPython) + " " + script + " " + dir.path.string());
  REQUIRE_MESSAGE(torch.status == 0, torch.output);

  for (const Case& c : cases) {
    CAPTURE(c.name);
    Tensor x = load_safetensors(dir / (c.name + ".input.safetensors")).tensors.at(0).second;
    // Our weights through PyTorch's layers.
    Autoencoder ours(c.config);
    Tensor torch_of_ours = load_safetensors(dir / (c.name + ".ours_out.safetensors")).tensors.at(0).second;
    CHECK(gg::test::max_abs_diff(ours(x), torch_of_ours) <= c.tolerance);
    // PyTorch's weights, names and config through ours.
    const std::string theirs_path = dir / (c.name + ".torch.safetensors");
    Autoencoder theirs(read_checkpoint(theirs_path).config.get<AutoencoderConfig>());
    load_checkpoint_into(theirs, theirs_path);
    Tensor torch_out = load_safetensors(dir / (c.name + ".torch_out.safetensors")).tensors.at(0).second;
    CHECK(torch_out.shape() == x.shape());
    CHECK(gg::test::max_abs_diff(theirs(x), torch_out) <= c.tolerance);
    CHECK(gg::test::max_abs_diff(theirs(x), ours(x)) > 1e-3);  // PyTorch drew its own weights
  }
}
