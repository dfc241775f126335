#include "datasets/batching.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <random>

#include "engine/ops/ops.h"

namespace gg {

std::vector<int64_t> shuffled_indices(int64_t n, uint64_t seed) {
  std::vector<int64_t> idx(n);
  std::iota(idx.begin(), idx.end(), 0);
  std::mt19937_64 rng(seed);
  std::shuffle(idx.begin(), idx.end(), rng);
  return idx;
}

Dataset subset(const Dataset& d, const std::vector<int64_t>& indices) {
  GG_CHECK(d.x.defined(), "subset: dataset '" + d.name + "' is empty");
  Shape shape = d.x.shape();
  const int64_t n = shape[0], row = d.x.numel() / std::max<int64_t>(n, 1);
  shape[0] = static_cast<int64_t>(indices.size());
  Dataset out;
  out.name = d.name;
  out.num_classes = d.num_classes;
  out.class_names = d.class_names;
  out.x = Tensor::empty(shape, d.x.dtype());
  const size_t row_bytes = row * dtype_size(d.x.dtype());
  const auto* src = static_cast<const char*>(d.x.raw());
  auto* dst = static_cast<char*>(out.x.raw());
  for (size_t i = 0; i < indices.size(); ++i) {
    const int64_t r = indices[i];
    GG_CHECK(r >= 0 && r < n, "subset: index " + std::to_string(r) + " out of range for '" + d.name + "' of " +
                                  std::to_string(n) + " samples");
    std::memcpy(dst + i * row_bytes, src + r * row_bytes, row_bytes);
    if (!d.labels.empty()) out.labels.push_back(d.labels[r]);
  }
  return out;
}

Split train_test_split(const Dataset& d, double test_fraction, uint64_t seed) {
  GG_CHECK(test_fraction >= 0 && test_fraction < 1,
           "train_test_split: test_fraction must be in [0, 1), got " + std::to_string(test_fraction));
  const auto perm = shuffled_indices(d.size(), seed);
  const auto n_test = static_cast<int64_t>(std::llround(test_fraction * d.size()));
  std::vector<int64_t> test(perm.begin(), perm.begin() + n_test), train(perm.begin() + n_test, perm.end());
  // Each part stays in shuffled order, so a prefix of a class-sorted set (the npm digits) mixes every class.
  return {subset(d, train), subset(d, test)};
}

// ---- normalization ---------------------------------------------------------------------------------------

Normalizer Normalizer::fit(const Dataset& train, const std::string& kind) {
  GG_CHECK(kind == "none" || kind == "standardize" || kind == "minmax",
           "Normalizer: unknown kind '" + kind + "' (known: none, standardize, minmax)");
  Normalizer nz;
  nz.kind = kind;
  if (kind == "none") return nz;
  GG_CHECK(train.size() > 0, "Normalizer::fit: dataset '" + train.name + "' is empty");
  const Tensor x = train.x.to(DType::f64);
  const int64_t n = x.size(0), features = train.is_images() ? 1 : x.numel() / n;
  const Tensor rows = x.reshape({train.is_images() ? x.numel() : n, features});
  std::vector<double> lo, hi;
  if (kind == "standardize") {
    lo = mean(rows, {0}).to_vector();
    hi = sqrt(var(rows, {0})).to_vector();
  } else {
    lo = (-max(-rows, {0})).to_vector();
    hi = max(rows, {0}).to_vector();
  }
  for (int64_t j = 0; j < features; ++j) {
    nz.shift.push_back(lo[j]);
    const double s = kind == "standardize" ? hi[j] : hi[j] - lo[j];
    nz.scale.push_back(s > 1e-12 ? s : 1.0);  // a constant feature maps to 0 rather than to inf
  }
  return nz;
}

namespace {
Tensor per_feature(const std::vector<double>& v, const Tensor& x) {
  if (v.size() == 1) return Tensor::scalar(v[0], x.dtype(), x.device());
  GG_CHECK(x.dim() == 2 && x.size(1) == static_cast<int64_t>(v.size()),
           "Normalizer: fitted on " + std::to_string(v.size()) + " features, got " + shape_str(x.shape()));
  return Tensor::from_data(v, {1, static_cast<int64_t>(v.size())}, x.dtype(), x.device());
}
}  // namespace

Tensor Normalizer::apply(const Tensor& x) const {
  if (kind == "none") return x;
  return (x - per_feature(shift, x)) / per_feature(scale, x);
}

Tensor Normalizer::invert(const Tensor& x) const {
  if (kind == "none") return x;
  return x * per_feature(scale, x) + per_feature(shift, x);
}

// ---- mini-batches ----------------------------------------------------------------------------------------

BatchSampler::BatchSampler(const Dataset& d, int64_t batch_size, bool shuffle, uint64_t seed, bool drop_last)
    : data_(d), batch_size_(batch_size), shuffle_(shuffle), drop_last_(drop_last), seed_(seed) {
  GG_CHECK(batch_size > 0, "BatchSampler: batch_size must be positive, got " + std::to_string(batch_size));
  GG_CHECK(d.size() > 0, "BatchSampler: dataset '" + d.name + "' is empty");
}

int64_t BatchSampler::num_batches() const {
  const int64_t n = data_.size();
  return drop_last_ ? std::max<int64_t>(n / batch_size_, 1) : (n + batch_size_ - 1) / batch_size_;
}

Batch BatchSampler::batch(int64_t epoch, int64_t i) const {
  GG_CHECK(i >= 0 && i < num_batches(), "BatchSampler: batch " + std::to_string(i) + " of " +
                                            std::to_string(num_batches()));
  if (cached_epoch_ != epoch) {
    // Each epoch's order depends only on (seed, epoch): resuming at epoch e gives the same batches.
    if (shuffle_) {
      order_ = shuffled_indices(data_.size(), seed_ * 1000003ULL + static_cast<uint64_t>(epoch));
    } else {
      order_.resize(data_.size());
      std::iota(order_.begin(), order_.end(), 0);
    }
    cached_epoch_ = epoch;
  }
  const int64_t begin = i * batch_size_, end = std::min<int64_t>(begin + batch_size_, data_.size());
  Batch b;
  b.indices.assign(order_.begin() + begin, order_.begin() + end);
  Dataset part = subset(data_, b.indices);
  b.x = part.x;
  b.labels = std::move(part.labels);
  return b;
}

}  // namespace gg
