#include "experiments/run_folder.h"

#include <filesystem>

#include "datasets/batching.h"
#include "experiments/output.h"
#include "models/checkpoint.h"
#include "regularizers/regularizer.h"

namespace gg {

using nlohmann::json;

std::unique_ptr<Trainer> load_run(const std::string& run_dir) {
  namespace fs = std::filesystem;
  GG_CHECK(fs::exists(run_dir + "/config.json") && fs::exists(run_dir + "/checkpoint.safetensors"),
           run_dir + " is not a finished training run (it needs config.json and checkpoint.safetensors; "
                     "make one with `gradgrad train --config FILE --out " + run_dir + "`)");
  auto trainer = std::make_unique<Trainer>(read_json_file(run_dir + "/config.json"), make_regularizer_loss);
  trainer->resume(run_dir + "/checkpoint.safetensors");
  return trainer;
}

std::unique_ptr<Trainer> load_pretrained(const std::string& model_config, const std::string& weights) {
  const json config = read_json_file(model_config);  // its errors name the file
  std::unique_ptr<Trainer> trainer;
  try {
    trainer = std::make_unique<Trainer>(config, make_regularizer_loss);
  } catch (const Error& e) {
    fail("model config '" + model_config + "': " + e.what());
  }
  load_checkpoint_into(trainer->model(), weights);
  return trainer;
}

void to_json(json& j, const ModelSource& source) {
  j = source.run.empty() ? json{{"model", source.model}, {"weights", source.weights}}
                         : json{{"run", source.run}};
}

std::unique_ptr<Trainer> load_model(const ModelSource& source) {
  const bool pretrained = !source.model.empty() || !source.weights.empty();
  GG_CHECK(
      source.run.empty() == pretrained,
      "a model comes from a run folder or from a model config with its weights, not from both or neither");
  if (!pretrained) return load_run(source.run);
  GG_CHECK(!source.model.empty() && !source.weights.empty(),
           "a model config needs its weights, and weights need the model config they fit");
  return load_pretrained(source.model, source.weights);
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

}  // namespace gg
