#include "models/training.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "datasets/files.h"
#include "models/checkpoint.h"
#include "models/config_reader.h"

namespace gg {

using nlohmann::json;

void to_json(json& j, const EpochRecord& r) {
  j = {{"epoch", r.epoch}, {"loss", r.loss}, {"reconstruction", r.reconstruction}, {"variant_term", r.variant_term},
       {"regularizers", r.regularizers}, {"regularizer_total", r.regularizer_total}, {"test_mse", r.test_mse},
       {"lr", r.lr}, {"seconds", r.seconds}};
  if (!r.skipped_steps.empty()) j["skipped_steps"] = r.skipped_steps;
}

void from_json(const json& j, EpochRecord& r) {
  r = EpochRecord{};
  r.epoch = j.at("epoch");
  r.loss = j.at("loss"), r.reconstruction = j.at("reconstruction");
  if (j.contains("variant_term")) {
    r.variant_term = j.at("variant_term");
    r.regularizers = j.at("regularizers").get<std::map<std::string, double>>();
    r.regularizer_total = j.at("regularizer_total");
  } else {  // an older record: "regularizer" was the variant's term, "extra" the regularizer section's
    r.variant_term = j.at("regularizer");
    r.regularizer_total = j.at("extra");
  }
  if (j.contains("skipped_steps"))
    r.skipped_steps = j.at("skipped_steps").get<std::map<std::string, int64_t>>();
  r.test_mse = j.at("test_mse"), r.lr = j.at("lr"), r.seconds = j.at("seconds");
}

namespace {

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

// The first of `grads` holding a NaN or an Inf (0 times each element sums to 0 unless one is not finite), or
// -1: one reduction per tensor, on any device.
int64_t first_nonfinite(const std::vector<Tensor>& grads) {
  for (size_t i = 0; i < grads.size(); ++i)
    if (!finite(sum(grads[i] * 0.0).item())) return static_cast<int64_t>(i);
  return -1;
}

}  // namespace


TrainingPlan plan_training(json config, const Shape& sample, const ExtraLossFactory& extra) {
  TrainingPlan plan;
  json& m = config["model"];
  if (!m.contains("input_shape")) m["input_shape"] = sample;
  if (!m.contains("seed")) m["seed"] = config["seed"].get<uint64_t>();
  if (!m.contains("device")) m["device"] = config["device"];
  plan.model = m.get<AutoencoderConfig>();
  GG_CHECK(plan.model.input_shape == sample, "model.input_shape " + shape_str(plan.model.input_shape) +
                                                 " does not match the data's samples " + shape_str(sample));
  m = json(plan.model);
  plan.variant = config["variant"].get<VariantConfig>();
  validate(plan.variant, plan.model);
  config["variant"] = json(plan.variant);

  const json& terms = config["regularizer"];
  // The terms choose their Jacobian route from the layer widths of arch mlp and conv
  // (regularizers/contractive.h: contractive_cost), which a listed model does not have.
  GG_CHECK(
      plan.model.arch != "sequential" || terms.empty(),
      "regularizer: arch \"sequential\" trains without regularizer terms (their cost model reads the layer "
      "sizes of arch \"mlp\" and \"conv\" only)");
  for (size_t i = 0; i < terms.size(); ++i) {
    const std::string kind = terms[i]["kind"];
    GG_CHECK(static_cast<bool>(extra), "regularizer: kind '" + kind +
                                           "' is built by the regularizers library (regularizers/regularizer.h: "
                                           "make_regularizer_loss, the Trainer's second argument); this caller gave none");
    // Its parser's errors name the term by its place in the list: regularizer[1].lambda.
    with_config_path("regularizer[" + std::to_string(i) + "]",
                     [&] { plan.terms.emplace_back(kind, extra(terms[i])); });
  }
  // Built here without parameters only to read its section, so that its errors come with the others, before
  // the model is allocated; the Trainer builds it again over the model's parameters.
  (void)make_optimizer(config["optimizer"], {});
  const json& t = config["training"];
  GG_CHECK(t["epochs"].get<int64_t>() >= 0, "training.epochs: must be >= 0");
  GG_CHECK(t["batch_size"].get<int64_t>() > 0, "training.batch_size: must be positive");
  GG_CHECK(t["clip_grad_norm"].get<double>() >= 0, "training.clip_grad_norm: must be >= 0 (0 = off)");
  plan.schedule = LrSchedule::from_json(config["schedule"], t["epochs"]);
  plan.batch_size = t["batch_size"];
  plan.config = std::move(config);
  return plan;
}

Trainer::Trainer(json user_config, const ExtraLossFactory& extra) {
  json config = canonical_config(user_config);
  const uint64_t seed = config["seed"];
  const json& data = config["data"];
  const std::string name = data["name"];
  TrainTest splits = load_train_test(name, load_options(data, seed, false), load_options(data, seed, true));
  train_ = std::move(splits.train);
  test_ = std::move(splits.test);
  GG_CHECK(train_.size() > 0 && test_.size() > 0, "data: '" + name + "' gave an empty train or test set");
  normalizer_ = Normalizer::fit(train_, data["normalize"]);
  train_ = normalized(train_, normalizer_);
  test_ = normalized(test_, normalizer_);

  TrainingPlan plan = plan_training(std::move(config), Shape(train_.x.shape().begin() + 1, train_.x.shape().end()),
                                    extra);
  config_ = std::move(plan.config);
  variant_ = plan.variant;
  terms_ = std::move(plan.terms);
  schedule_ = plan.schedule;
  model_ = std::make_unique<Autoencoder>(plan.model);
  optimizer_ = make_optimizer(config_["optimizer"], model_->parameters());
  sampler_ = std::make_unique<BatchSampler>(train_, plan.batch_size, true, seed);
  // Its own stream, so the corruption and probe draws do not repeat the initial weights' draws.
  noise_gen_ = Generator(seed ^ 0x9E3779B97F4A7C15ULL);
}

int64_t Trainer::total_epochs() const { return config_["training"]["epochs"]; }
int64_t Trainer::batches_per_epoch() const { return sampler_->num_batches(); }

BatchLoss Trainer::batch_loss(const Tensor& x, Generator& gen) {
  BatchLoss l;
  l.variant = variant_loss(*model_, x, variant_, gen);
  l.total = l.variant.total;
  for (const auto& [kind, term] : terms_) {
    const Tensor value = term(*model_, x, gen);
    if (!value.defined()) {
      l.skipped.push_back(kind);
      continue;
    }
    l.terms.emplace_back(kind, value);
    l.total = l.total + value;
  }
  return l;
}

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
  for (const auto& [kind, term] : terms_) r.regularizers[kind] = 0;
  for (int64_t i = 0; i < batches; ++i) {
    const Tensor x = sampler_->batch(epochs_done(), i).x.to(dtype);
    const Generator before = noise_gen_;
    std::vector<Tensor> grads;
    double loss = 0;
    {
      AnomalyModeGuard anomaly(anomaly_check);
      const BatchLoss l = batch_loss(x, noise_gen_);
      loss = l.total.item();
      if (finite(loss)) {
        grads = grad({l.total}, params);
        r.reconstruction += l.variant.reconstruction.item();
        r.variant_term += l.variant.regularizer.item();
        for (const auto& [kind, t] : l.terms) r.regularizers[kind] += t.item();
        for (const std::string& kind : l.skipped) ++r.skipped_steps[kind];
      }
    }
    // A finite loss can still have a non-finite gradient (an overflow in a backward rule), which the
    // optimizer would spread into every weight and the next batch's loss would blame on its first op.
    const int64_t bad_grad = finite(loss) ? first_nonfinite(grads) : -1;
    if (!finite(loss) || bad_grad >= 0) {
      // Replay the same step with anomaly mode on: the first op, forward or backward, that makes a NaN or Inf
      // names itself.
      std::string culprit = "no op produced it in a replay";
      try {
        AnomalyModeGuard anomaly;
        noise_gen_ = before;
        grad({batch_loss(x, noise_gen_).total}, params);
      } catch (const Error& e) {
        culprit = e.what();
      }
      const std::string what = bad_grad >= 0
                                   ? "the gradient of " + model_->named_parameters()[bad_grad].first +
                                         " became non-finite (loss " + std::to_string(loss) + ")"
                                   : "the loss became " + std::to_string(loss);
      fail("training: " + what + " at epoch " + std::to_string(r.epoch) + ", batch " + std::to_string(i + 1) +
           ": " + culprit);
    }
    if (clip > 0) clip_grad_norm(grads, clip);
    optimizer_->step(grads);
    r.loss += loss;
    if (on_batch) on_batch(i, loss);
  }
  r.loss /= batches, r.reconstruction /= batches, r.variant_term /= batches;
  for (auto& [kind, value] : r.regularizers) r.regularizer_total += (value /= batches);
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
  for (size_t i = 0; i < terms_.size(); ++i)  // a stateful term's state (ExtraLoss::save_state)
    if (terms_[i].second.save_state)
      for (const auto& [name, t] : terms_[i].second.save_state())
        extra.emplace_back("term." + std::to_string(i) + "." + name, t);
  const json state = {{"optimizer_steps", optimizer_->steps_taken()},
                      {"noise_generator", {{"seed", noise_gen_.seed}, {"offset", noise_gen_.offset}}},
                      {"normalizer", {{"kind", normalizer_.kind}, {"shift", normalizer_.shift}, {"scale", normalizer_.scale}}},
                      {"history", history_}};
  gg::save_checkpoint(path, *model_, config_, extra, {{kState, state.dump()}});
}

void Trainer::resume(const std::string& path) {
  Checkpoint ck = read_checkpoint(path);
  GG_CHECK(ck.metadata.count(kState), path + ": not a training checkpoint (no " + kState + " in its metadata)");
  // Both in the canonical form, so a checkpoint written before a spelling changed still matches.
  json mine = config_, theirs = ck.config.is_object() ? canonical_config(ck.config) : ck.config;
  mine["training"].erase("epochs");
  if (theirs.contains("training")) theirs["training"].erase("epochs");
  const json diff = json::diff(theirs, mine);
  GG_CHECK(diff.empty(), path + ": was trained with another config (only training.epochs may change); differs at " +
                             (diff.empty() ? std::string() : diff[0]["path"].get<std::string>()));
  load_checkpoint_into(*model_, path);
  const json state = parse_json(ck.metadata.at(kState), "checkpoint '" + path + "': metadata '" + kState + "'");
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
  for (size_t i = 0; i < terms_.size(); ++i) {
    if (!terms_[i].second.load_state) continue;
    const std::string prefix = "term." + std::to_string(i) + ".";
    NamedTensors term_state;
    for (const auto& [n, t] : ck.extra)
      if (n.rfind(prefix, 0) == 0) term_state.emplace_back(n.substr(prefix.size()), t);
    terms_[i].second.load_state(term_state);  // empty when the term had no state yet
  }
  try {
    optimizer_->load_state(buffers, state.at("optimizer_steps"));
    noise_gen_.seed = state.at("noise_generator").at("seed");
    noise_gen_.offset = state.at("noise_generator").at("offset");
    history_ = state.at("history").get<std::vector<EpochRecord>>();
  } catch (const json::exception& e) {  // a key missing or of the wrong type: name the file and the metadata
    fail(path + ": metadata '" + kState + "' is damaged (" + e.what() + ")");
  }
}

}  // namespace gg
