// The training config: one JSON object whose sections the Trainer (models/training.h) reads.
//
// Config (every key optional except model.code_dim; unknown keys are refused with their path):
//   seed                    fixes the weights, the batch order, and every corruption/probe draw
//   device    "cpu" (the default) or "cuda[:N]"; a device this build has no backend for is refused by name.
//             The model takes it unless model.device says otherwise.
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

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

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

}  // namespace gg
