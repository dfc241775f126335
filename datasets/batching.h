// From a Dataset to what a training loop consumes: seeded shuffles and splits, normalization, mini-batches.
#pragma once

#include <string>
#include <vector>

#include "datasets/dataset.h"

namespace gg {

// A permutation of 0..n-1 fixed by the seed.
std::vector<int64_t> shuffled_indices(int64_t n, uint64_t seed);

// The samples at `indices`, in that order (labels follow).
Dataset subset(const Dataset& d, const std::vector<int64_t>& indices);

// A seeded split: the first round(test_fraction * N) samples of a seeded permutation are the test set, the
// rest the training set, each in that shuffled order.
struct Split {
  Dataset train, test;
};
Split train_test_split(const Dataset& d, double test_fraction, uint64_t seed);

// An affine map x -> (x - shift) / scale per feature (or one value for images), fitted on a training set and
// applied unchanged to any other set, so test data sees the training statistics.
//   none:        identity
//   standardize: per-feature mean and std (points); one mean and std over all pixels (images)
//   minmax:      per-feature min to 0 and max to 1 (points); one min and max (images)
struct Normalizer {
  std::string kind = "none";
  std::vector<double> shift, scale;  // one per feature (points) or a single value (images)

  static Normalizer fit(const Dataset& train, const std::string& kind);
  Tensor apply(const Tensor& x) const;    // normalized
  Tensor invert(const Tensor& x) const;   // back to data units
};

// Mini-batches of a dataset, reshuffled each epoch from (seed, epoch), so batch (e, i) is the same on every run.
struct Batch {
  Tensor x;                       // (B, ...) f32, copied out of the dataset
  std::vector<int32_t> labels;    // empty if the dataset has none
  std::vector<int64_t> indices;   // rows of the dataset in this batch
};

class BatchSampler {
 public:
  BatchSampler(const Dataset& d, int64_t batch_size, bool shuffle, uint64_t seed, bool drop_last = false);
  int64_t num_batches() const;
  Batch batch(int64_t epoch, int64_t i) const;

 private:
  const Dataset& data_;
  int64_t batch_size_;
  bool shuffle_, drop_last_;
  uint64_t seed_;
  mutable int64_t cached_epoch_ = -1;
  mutable std::vector<int64_t> order_;
};

}  // namespace gg
