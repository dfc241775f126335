// What the experiments on a finished training run share: reading the run back, picking seeded samples, and
// image sets compatible with the run's model.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "datasets/dataset.h"
#include "models/training.h"

namespace gg {

// A run folder's model as trained: Trainer(RUN/config.json) with the checkpoint's weights and the data
// normalized as in training (a Trainer holds references into itself, hence the pointer).
std::unique_ptr<Trainer> load_run(const std::string& run_dir);

// A model trained elsewhere (docs/pretrained.md): Trainer(model_config) with the parameters of a safetensors
// file, e.g. a PyTorch state_dict, whose names must be the model's (encoder.0.weight, decoder.3.bias, ...).
// model_config is a training config: its data section names the data, its model section the layers (any
// arch; "sequential" lists them). Errors name the file at fault; a missing, unexpected or mismatched tensor
// is listed with the file's and the model's shape.
std::unique_ptr<Trainer> load_pretrained(const std::string& model_config, const std::string& weights);

// Where an experiment's model comes from: a run folder, or a model config and its weights.
struct ModelSource {
  std::string run;      // RUN_DIR (config.json, checkpoint.safetensors)
  std::string model;    // or a training config describing the model and its data ...
  std::string weights;  // ... with a safetensors file of its parameters
};
// {"run": RUN} or {"model": FILE, "weights": FILE}, for the settings an experiment records.
void to_json(nlohmann::json& j, const ModelSource& source);
// load_run or load_pretrained; an Error unless exactly one of the two is given.
std::unique_ptr<Trainer> load_model(const ModelSource& source);

// The first min(n, size) indices of a seeded permutation of 0..size-1.
std::vector<int64_t> pick_rows(int64_t size, int64_t n, uint64_t seed);

// An image set by name ("mnist", "fashion-mnist", a path...) read as the run's data is read (same image_size,
// channels, test_fraction and seed), split `split`; empty Dataset when it cannot be loaded or its samples do
// not have the model's input shape (`why` then says which). Values are in data units (not normalized).
Dataset load_compatible_set(Trainer& trainer, const std::string& name, const std::string& split,
                            std::string& why);

// The other 28x28 grey set for an MNIST-like run: "fashion-mnist" for mnist and the reverse; "" otherwise.
std::string companion_set(const Trainer& trainer);

}  // namespace gg
