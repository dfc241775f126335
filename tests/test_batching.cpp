// Batching: seeded permutations and splits, normalization fitted on one set and applied to another,
// and mini-batches that visit every sample once per epoch in an order fixed by (seed, epoch).
#include <algorithm>
#include <set>

#include "datasets/batching.h"
#include "datasets/toy.h"
#include "tests/helpers.h"

using namespace gg;

namespace {
Dataset numbered(int64_t n) {  // row i holds (i, 10 i); label i % 3
  Dataset d;
  d.name = "numbered";
  d.num_classes = 3;
  std::vector<double> v;
  for (int64_t i = 0; i < n; ++i) v.push_back(i), v.push_back(10.0 * i), d.labels.push_back(i % 3);
  d.x = Tensor::from_data(v, {n, 2});
  return d;
}
}  // namespace

TEST_CASE("shuffled_indices is a permutation fixed by the seed") {
  const auto a = shuffled_indices(100, 1), b = shuffled_indices(100, 1), c = shuffled_indices(100, 2);
  CHECK(a == b);
  CHECK(a != c);
  auto sorted = a;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 100; ++i) CHECK(sorted[i] == i);
}

TEST_CASE("subset copies the chosen rows and their labels, and refuses an index out of range") {
  const Dataset d = numbered(10);
  const Dataset s = subset(d, {7, 2, 2});
  test::check_values(s.x, {7, 70, 2, 20, 2, 20});
  CHECK(s.labels == std::vector<int32_t>{1, 2, 2});
  CHECK_THROWS_WITH_AS(subset(d, {10}), doctest::Contains("index 10 out of range for 'numbered' of 10"), Error);
}

TEST_CASE("train_test_split: disjoint parts that cover the set, sized by the fraction, fixed by the seed") {
  const Dataset d = numbered(50);
  const Split s = train_test_split(d, 0.2, 4);
  CHECK(s.train.size() == 40);
  CHECK(s.test.size() == 10);
  std::set<double> seen;
  for (const Dataset* part : {&s.train, &s.test}) {
    const auto v = part->x.to_vector();
    for (size_t i = 0; i < v.size(); i += 2) seen.insert(v[i]);
  }
  CHECK(seen.size() == 50);
  CHECK(train_test_split(d, 0.2, 4).test.x.to_vector() == s.test.x.to_vector());
  CHECK(train_test_split(d, 0.2, 5).test.x.to_vector() != s.test.x.to_vector());
  CHECK_THROWS_AS(train_test_split(d, 1.0, 0), Error);
}

TEST_CASE("Normalizer: standardize and minmax fitted on training data, inverted exactly") {
  const Dataset train = two_moons({500, 0.1, 1});
  const Normalizer z = Normalizer::fit(train, "standardize");
  const Tensor zx = z.apply(train.x.to(DType::f64));
  test::check_values(mean(zx, {0}), {0, 0}, 1e-6);
  CHECK(std::abs(mean(zx, {0}).at({0})) < 1e-9);
  test::check_values(var(zx, {0}), {1, 1}, 1e-9);
  CHECK(test::max_abs_diff(z.invert(zx), train.x.to(DType::f64)) < 1e-6);
  const Normalizer mm = Normalizer::fit(train, "minmax");
  const Tensor mx = mm.apply(train.x.to(DType::f64));
  test::check_values(max(mx, {0}), {1, 1}, 1e-9);
  test::check_values(-max(-mx, {0}), {0, 0}, 1e-9);
  CHECK(Normalizer::fit(train, "none").apply(train.x).impl() == train.x.impl());
  CHECK_THROWS_WITH_AS(Normalizer::fit(train, "zscore"), doctest::Contains("unknown kind 'zscore'"), Error);
  CHECK_THROWS_WITH_AS(z.apply(Tensor::zeros({4, 3})), doctest::Contains("fitted on 2 features, got [4,3]"), Error);
}

TEST_CASE("Normalizer on images uses one shift and scale for all pixels") {
  Dataset img;
  img.x = Tensor::from_data({0, 0.5, 1, 0.5}, {1, 1, 2, 2});
  const Normalizer mm = Normalizer::fit(img, "minmax");
  REQUIRE(mm.shift.size() == 1);
  test::check_values(mm.apply(img.x), {0, 0.5, 1, 0.5});
}

TEST_CASE("BatchSampler: every sample once per epoch, the order fixed by (seed, epoch)") {
  const Dataset d = numbered(10);
  const BatchSampler s(d, 4, true, 9);
  CHECK(s.num_batches() == 3);
  auto epoch_order = [&](const BatchSampler& sampler, int64_t e) {
    std::vector<int64_t> order;
    for (int64_t i = 0; i < sampler.num_batches(); ++i) {
      const Batch b = sampler.batch(e, i);
      CHECK(b.x.size(0) == static_cast<int64_t>(b.indices.size()));
      for (size_t j = 0; j < b.indices.size(); ++j) {
        CHECK(b.x.at({static_cast<int64_t>(j), 0}) == b.indices[j]);  // row i holds i
        CHECK(b.labels[j] == b.indices[j] % 3);
      }
      order.insert(order.end(), b.indices.begin(), b.indices.end());
    }
    return order;
  };
  const auto e0 = epoch_order(s, 0), e1 = epoch_order(s, 1);
  CHECK(std::set<int64_t>(e0.begin(), e0.end()).size() == 10);
  CHECK(e0 != e1);
  CHECK(epoch_order(BatchSampler(d, 4, true, 9), 1) == e1);  // a fresh sampler, as after resuming
  const BatchSampler in_order(d, 4, false, 0, true);
  CHECK(in_order.num_batches() == 2);
  CHECK(in_order.batch(3, 1).indices == std::vector<int64_t>{4, 5, 6, 7});
}
