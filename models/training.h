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
//   regularizer a list of loss terms from a layer above models (regularizers/), each {kind, lambda, ...}, e.g.
//             [{"kind": "contractive", ...}, {"kind": "poisson", ...}]; a single object is one term, and
//             {"kind": "none"} or [] is none. Each term becomes an ExtraLoss through the factory the caller
//             hands the Trainer (regularizers/regularizer.h: make_regularizer_loss); models itself knows none
//             of them and only moves their JSON. A kind appears once: it names the term's record.
//
// Old spellings, rewritten by complete_config so that old configs and the config.json of old runs (which
// --resume reads) keep working, while a run's config.json records the canonical form: variant.kind
// "contractive" or "contractive_full" with {lambda, probes} was the contractive penalty; it becomes
// variant.kind "plain" (lambda 0) and, first in the regularizer list,
//   {"kind": "contractive", "lambda": lambda, "of": "encoder" ("contractive") | "autoencoder" ("contractive_full"),
//    "penalty": {"method": "exact"} (probes 0) | {"method": "hutchinson", "probes": k} (probes k > 0)}
// and the key variant.probes, which every other kind ignored, is dropped.
#pragma once

#include <functional>
#include <map>
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
// A config in its canonical form: defaults filled in, old spellings rewritten (above), the regularizer
// section a list, the variant (and the model, once it has its input_shape) in the form their parsers write.
// Idempotent; what the Trainer keeps and a run's config.json records. Refuses unknown keys by path.
nlohmann::json canonical_config(const nlohmann::json& config);
// The term of kind `kind` in a canonical config's regularizer list, or null when it has none.
const nlohmann::json* find_regularizer_term(const nlohmann::json& config, const std::string& kind);
// Applies "a.b.c=value" overrides (value parsed as JSON, else taken as a string). A path that is not in the
// config is refused, so a typo in --set fails instead of being ignored.
void apply_overrides(nlohmann::json& config, const std::vector<std::string>& sets);

// An extra term of the loss, already weighted (lambda * R), for one batch x of the model.
using ExtraLoss = std::function<Tensor(Autoencoder& model, const Tensor& x, Generator& gen)>;
// Builds the ExtraLoss of one term of the config's "regularizer" list (it refuses what it does not know).
using ExtraLossFactory = std::function<ExtraLoss(const nlohmann::json& regularizer_term)>;

struct EpochRecord {
  int64_t epoch = 0;  // 1-based
  double loss = 0, reconstruction = 0;         // means over the epoch's batches
  double variant_term = 0;                     // the variant's own lambda R (weight decay, KL, sparsity; mean)
  std::map<std::string, double> regularizers;  // each regularizer term's lambda R, by its kind (mean)
  double regularizer_total = 0;                // their sum
  double test_mse = 0;                         // reconstruction error on the test set
  double lr = 0, seconds = 0;
};
// JSON keys epoch, loss, reconstruction, variant_term, regularizers {kind: value}, regularizer_total,
// test_mse, lr, seconds. from_json also reads the records of older metrics.json files and checkpoints,
// whose "regularizer" was the variant's term and "extra" the regularizer section's (regularizers then stays
// empty: those files did not say which kind it was).
void to_json(nlohmann::json& j, const EpochRecord& r);
void from_json(const nlohmann::json& j, EpochRecord& r);

// One batch's loss, term by term.
struct BatchLoss {
  VariantLoss variant;                                // the reconstruction and the variant's own term
  std::vector<std::pair<std::string, Tensor>> terms;  // each regularizer term (lambda R), by kind, in order
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
