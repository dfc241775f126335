// What `gradgrad field` and `gradgrad train --track-dynamics` share (dynamics/merge_rule.h, dynamics/plane.h):
// the code scale, the stopping tolerance in code units, the merge rule for low-dimensional codes, the pooling
// of several sources' endpoints, the picture frame, the picture plane and the thinning of recorded paths.
#include "dynamics/merge_rule.h"
#include "dynamics/plane.h"
#include "tests/helpers.h"

using namespace gg;

TEST_CASE("code_scale is the RMS of the per-coordinate standard deviations") {
  // Corners of a square of side 2: each coordinate has population variance 1.
  const Tensor z = Tensor::from_data({0, 0, 2, 0, 0, 2, 2, 2}, {4, 2}, DType::f64);
  CHECK(code_scale(z) == doctest::Approx(1.0));
  // Coordinate variances 4 and 0: sqrt((4 + 0) / 2).
  const Tensor w = Tensor::from_data({-2, 5, 2, 5}, {2, 2}, DType::f64);
  CHECK(code_scale(w) == doctest::Approx(std::sqrt(2.0)));
  CHECK(code_scale(Tensor::from_data({1, 2}, {1, 2}, DType::f64)) == 0.0);  // one row: no spread
}

TEST_CASE("effective_tol: appendix D's tolerance in units of the code scale, or as printed") {
  CHECK(effective_tol(1e-6, 0.1, "code") == doctest::Approx(1e-8));
  CHECK(effective_tol(1e-6, 3.0, "code") == doctest::Approx(9e-6));
  CHECK(effective_tol(1e-6, 0.1, "absolute") == doctest::Approx(1e-6));
  CHECK(effective_tol(1e-6, 0.0, "code") == doctest::Approx(1e-6));  // no scale: as printed
  CHECK_THROWS(effective_tol(1e-6, 1.0, "relative"));
}

TEST_CASE("merge_rule_for: Euclidean for k <= 3, section 3.2's cosine above") {
  const MergeChoice low = merge_rule_for(2, 1.0, 1e-6);
  CHECK(low.rule == "distance");
  CHECK(low.merge.distance_threshold == doctest::Approx(kMergeScaleFraction));  // 0.1 * s beats 10 sqrt(tol)
  CHECK(merge_rule_for(2, 1e-4, 1e-6).merge.distance_threshold == doctest::Approx(kMergeTolFactor * 1e-3));
  const MergeChoice high = merge_rule_for(16, 1.0, 1e-6);
  CHECK(high.rule == "cosine");
  CHECK(high.merge.cos_threshold == doctest::Approx(0.99));
  CHECK(high.merge.distance_threshold == 0.0);

  // Two attractors on one ray through the origin: one under the cosine rule, two under the 2-D rule; two
  // endpoints of one attractor a little apart stay one.
  const Tensor ends = Tensor::from_data({1, 1, 2, 2, 2.01, 2.0}, {3, 2}, DType::f64);
  CHECK(find_attractors(ends, {}, merge_rule_for(16, 1.0, 1e-6).merge).size() == 1);
  const AttractorSet by_distance = find_attractors(ends, {}, low.merge);
  CHECK(by_distance.size() == 2);
  CHECK(by_distance.assignment == std::vector<int64_t>{0, 1, 1});
}

TEST_CASE("frame_around: the box widened by a margin of the larger span - degenerate clouds get an area") {
  const Grid2d g = frame_around({0, 0, 4, 2}, 10, 0.5);  // spans 4 and 2; pad 2 on every side
  CHECK(g.nx == 10);
  CHECK(g.ny == 10);
  CHECK(g.x_min == doctest::Approx(-2));
  CHECK(g.x_max == doctest::Approx(6));
  CHECK(g.y_min == doctest::Approx(-2));
  CHECK(g.y_max == doctest::Approx(4));

  const Grid2d line = frame_around({0, 1, 10, 1}, 4, 0.0);  // flat in y: y gets a fifth of x's extent
  CHECK(line.x_min == doctest::Approx(0));
  CHECK(line.x_max == doctest::Approx(10));
  CHECK(line.y_max - line.y_min == doctest::Approx(2));
  CHECK(0.5 * (line.y_min + line.y_max) == doctest::Approx(1));

  const Grid2d point = frame_around({3, 3}, 4, 0.5);  // one point: still a proper box around it
  CHECK(point.x_min < 3);
  CHECK(point.x_max > 3);
  CHECK(point.y_min < 3);
  CHECK(point.y_max > 3);
  CHECK_NOTHROW(point.points());

  const Grid2d none = frame_around({}, 4, 0.5);  // nothing: the default square
  CHECK(none.x_min == -1);
  CHECK(none.y_max == 1);
  const double nan = std::nan("");
  CHECK(frame_around({nan, 0, 1, 1, 3, 5}, 4, 0.0).x_min == doctest::Approx(1));  // non-finite rows skipped
}

TEST_CASE("keep_path_step keeps the start densely, then a stride, and always the last step") {
  CHECK(keep_path_step(0, 1000));
  CHECK(keep_path_step(63, 1000));
  CHECK_FALSE(keep_path_step(65, 1000));
  CHECK(keep_path_step(64, 1000));
  CHECK(keep_path_step(72, 1000));
  CHECK(keep_path_step(999, 999));
}
