// What the paper-002 experiment commands (ood, probe, sweep) share: reading a finished run back, picking
// seeded samples, parsing lists of options, and image sets compatible with a run's model.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "datasets/dataset.h"
#include "cli/output.h"
#include "dynamics/field.h"
#include "models/training.h"

namespace gg::cli {

// "1,2,4" -> {1, 2, 4}; every item must be an integer >= min_value (what names the option in errors).
std::vector<int64_t> parse_int_list(const std::string& s, const std::string& what, int64_t min_value = 1);

// A run folder's model as trained: Trainer(RUN/config.json) with the checkpoint's weights and the data
// normalized as in training (a Trainer holds references into itself, hence the pointer).
std::unique_ptr<Trainer> load_run(const std::string& run_dir);

// The first min(n, size) indices of a seeded permutation of 0..size-1.
std::vector<int64_t> pick_rows(int64_t size, int64_t n, uint64_t seed);

// An image set by name ("mnist", "fashion-mnist", a path...) read as the run's data is read (same image_size,
// channels, test_fraction and seed), split `split`; empty Dataset when it cannot be loaded or its samples do
// not have the model's input shape (`why` then says which). Values are in data units (not normalized).
Dataset load_compatible_set(Trainer& trainer, const std::string& name, const std::string& split,
                            std::string& why);

// The other 28x28 grey set for an MNIST-like run: "fashion-mnist" for mnist and the reverse; "" otherwise.
std::string companion_set(const Trainer& trainer);

// Iteration caps from --max-iters / --tol over the given defaults (recorded in metrics as JSON).
nlohmann::json iterate_json(const IterateOptions& o);

}  // namespace gg::cli
