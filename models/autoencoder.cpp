#include "models/autoencoder.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "engine/backend/backend.h"
#include "models/config_reader.h"

namespace gg {

namespace {

[[noreturn]] void bad_key(const std::string& key, const std::string& problem) {
  fail(config_path("model", key) + ": " + problem);
}

// Runs check(), re-raising its Error as one about `key`.
template <class F>
void check_key(const std::string& key, F&& check) {
  try {
    check();
  } catch (const Error& e) {
    bad_key(key, e.what());
  }
}

// Where the conv encoder's ZeroPad2d puts the rows (or columns) that bring n up to a multiple of 16.
struct Padding {
  int64_t before, after;
};
Padding pad_to_16(int64_t n) {
  const int64_t extra = (16 - n % 16) % 16;
  return {extra / 2, extra - extra / 2};
}

// Layer options whose kaiming gain is that of the activation that follows the layer.
LayerOptions options_before(const std::string& next_activation, const AutoencoderConfig& c) {
  LayerOptions o;
  o.init = parse_init(c.init);
  if (o.init.scheme == InitScheme::kaiming_uniform || o.init.scheme == InitScheme::kaiming_normal)
    o.init.gain = Activation(next_activation).gain();
  o.dtype = c.dtype;
  o.device = c.device;
  return o;
}

}  // namespace

// ---- Config -------------------------------------------------------------------------------------------

void validate(const AutoencoderConfig& c) {
  if (c.arch != "mlp" && c.arch != "conv" && c.arch != "sequential")
    bad_key("arch", "expected \"mlp\", \"conv\" or \"sequential\", got \"" + c.arch + "\"");
  const char* listing =
      "arch \"sequential\" needs its layers listed, e.g. [{\"kind\": \"Linear\", ...}, ...]";
  if (c.arch == "sequential" && c.encoder.empty()) bad_key("encoder", listing);
  if (c.arch == "sequential" && c.decoder.empty()) bad_key("decoder", listing);
  if (c.input_shape.empty()) bad_key("input_shape", "required, e.g. [2] or [1, 28, 28]");
  for (int64_t d : c.input_shape)
    if (d <= 0) bad_key("input_shape", "sizes must be positive, got " + shape_str(c.input_shape));
  if (c.arch == "conv" && c.input_shape.size() != 3)
    bad_key("input_shape", "arch \"conv\" needs [C, H, W], got " + shape_str(c.input_shape));
  if (c.code_dim <= 0) bad_key("code_dim", "must be a positive integer, got " + std::to_string(c.code_dim));
  for (int64_t h : c.hidden)
    if (h <= 0) bad_key("hidden", "widths must be positive, got " + shape_str(c.hidden));
  if (c.width <= 0) bad_key("width", "must be a positive integer, got " + std::to_string(c.width));
  check_key("activation", [&] { Activation a(c.activation); });
  check_key("code_activation", [&] { Activation a(c.code_activation); });
  check_key("output_activation", [&] { Activation a(c.output_activation); });
  check_key("init", [&] { parse_init(c.init); });
  check_key("device", [&] { backend_for(c.device); });  // a device this build has
  if (c.variational && Activation(c.code_activation).kind() != Activation::Kind::identity)
    bad_key("code_activation", "must be \"identity\" for a variational encoder, got \"" + c.code_activation +
                                   "\" (its outputs are a mean and a log-variance)");
}

void to_json(nlohmann::json& j, const AutoencoderConfig& c) {
  j = nlohmann::json::object();
  j["arch"] = c.arch;
  j["input_shape"] = c.input_shape;
  j["code_dim"] = c.code_dim;
  if (c.arch == "mlp") j["hidden"] = c.hidden;
  if (c.arch == "conv") j["width"] = c.width;
  if (c.arch == "sequential") {
    j["encoder"] = c.encoder;
    j["decoder"] = c.decoder;
  } else {
    j["activation"] = c.activation;
    j["code_activation"] = c.code_activation;
    j["output_activation"] = c.output_activation;
  }
  j["init"] = c.init;
  j["variational"] = c.variational;
  j["dtype"] = dtype_name(c.dtype);
  j["device"] = c.device.str();
  j["seed"] = c.seed;
}

void from_json(const nlohmann::json& j, AutoencoderConfig& out) {
  ConfigReader r(j, "model");
  AutoencoderConfig c;
  r.read_choice("arch", c.arch, {"mlp", "conv", "sequential"});
  const bool listed = c.arch == "sequential";
  c.input_shape = r.required<Shape>("input_shape");
  c.code_dim = r.required<int64_t>("code_dim");
  if (r.read("hidden", c.hidden) && c.arch != "mlp") r.fail_at("hidden", "applies only to arch \"mlp\"");
  if (r.read("width", c.width) && c.arch != "conv") r.fail_at("width", "applies only to arch \"conv\"");
  if (r.read("encoder", c.encoder) && !listed) r.fail_at("encoder", "applies only to arch \"sequential\"");
  if (r.read("decoder", c.decoder) && !listed) r.fail_at("decoder", "applies only to arch \"sequential\"");
  for (auto [key, field] :
       {std::pair{"activation", &c.activation}, std::pair{"code_activation", &c.code_activation},
        std::pair{"output_activation", &c.output_activation}})
    if (r.read(key, *field) && listed)
      r.fail_at(key,
                "does not apply to arch \"sequential\", whose encoder and decoder list their activations");
  r.read("init", c.init);
  r.read("variational", c.variational);
  std::string dtype = dtype_name(c.dtype), device = c.device.str();
  r.read_choice("dtype", dtype, {"f32", "f64"});
  c.dtype = dtype == "f32" ? DType::f32 : DType::f64;
  if (r.read("device", device)) check_key("device", [&] { c.device = parse_device(device); });
  r.read("seed", c.seed);
  r.done();
  validate(c);
  out = c;
}

// ---- Autoencoder --------------------------------------------------------------------------------------

Autoencoder::Autoencoder(const AutoencoderConfig& config) : Module("Autoencoder"), config_(config) {
  validate(config_);
  const AutoencoderConfig& c = config_;
  encoder_ = &register_module("encoder", std::make_shared<Sequential>());
  decoder_ = &register_module("decoder", std::make_shared<Sequential>());
  Sequential& enc = *encoder_;
  Sequential& dec = *decoder_;
  Generator gen(c.seed);
  const int64_t k = c.code_dim, head = c.variational ? 2 * k : k;
  auto act = [](const std::string& spec) { return std::make_shared<Activation>(spec); };
  if (c.arch == "sequential") {
    build_listed_layers(gen);
    return;
  }

  if (c.arch == "mlp") {
    // The input width of each encoder Linear, [D, hidden...]; the decoder runs through them backwards.
    std::vector<int64_t> widths{shape_numel(c.input_shape)};
    widths.insert(widths.end(), c.hidden.begin(), c.hidden.end());
    const size_t layers = widths.size();  // Linear layers on each side
    enc.add(std::make_shared<Flatten>());
    for (size_t i = 0; i < layers; ++i) {
      const bool last = i + 1 == layers;
      const std::string& next = last ? c.code_activation : c.activation;
      enc.add(std::make_shared<Linear>(widths[i], last ? head : widths[i + 1], gen, options_before(next, c)));
      enc.add(act(next));
    }
    for (size_t i = layers; i-- > 0;) {
      const bool last = i == 0;
      const std::string& next = last ? c.output_activation : c.activation;
      dec.add(std::make_shared<Linear>(i + 1 == layers ? k : widths[i + 1], widths[i], gen,
                                       options_before(next, c)));
      dec.add(act(next));
    }
    dec.add(std::make_shared<Unflatten>(c.input_shape));
    return;
  }

  // conv (Table 3 of paper 002).
  const int64_t C = c.input_shape[0], H = c.input_shape[1], W = c.input_shape[2], d = c.width;
  const Padding ph = pad_to_16(H), pw = pad_to_16(W);
  const int64_t gh = (H + ph.before + ph.after) / 16, gw = (W + pw.before + pw.after) / 16;  // the code grid
  const std::vector<int64_t> channels{C, d, 2 * d, 4 * d, 8 * d};
  const int64_t flat = 8 * d * gh * gw;
  enc.add(std::make_shared<ZeroPad2d>(pw.before, pw.after, ph.before, ph.after));
  for (size_t i = 0; i < 4; ++i) {
    enc.add(std::make_shared<Conv2d>(channels[i], channels[i + 1], 3, 2, 1, gen,
                                     options_before(c.activation, c)));
    enc.add(act(c.activation));
  }
  enc.add(std::make_shared<Flatten>());
  enc.add(std::make_shared<Linear>(flat, head, gen, options_before(c.code_activation, c)));
  enc.add(act(c.code_activation));

  dec.add(std::make_shared<Linear>(k, flat, gen, options_before(c.activation, c)));
  dec.add(act(c.activation));
  dec.add(std::make_shared<Unflatten>(Shape{8 * d, gh, gw}));
  for (size_t i = 4; i > 0; --i) {
    const std::string& next = i == 1 ? c.output_activation : c.activation;
    dec.add(std::make_shared<ConvTranspose2d>(channels[i], channels[i - 1], 3, 2, 1, 1, gen,
                                              options_before(next, c)));
    dec.add(act(next));
  }
  dec.add(std::make_shared<ZeroPad2d>(-pw.before, -pw.after, -ph.before, -ph.after));  // the crop back to H x W
}

void Autoencoder::build_listed_layers(Generator& gen) {
  const AutoencoderConfig& c = config_;
  struct Side {
    const char* key;
    const std::vector<LayerSpec>& layers;
    Sequential& module;
    Shape in, out;  // one sample's
    std::string out_meaning;
  };
  const int64_t k = c.code_dim;
  const std::vector<Side> sides = {
      {"encoder",
       c.encoder,
       *encoder_,
       c.input_shape,
       {c.variational ? 2 * k : k},
       c.variational ? "the mean and log-variance of code_dim " + std::to_string(k) : "code_dim"},
      {"decoder", c.decoder, *decoder_, {k}, c.input_shape, "input_shape"}};
  for (const Side& side : sides) {
    Shape batch{1};
    batch.insert(batch.end(), side.in.begin(), side.in.end());
    Tensor t = Tensor::zeros(batch, c.dtype, c.device);
    for (size_t i = 0; i < side.layers.size(); ++i) {
      // Kaiming's gain is that of the activation right after the layer, as for mlp and conv.
      const std::string next = i + 1 < side.layers.size() ? side.layers[i + 1].activation() : "";
      try {
        Module& layer = side.module.add(
            make_layer(side.layers[i], gen, options_before(next.empty() ? "identity" : next, c)));
        NoGradGuard no_grad;
        t = layer(t);
      } catch (const Error& e) {
        fail(config_path("model", side.key) + "[" + std::to_string(i) + "]: " + e.what());
      }
    }
    const Shape sample(t.shape().begin() + 1, t.shape().end());
    GG_CHECK(sample == side.out, config_path("model", side.key) + ": gives one sample of shape " +
                                     shape_str(sample) + ", where " + side.out_meaning + " needs " +
                                     shape_str(side.out));
  }
}

void Autoencoder::check_sample(const Tensor& t, const Shape& sample, const char* what) const {
  std::string expect = "[N";
  for (int64_t d : sample) expect += "," + std::to_string(d);
  expect += "]";
  const bool ok = t.defined() && t.dim() == int64_t(sample.size()) + 1 &&
                  std::equal(sample.begin(), sample.end(), t.shape().begin() + 1);
  GG_CHECK(ok, std::string("Autoencoder.") + what + ": input " + (t.defined() ? t.str() : "undefined") +
                   " does not match " + expect);
  GG_CHECK(t.dtype() == config_.dtype, std::string("Autoencoder.") + what + ": input " + t.str() +
                                           " has a different dtype from the model's " +
                                           dtype_name(config_.dtype));
}

Tensor Autoencoder::encode(const Tensor& x) {
  check_sample(x, config_.input_shape, "encode");
  Tensor h = (*encoder_)(x);
  return config_.variational ? slice(h, 1, 0, config_.code_dim) : h;
}

Autoencoder::Distribution Autoencoder::encode_distribution(const Tensor& x) {
  GG_CHECK(config_.variational, "Autoencoder.encode_distribution: the model is not variational");
  check_sample(x, config_.input_shape, "encode_distribution");
  Tensor h = (*encoder_)(x);
  const int64_t k = config_.code_dim;
  return {slice(h, 1, 0, k), slice(h, 1, k, 2 * k)};
}

Tensor Autoencoder::decode(const Tensor& z) {
  check_sample(z, {config_.code_dim}, "decode");
  return (*decoder_)(z);
}

Tensor Autoencoder::forward(const Tensor& x) { return decode(encode(x)); }

Tensor Autoencoder::latent_map(const Tensor& z) { return encode(decode(z)); }

std::string Autoencoder::describe() const {
  return "Autoencoder(" + config_.arch + (config_.variational ? ", variational" : "") + ", input " +
         shape_str(config_.input_shape) + ", code " + std::to_string(config_.code_dim) + ", " +
         dtype_name(config_.dtype) + ", " + std::to_string(num_parameters()) +
         " parameters)\n  encoder: " + encoder_->describe() + "\n  decoder: " + decoder_->describe();
}

}  // namespace gg
