#include "cli/experiments_common.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "datasets/batching.h"
#include "regularizers/regularizer.h"

namespace gg::cli {

using nlohmann::json;

std::vector<int64_t> parse_int_list(const std::string& s, const std::string& what, int64_t min_value) {
  std::vector<int64_t> out;
  for (const std::string& item : split_list(s)) {
    size_t used = 0;
    int64_t v = 0;
    try {
      v = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    GG_CHECK(used == item.size() && used > 0, what + ": '" + item + "' is not an integer");
    GG_CHECK(v >= min_value, what + ": " + item + " is below " + std::to_string(min_value));
    out.push_back(v);
  }
  GG_CHECK(!out.empty(), what + ": expected a comma-separated list of integers, got '" + s + "'");
  return out;
}

std::unique_ptr<Trainer> load_run(const std::string& run_dir) {
  namespace fs = std::filesystem;
  GG_CHECK(fs::exists(run_dir + "/config.json") && fs::exists(run_dir + "/checkpoint.safetensors"),
           run_dir + " is not a finished training run (it needs config.json and checkpoint.safetensors; "
                     "make one with `gradgrad train --config FILE --out " + run_dir + "`)");
  auto trainer = std::make_unique<Trainer>(read_json_file(run_dir + "/config.json"), make_regularizer_loss);
  trainer->resume(run_dir + "/checkpoint.safetensors");
  return trainer;
}

std::vector<int64_t> pick_rows(int64_t size, int64_t n, uint64_t seed) {
  std::vector<int64_t> idx = shuffled_indices(size, seed);
  idx.resize(static_cast<size_t>(std::min(size, std::max<int64_t>(n, 0))));
  return idx;
}

Dataset load_compatible_set(Trainer& trainer, const std::string& name, const std::string& split,
                            std::string& why) {
  const json& d = trainer.config()["data"];
  LoadOptions o;
  o.split = split;
  o.seed = trainer.config()["seed"];
  o.image_size = d["image_size"];
  o.channels = d["channels"];
  o.test_fraction = d["test_fraction"];
  Dataset set;
  try {
    set = load_dataset(name, o);
  } catch (const std::exception& e) {
    why = e.what();
    return {};
  }
  Shape sample(set.x.shape().begin() + 1, set.x.shape().end());
  const Shape& want = trainer.model().config().input_shape;
  if (sample != want) {
    why = name + " has samples of shape " + shape_str(sample) + ", the model takes " + shape_str(want);
    return {};
  }
  return set;
}

std::string companion_set(const Trainer& trainer) {
  const Dataset& train = trainer.train_set();
  if (!train.is_images() || train.x.size(1) != 1 || train.x.size(2) != 28 || train.x.size(3) != 28) return "";
  const std::string name = trainer.config()["data"]["name"];
  if (name == "mnist") return "fashion-mnist";
  if (name == "fashion-mnist") return "mnist";
  return "";
}

json iterate_json(const IterateOptions& o) { return {{"tol", o.tol}, {"max_iters", o.max_iters}}; }

}  // namespace gg::cli
