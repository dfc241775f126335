// Training an autoencoder from one JSON config: data, model, variant, optimizer, schedule and loop settings.
// The same config and seed give the same numbers on the same machine, and a run resumed from its checkpoint
// continues to the numbers it would have reached without stopping.
//
// Config (every key optional except model.code_dim; unknown keys are refused with their path):
//   seed                    fixes the weights, the batch order, and every corruption/probe draw
//   data      {name, n, test_n, noise, normalize, limit, test_limit, test_fraction, image_size, channels}
//   model     AutoencoderConfig (models/autoencoder.h); input_shape defaults to the data's sample shape
//   variant   VariantConfig (models/variants.h)
//   optimizer {name: sgd|adam|adamw, lr, ...} (models/optim.h)
//   schedule  {kind: constant|step|linear, step_size, gamma, end_factor}
//   training  {epochs, batch_size, clip_grad_norm, checkpoint_every, anomaly_check}
//   regularizer {kind: none | ..., lambda, ...}: a loss term from a layer above models (regularizers/), handed
//             to the Trainer as an ExtraLoss built from this section; models itself knows none of them
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "datasets/batching.h"
#include "models/autoencoder.h"
#include "models/optim.h"
#include "models/variants.h"

namespace gg {

// The defaults of every section, filled into a user's config: what config.json of a run records.
nlohmann::json default_train_config();
// Applies "a.b.c=value" overrides (value parsed as JSON, else taken as a string). A path that is not in the
// config is refused, so a typo in --set fails instead of being ignored.
void apply_overrides(nlohmann::json& config, const std::vector<std::string>& sets);

// An extra term of the loss, already weighted (lambda * R), for one batch x of the model.
using ExtraLoss = std::function<Tensor(Autoencoder& model, const Tensor& x, Generator& gen)>;
// Builds the ExtraLoss that the config's "regularizer" section asks for (it refuses what it does not know).
using ExtraLossFactory = std::function<ExtraLoss(const nlohmann::json& regularizer_section)>;

struct EpochRecord {
  int64_t epoch = 0;  // 1-based
  double loss = 0, reconstruction = 0, regularizer = 0;  // means over the epoch's batches
  double extra = 0;                                      // the config's "regularizer" term (mean)
  double test_mse = 0;                                    // reconstruction error on the test set
  double lr = 0, seconds = 0;
};
void to_json(nlohmann::json& j, const EpochRecord& r);
void from_json(const nlohmann::json& j, EpochRecord& r);

class Trainer {
 public:
  // Loads the data and builds the model and optimizer; every config error surfaces here, before training.
  // A "regularizer" section other than {"kind": "none"} needs `extra` to build its loss term.
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
  ExtraLoss extra_loss_;
  Generator noise_gen_;
  std::vector<EpochRecord> history_;
};

}  // namespace gg
