// Training an autoencoder from one JSON config: data, model, variant, optimizer, schedule and loop settings.
// The same config and seed give the same numbers on the same machine, and a run resumed from its checkpoint
// continues to the numbers it would have reached without stopping.
//
// The config and its sections are described in models/train_config.h.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <type_traits>
#include <vector>

#include "datasets/batching.h"
#include "models/autoencoder.h"
#include "models/optim.h"
#include "models/train_config.h"
#include "models/variants.h"

namespace gg {

// An extra term of the loss, already weighted (lambda * R), for one batch x of the model. An undefined tensor
// says the term skipped this batch (the Ritz estimator's diverged inner solve, say): the step goes on without
// it and the epoch's record counts it in skipped_steps. A term that keeps state from step to step (the Ritz
// estimator's warm-started potential) gives save_state and load_state, and checkpoints carry that state as
// "term.<index>.<name>" tensors, so a resumed run continues to the numbers of an uninterrupted one.
struct ExtraLoss {
  using Loss = std::function<Tensor(Autoencoder& model, const Tensor& x, Generator& gen)>;
  ExtraLoss() = default;
  template <class F, class = std::enable_if_t<
                         std::is_invocable_r_v<Tensor, F&, Autoencoder&, const Tensor&, Generator&>>>
  ExtraLoss(F f) : loss(std::move(f)) {}  // NOLINT: a plain function is a term without state
  Tensor operator()(Autoencoder& model, const Tensor& x, Generator& gen) const { return loss(model, x, gen); }
  explicit operator bool() const { return static_cast<bool>(loss); }

  Loss loss;
  // Empty for a term without state. load_state gets what save_state gave (names without the "term.<i>."
  // prefix).
  std::function<NamedTensors()> save_state;
  std::function<void(const NamedTensors&)> load_state;
};
// Builds the ExtraLoss of one term of the config's "regularizer" list (it refuses what it does not know).
using ExtraLossFactory = std::function<ExtraLoss(const nlohmann::json& regularizer_term)>;

// Every check a Trainer makes of a config, short of loading its data and allocating its model: the sections
// parsed (model, variant, each regularizer term through `extra`, optimizer, schedule, training) and checked
// against each other and against the data's sample shape. The Trainer calls it once it has the data; fuzz_config
// (fuzz/) calls it on arbitrary bytes, so every config error a user can meet is met there first.
struct TrainingPlan {
  nlohmann::json config;  // canonical, with the model's input_shape, seed and device filled in
  AutoencoderConfig model;
  VariantConfig variant;
  std::vector<std::pair<std::string, ExtraLoss>> terms;  // the regularizer terms, by kind, in order
  LrSchedule schedule;
  int64_t batch_size = 0;
};
// `config` is canonical (canonical_config); `sample` is the shape of one sample of the data it names.
TrainingPlan plan_training(nlohmann::json config, const Shape& sample, const ExtraLossFactory& extra);

struct EpochRecord {
  int64_t epoch = 0;  // 1-based
  double loss = 0, reconstruction = 0;         // means over the epoch's batches
  double variant_term = 0;                     // the variant's own lambda R (weight decay, KL, sparsity; mean)
  std::map<std::string, double> regularizers;  // each regularizer term's lambda R, by its kind (mean)
  std::map<std::string, int64_t> skipped_steps;  // batches a term skipped (an undefined ExtraLoss), by kind
  double regularizer_total = 0;                // their sum
  double test_mse = 0;                         // reconstruction error on the test set
  double lr = 0, seconds = 0;
};
// JSON keys epoch, loss, reconstruction, variant_term, regularizers {kind: value}, regularizer_total,
// skipped_steps {kind: count} (only when a term skipped), test_mse, lr, seconds. from_json also reads the
// records of older metrics.json files and checkpoints, whose "regularizer" was the variant's term and "extra"
// the regularizer section's (regularizers then stays empty: those files did not say which kind it was).
void to_json(nlohmann::json& j, const EpochRecord& r);
void from_json(const nlohmann::json& j, EpochRecord& r);

// One batch's loss, term by term.
struct BatchLoss {
  VariantLoss variant;                                // the reconstruction and the variant's own term
  std::vector<std::pair<std::string, Tensor>> terms;  // each regularizer term (lambda R), by kind, in order
  std::vector<std::string> skipped;                   // the kinds of the terms that skipped this batch
  Tensor total;                                       // variant.total plus every term
};

class Trainer {
 public:
  // Loads the data and builds the model and optimizer; every config error surfaces here, before training.
  // A regularizer term needs `extra` to build its loss (make_regularizer_loss from regularizers/regularizer.h).
  explicit Trainer(nlohmann::json config, const ExtraLossFactory& extra = {});

  const nlohmann::json& config() const { return config_; }  // complete, defaults filled in
  Autoencoder& model() { return *model_; }
  const Dataset& train_set() const { return train_; }
  const Dataset& test_set() const { return test_; }
  const Normalizer& normalizer() const { return normalizer_; }
  const std::vector<EpochRecord>& history() const { return history_; }
  int64_t epochs_done() const { return static_cast<int64_t>(history_.size()); }
  int64_t total_epochs() const;
  int64_t batches_per_epoch() const;

  // The loss of one batch x (normalized data in the model's dtype); `gen` draws its randomness.
  BatchLoss batch_loss(const Tensor& x, Generator& gen);
  // Runs one epoch; `on_batch(i, loss)` is called after each step (for a progress bar).
  EpochRecord train_epoch(const std::function<void(int64_t, double)>& on_batch = {});
  // Reconstruction MSE of the model on a (normalized) set, in batches, with no graph.
  double reconstruction_error(const Dataset& normalized) const;

  // The model, optimizer state, generator position and history, atomically.
  void save_checkpoint(const std::string& path) const;
  // Restores what save_checkpoint wrote; the config must match this trainer's except for training.epochs.
  void resume(const std::string& path);

 private:
  nlohmann::json config_;
  VariantConfig variant_;
  Dataset train_, test_;  // normalized
  Normalizer normalizer_;
  std::unique_ptr<Autoencoder> model_;
  std::unique_ptr<Optimizer> optimizer_;
  LrSchedule schedule_;
  std::unique_ptr<BatchSampler> sampler_;
  std::vector<std::pair<std::string, ExtraLoss>> terms_;  // the regularizer terms, by kind
  Generator noise_gen_;
  std::vector<EpochRecord> history_;
};

}  // namespace gg
