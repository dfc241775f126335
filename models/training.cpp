#include "models/training.h"

#include <chrono>
#include <cmath>

#include "models/checkpoint.h"

namespace gg {

using nlohmann::json;

json default_train_config() {
  return {{"seed", 0},
          {"data",
           {{"name", "two-moons"}, {"n", 2048}, {"test_n", 512}, {"noise", 0.1}, {"normalize", "none"},
            {"limit", 0}, {"test_limit", 0}, {"test_fraction", 0.2}, {"image_size", 28}, {"channels", 1}}},
          {"model", json::object()},
          {"variant", json(VariantConfig{})},
          {"optimizer", {{"name", "adam"}, {"lr", 1e-3}, {"weight_decay", 0.0}}},
          {"schedule", {{"kind", "constant"}}},
          {"regularizer", {{"kind", "none"}}},
          {"training",
           {{"epochs", 100}, {"batch_size", 128}, {"clip_grad_norm", 0.0}, {"checkpoint_every", 10},
            {"anomaly_check", false}}}};
}

void apply_overrides(json& config, const std::vector<std::string>& sets) {
  for (const auto& s : sets) {
    const auto eq = s.find('=');
    GG_CHECK(eq != std::string::npos && eq > 0, "--set " + s + ": expected key.path=value");
    const std::string path = s.substr(0, eq), text = s.substr(eq + 1);
    json value = json::parse(text, nullptr, false);
    if (value.is_discarded()) value = text;  // a bare word such as adamw
    json* node = &config;
    size_t start = 0;
    for (;;) {
      const auto dot = path.find('.', start);
      const std::string key = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
      GG_CHECK(node->is_object(), "--set " + path + ": '" + path.substr(0, start ? start - 1 : 0) + "' is not a section");
      if (dot == std::string::npos) {
        // New keys are allowed inside a section; the section's own parser refuses the ones it does not know.
        (*node)[key] = value;
        break;
      }
      GG_CHECK(node->contains(key), "--set " + path + ": the config has no section '" + path.substr(0, dot) + "'");
      node = &(*node)[key];
      start = dot + 1;
    }
  }
}

void to_json(json& j, const EpochRecord& r) {
  j = {{"epoch", r.epoch},           {"loss", r.loss},         {"reconstruction", r.reconstruction},
       {"regularizer", r.regularizer}, {"extra", r.extra},       {"test_mse", r.test_mse},
       {"lr", r.lr},                 {"seconds", r.seconds}};
}

void from_json(const json& j, EpochRecord& r) {
  r.epoch = j.at("epoch");
  r.loss = j.at("loss"), r.reconstruction = j.at("reconstruction"), r.regularizer = j.at("regularizer");
  r.extra = j.at("extra");
  r.test_mse = j.at("test_mse"), r.lr = j.at("lr"), r.seconds = j.at("seconds");
}

namespace {

// Fills the defaults under the user's config, refusing keys the config does not have.
json complete_config(const json& user) {
  GG_CHECK(user.is_object(), "config: expected a JSON object");
  json c = default_train_config();
  for (const auto& [section, value] : user.items()) {
    GG_CHECK(c.contains(section), "config: unknown key '" + section +
                                      "' (known: seed, data, model, variant, optimizer, schedule, training, regularizer)");
    if (section == "seed") {
      GG_CHECK(value.is_number_integer() && value.get<int64_t>() >= 0, "seed: expected a non-negative integer, got " + value.dump());
      c[section] = value;
      continue;
    }
    GG_CHECK(value.is_object(), section + ": expected a JSON object, got " + value.dump());
    if ((section == "optimizer" && value.contains("name") && value["name"] != c["optimizer"]["name"]) ||
        section == "regularizer")
      c[section] = json::object();  // another optimizer's (or regularizer's) defaults would not fit it
    for (const auto& [key, v] : value.items()) {
      const bool free_form = section == "model" || section == "variant" || section == "optimizer" ||
                             section == "schedule" || section == "regularizer";
      GG_CHECK(free_form || c[section].contains(key), section + ": unknown key '" + key + "'");
      if (!free_form) {
        const json& like = c[section][key];
        const bool fits = like.is_number_integer() ? v.is_number_integer()
                          : like.is_number()        ? v.is_number()
                                                    : std::string(like.type_name()) == v.type_name();
        GG_CHECK(fits, section + "." + key + ": expected " + (like.is_number_integer() ? "an integer" : like.type_name()) +
                           ", got " + v.dump());
      }
      c[section][key] = v;
    }
  }
  return c;
}

LoadOptions load_options(const json& d, uint64_t seed, bool test) {
  LoadOptions o;
  o.split = test ? "test" : "train";
  o.limit = d[test ? "test_limit" : "limit"];
  o.seed = seed;
  o.n = d[test ? "test_n" : "n"];
  o.noise = d["noise"];
  o.image_size = d["image_size"];
  o.channels = d["channels"];
  o.test_fraction = d["test_fraction"];
  return o;
}

Dataset normalized(const Dataset& d, const Normalizer& nz) {
  Dataset out = d;
  out.x = nz.apply(d.x).to(DType::f32);
  return out;
}

bool finite(double v) { return std::isfinite(v); }

}  // namespace

Trainer::Trainer(json user_config, const ExtraLossFactory& extra) : config_(complete_config(user_config)) {
  const uint64_t seed = config_["seed"];
  const json& data = config_["data"];
  const std::string name = data["name"];
  train_ = load_dataset(name, load_options(data, seed, false));
  test_ = load_dataset(name, load_options(data, seed, true));
  GG_CHECK(train_.size() > 0 && test_.size() > 0, "data: '" + name + "' gave an empty train or test set");
  normalizer_ = Normalizer::fit(train_, data["normalize"]);
  train_ = normalized(train_, normalizer_);
  test_ = normalized(test_, normalizer_);

  json& m = config_["model"];
  if (!m.contains("input_shape")) m["input_shape"] = Shape(train_.x.shape().begin() + 1, train_.x.shape().end());
  if (!m.contains("seed")) m["seed"] = seed;
  const AutoencoderConfig model_config = m.get<AutoencoderConfig>();
  const Shape sample(train_.x.shape().begin() + 1, train_.x.shape().end());
  GG_CHECK(model_config.input_shape == sample, "model.input_shape " + shape_str(model_config.input_shape) +
                                                   " does not match the data's samples " + shape_str(sample));
  m = json(model_config);
  variant_ = config_["variant"].get<VariantConfig>();
  validate(variant_, model_config);
  config_["variant"] = json(variant_);

  const json& reg = config_["regularizer"];
  GG_CHECK(reg.is_object() && reg.contains("kind") && reg["kind"].is_string(),
           "regularizer: expected an object with a \"kind\", got " + reg.dump());
  if (reg["kind"] != "none") {
    GG_CHECK(static_cast<bool>(extra), "regularizer: kind '" + reg["kind"].get<std::string>() +
                                           "' is built by the regularizers library; this caller gave none");
    extra_loss_ = extra(reg);
  } else {
    GG_CHECK(reg.size() == 1, "regularizer: kind \"none\" takes no other keys, got " + reg.dump());
  }

  model_ = std::make_unique<Autoencoder>(model_config);
  optimizer_ = make_optimizer(config_["optimizer"], model_->parameters());
  const json& t = config_["training"];
  GG_CHECK(t["epochs"].get<int64_t>() >= 0, "training.epochs: must be >= 0");
  GG_CHECK(t["batch_size"].get<int64_t>() > 0, "training.batch_size: must be positive");
  GG_CHECK(t["clip_grad_norm"].get<double>() >= 0, "training.clip_grad_norm: must be >= 0 (0 = off)");
  schedule_ = LrSchedule::from_json(config_["schedule"], t["epochs"]);
  sampler_ = std::make_unique<BatchSampler>(train_, t["batch_size"].get<int64_t>(), true, seed);
  // Its own stream, so the corruption and probe draws do not repeat the initial weights' draws.
  noise_gen_ = Generator(seed ^ 0x9E3779B97F4A7C15ULL);
}

int64_t Trainer::total_epochs() const { return config_["training"]["epochs"]; }
int64_t Trainer::batches_per_epoch() const { return sampler_->num_batches(); }

EpochRecord Trainer::train_epoch(const std::function<void(int64_t, double)>& on_batch) {
  const auto start = std::chrono::steady_clock::now();
  EpochRecord r;
  r.epoch = epochs_done() + 1;
  r.lr = schedule_.lr_at(config_["optimizer"]["lr"].get<double>(), epochs_done());
  optimizer_->set_lr(r.lr);
  const double clip = config_["training"]["clip_grad_norm"];
  const bool anomaly_check = config_["training"]["anomaly_check"];
  const DType dtype = model_->config().dtype;
  const std::vector<Tensor> params = model_->parameters();
  const int64_t batches = sampler_->num_batches();
  for (int64_t i = 0; i < batches; ++i) {
    const Tensor x = sampler_->batch(epochs_done(), i).x.to(dtype);
    const Generator before = noise_gen_;
    std::vector<Tensor> grads;
    double loss = 0;
    {
      AnomalyModeGuard anomaly(anomaly_check);
      const VariantLoss l = variant_loss(*model_, x, variant_, noise_gen_);
      const Tensor extra = extra_loss_ ? extra_loss_(*model_, x, noise_gen_) : Tensor();
      const Tensor total = extra.defined() ? l.total + extra : l.total;
      loss = total.item();
      if (finite(loss)) {
        grads = grad({total}, params);
        r.reconstruction += l.reconstruction.item();
        r.regularizer += l.regularizer.item();
        if (extra.defined()) r.extra += extra.item();
      }
    }
    if (!finite(loss)) {
      // Replay the same step with anomaly mode on: the first op that makes a NaN or Inf names itself.
      std::string culprit = "no op produced it in a replay";
      try {
        AnomalyModeGuard anomaly;
        noise_gen_ = before;
        Tensor total = variant_loss(*model_, x, variant_, noise_gen_).total;
        if (extra_loss_) total = total + extra_loss_(*model_, x, noise_gen_);
        grad({total}, params);
      } catch (const Error& e) {
        culprit = e.what();
      }
      fail("training: the loss became " + std::to_string(loss) + " at epoch " + std::to_string(r.epoch) + ", batch " +
           std::to_string(i + 1) + ": " + culprit);
    }
    if (clip > 0) clip_grad_norm(grads, clip);
    optimizer_->step(grads);
    r.loss += loss;
    if (on_batch) on_batch(i, loss);
  }
  r.loss /= batches, r.reconstruction /= batches, r.regularizer /= batches, r.extra /= batches;
  r.test_mse = reconstruction_error(test_);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  history_.push_back(r);
  return r;
}

double Trainer::reconstruction_error(const Dataset& d) const {
  NoGradGuard no_grad;
  const BatchSampler in_order(d, 512, false, 0);
  double squared = 0;
  for (int64_t i = 0; i < in_order.num_batches(); ++i) {
    const Tensor x = in_order.batch(0, i).x.to(model_->config().dtype);
    squared += sum(square(model_->forward(x) - x)).item();
  }
  return squared / double(d.x.numel());
}

// ---- checkpoints -----------------------------------------------------------------------------------------

namespace {
constexpr const char* kState = "gradgrad.train_state";
}

void Trainer::save_checkpoint(const std::string& path) const {
  NamedTensors extra;
  const NamedTensors names = model_->named_parameters();
  for (const auto& [kind, buffers] : optimizer_->state())
    for (size_t i = 0; i < buffers.size(); ++i) extra.emplace_back("optimizer." + kind + "." + names[i].first, buffers[i]);
  const json state = {{"optimizer_steps", optimizer_->steps_taken()},
                      {"noise_generator", {{"seed", noise_gen_.seed}, {"offset", noise_gen_.offset}}},
                      {"normalizer", {{"kind", normalizer_.kind}, {"shift", normalizer_.shift}, {"scale", normalizer_.scale}}},
                      {"history", history_}};
  gg::save_checkpoint(path, *model_, config_, extra, {{kState, state.dump()}});
}

void Trainer::resume(const std::string& path) {
  Checkpoint ck = read_checkpoint(path);
  GG_CHECK(ck.metadata.count(kState), path + ": not a training checkpoint (no " + kState + " in its metadata)");
  json mine = config_, theirs = ck.config;
  mine["training"].erase("epochs");
  if (theirs.contains("training")) theirs["training"].erase("epochs");
  const json diff = json::diff(theirs, mine);
  GG_CHECK(diff.empty(), path + ": was trained with another config (only training.epochs may change); differs at " +
                             (diff.empty() ? std::string() : diff[0]["path"].get<std::string>()));
  load_checkpoint_into(*model_, path);
  const json state = json::parse(ck.metadata.at(kState));
  std::vector<std::pair<std::string, std::vector<Tensor>>> buffers;
  const NamedTensors names = model_->named_parameters();
  for (const auto& [kind, mine_buffers] : optimizer_->state()) {
    std::vector<Tensor> loaded;
    for (const auto& [pname, p] : names) {
      const std::string key = "optimizer." + kind + "." + pname;
      const Tensor* found = nullptr;
      for (const auto& [n, t] : ck.extra)
        if (n == key) found = &t;
      GG_CHECK(found, path + ": missing optimizer buffer " + key);
      loaded.push_back(*found);
    }
    buffers.emplace_back(kind, loaded);
  }
  optimizer_->load_state(buffers, state.at("optimizer_steps"));
  noise_gen_.seed = state.at("noise_generator").at("seed");
  noise_gen_.offset = state.at("noise_generator").at("offset");
  history_ = state.at("history").get<std::vector<EpochRecord>>();
}

}  // namespace gg
