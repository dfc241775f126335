// Corruption operators: seeding, displacement = corrupted - clean, noise and mask statistics, exact rotations
// and zooms through the deterministic primitives, f64, errors naming the op and shape, and parsing by name.
#include <cmath>
#include <numbers>

#include "datasets/corruption.h"
#include "tests/helpers.h"

using namespace gg;
using gg::test::max_abs_diff;

namespace {

// A batch of images with distinct values, f32 or f64.
Tensor ramp_images(const Shape& shape, DType dtype = DType::f32) {
  std::vector<double> v(shape_numel(shape));
  for (size_t i = 0; i < v.size(); ++i) v[i] = double((i * 37) % 101) / 100.0;
  return Tensor::from_data(v, shape, dtype);
}

Tensor random_points(int64_t n, uint64_t seed, DType dtype = DType::f32) {
  Generator gen(seed);
  return Tensor::randn({n, 2}, gen, dtype) + 3.0;  // off the origin, so the centre matters
}

const std::vector<CorruptionSpec> kEverySpec = {{"noise", 0.1}, {"mask", 0.3}, {"rotation", 30}, {"zoom", 0.2}};

std::vector<double> batch_mean(const Tensor& points) {
  std::vector<double> v = points.to_vector(), mean(2, 0.0);
  const size_t n = v.size() / 2;
  for (size_t i = 0; i < n; ++i) mean[0] += v[2 * i] / n, mean[1] += v[2 * i + 1] / n;
  return mean;
}

}  // namespace

TEST_CASE("corruption: the same seed gives the same result, another seed a different one") {
  const Tensor inputs[] = {ramp_images({4, 2, 9, 9}), random_points(64, 1)};
  for (const Tensor& x : inputs)
    for (const CorruptionSpec& spec : kEverySpec) {
      CAPTURE(spec.kind);
      CAPTURE(x.str());
      Generator a(7), b(7), c(8);
      Corrupted first = corrupt(x, spec, a), again = corrupt(x, spec, b), other = corrupt(x, spec, c);
      CHECK(max_abs_diff(first.x, again.x) == 0.0);
      CHECK(max_abs_diff(first.x, other.x) > 0.0);
      CHECK(max_abs_diff(first.x, x) > 0.0);
      // The generator advanced: a second draw from it differs from the first.
      CHECK(max_abs_diff(corrupt(x, spec, a).x, first.x) > 0.0);
    }
}

TEST_CASE("corruption: displacement is exactly x_corrupted - x, in x's shape and dtype, with no gradient") {
  for (DType dtype : {DType::f32, DType::f64}) {
    Tensor images = ramp_images({3, 3, 7, 7}, dtype).requires_grad_();
    Tensor points = random_points(50, 2, dtype).detach().requires_grad_();
    for (const Tensor& x : {images, points})
      for (const CorruptionSpec& spec : kEverySpec) {
        CAPTURE(spec.kind);
        CAPTURE(x.str());
        Generator gen(3);
        Corrupted out = corrupt(x, spec, gen);
        CHECK(out.x.shape() == x.shape());
        CHECK(out.x.dtype() == dtype);
        CHECK(out.displacement.shape() == x.shape());
        CHECK(out.displacement.dtype() == dtype);
        CHECK(max_abs_diff(out.displacement, sub(out.x.detach(), x.detach())) == 0.0);
        CHECK(!out.x.requires_grad());
        CHECK(!out.displacement.requires_grad());
      }
  }
}

TEST_CASE("corruption: gaussian noise has standard deviation sigma") {
  Generator gen(11);
  Tensor x = Tensor::zeros({200, 1, 20, 20});
  Corrupted out = gaussian_noise(x, 0.3, gen);
  std::vector<double> d = out.displacement.to_vector();
  double mean = 0, square = 0;
  for (double v : d) mean += v / d.size(), square += v * v / d.size();
  CHECK(std::abs(mean) < 0.005);
  CHECK(std::sqrt(square - mean * mean) == doctest::Approx(0.3).epsilon(0.01));
  Generator zero_gen(1);
  CHECK(max_abs_diff(gaussian_noise(x, 0.0, zero_gen).x, x) == 0.0);
}

TEST_CASE("corruption: random mask drops whole pixels of images and single coordinates of points at rate p") {
  Generator gen(5);
  Tensor images = Tensor::ones({100, 3, 16, 16});
  Tensor masked = random_mask(images, 0.3, gen).x;
  std::vector<double> v = masked.to_vector();
  int64_t dropped = 0, pixels = 100 * 16 * 16;
  for (int64_t n = 0; n < 100; ++n)
    for (int64_t p = 0; p < 256; ++p) {
      const double r = v[(n * 3 + 0) * 256 + p], g = v[(n * 3 + 1) * 256 + p], b = v[(n * 3 + 2) * 256 + p];
      CHECK((r == g && g == b));  // all channels of a pixel together
      CHECK((r == 0.0 || r == 1.0));
      dropped += r == 0.0;
    }
  CHECK(double(dropped) / pixels == doctest::Approx(0.3).epsilon(0.03));

  Tensor points = Tensor::ones({20000, 2}, DType::f64);
  Tensor masked_points = random_mask(points, 0.6, gen).x;
  CHECK(mean(masked_points).item() == doctest::Approx(0.4).epsilon(0.02));
  Generator edge(1);
  CHECK(sum(random_mask(points, 1.0, edge).x).item() == 0.0);
  CHECK(max_abs_diff(random_mask(points, 0.0, edge).x, points) == 0.0);
}

TEST_CASE("corruption: a 90-degree rotation of an odd-sized image is exactly NumPy's rot90") {
  for (DType dtype : {DType::f32, DType::f64}) {
    Tensor x = ramp_images({2, 2, 5, 5}, dtype);
    Tensor turned = rotate_images(x, {90.0, -270.0});
    for (int64_t n = 0; n < 2; ++n)
      for (int64_t c = 0; c < 2; ++c)
        for (int64_t i = 0; i < 5; ++i)
          for (int64_t j = 0; j < 5; ++j) CHECK(turned.at({n, c, i, j}) == x.at({n, c, j, 4 - i}));
    // 180 degrees flips both axes; 0 and 360 are the identity.
    Tensor flipped = rotate_images(x, {180.0, -180.0});
    for (int64_t i = 0; i < 5; ++i)
      for (int64_t j = 0; j < 5; ++j) CHECK(flipped.at({1, 1, i, j}) == x.at({1, 1, 4 - i, 4 - j}));
    CHECK(max_abs_diff(rotate_images(x, {0.0, 360.0}), x) == 0.0);
  }
  // An even-sized image turns about its centre too (pixel centres still land on pixel centres).
  Tensor even = ramp_images({1, 1, 4, 4});
  Tensor turned = rotate_images(even, {90.0});
  CHECK(turned.at({0, 0, 0, 0}) == even.at({0, 0, 0, 3}));
  // A small angle moves mass but keeps the centre pixel of a centred blob bright; corners read outside -> 0.
  Tensor ones = Tensor::ones({1, 1, 9, 9});
  Tensor tilted = rotate_images(ones, {45.0});
  CHECK(tilted.at({0, 0, 4, 4}) == doctest::Approx(1.0));
  CHECK(tilted.at({0, 0, 0, 0}) == 0.0);
}

TEST_CASE("corruption: rotating points keeps distances to the centre and turns by the given angle") {
  Tensor x = Tensor::from_data({1, 0, 0, 2, -3, 0}, {3, 2}, DType::f64);
  gg::test::check_values(rotate_points(x, {90, 90, 180}, {0.0, 0.0}), {0, 1, -2, 0, 3, 0}, 1e-12);

  // The default centre is the batch mean; random angles stay within +-max and keep radii.
  Tensor points = random_points(500, 9, DType::f64);
  const std::vector<double> center = batch_mean(points);
  Generator gen(4);
  Tensor rotated = random_rotation(points, 25.0, gen).x;
  std::vector<double> before = points.to_vector(), after = rotated.to_vector();
  double largest_turn = 0;
  for (size_t i = 0; i < 500; ++i) {
    const double bx = before[2 * i] - center[0], by = before[2 * i + 1] - center[1];
    const double ax = after[2 * i] - center[0], ay = after[2 * i + 1] - center[1];
    CHECK(std::hypot(ax, ay) == doctest::Approx(std::hypot(bx, by)).epsilon(1e-12));
    const double turn = std::atan2(bx * ay - by * ax, bx * ax + by * ay) * 180 / std::numbers::pi;
    CHECK(std::abs(turn) <= 25.0 + 1e-9);
    largest_turn = std::max(largest_turn, std::abs(turn));
  }
  CHECK(largest_turn > 20.0);  // the angles spread over the range
  // A single point is its own batch mean, so it stays put.
  Tensor one = Tensor::from_data({0.5, 0.5}, {1, 2});
  CHECK(max_abs_diff(rotate_points(one, {77.0}), one) < 1e-7);
  // An explicit centre is used instead of the mean.
  gg::test::check_values(rotate_points(x, {90, 0, 0}, {1.0, 1.0}), {2, 1, 0, 2, -3, 0}, 1e-12);
}

TEST_CASE("corruption: zoom by exactly 1 is the identity, zooms scale about the centre") {
  for (DType dtype : {DType::f32, DType::f64}) {
    Tensor images = ramp_images({3, 2, 6, 7}, dtype);
    CHECK(max_abs_diff(zoom_images(images, {1.0, 1.0, 1.0}), images) == 0.0);
    Tensor points = random_points(10, 3, dtype);
    CHECK(max_abs_diff(zoom_points(points, std::vector<double>(10, 1.0)), points) < 1e-6);
    Generator gen(2);
    CHECK(max_abs_diff(random_zoom(images, 0.0, gen).x, images) == 0.0);
  }
  // Zooming a 5x5 in by 2: the centre stays, the pixel one step right of it reads half a step right.
  Tensor x = ramp_images({1, 1, 5, 5}, DType::f64);
  Tensor in = zoom_images(x, {2.0});
  CHECK(in.at({0, 0, 2, 2}) == x.at({0, 0, 2, 2}));
  CHECK(in.at({0, 0, 2, 3}) == doctest::Approx((x.at({0, 0, 2, 2}) + x.at({0, 0, 2, 3})) / 2));
  CHECK(in.at({0, 0, 0, 0}) == x.at({0, 0, 1, 1}));
  // Zooming out by 1/2 pads with zeros: the corners read from outside the image.
  Tensor out = zoom_images(Tensor::ones({1, 1, 9, 9}), {0.5});
  CHECK(out.at({0, 0, 4, 4}) == 1.0);
  CHECK(out.at({0, 0, 0, 0}) == 0.0);
  CHECK(out.at({0, 0, 2, 2}) == 1.0);  // reads pixel (0, 0) exactly

  Tensor points = Tensor::from_data({1, 1, 3, 1, 1, 3}, {3, 2}, DType::f64);
  gg::test::check_values(zoom_points(points, {2, 2, 0.5}, {1.0, 1.0}), {1, 1, 5, 1, 1, 2}, 1e-12);
  // Random zoom of points moves each point along its ray from the batch mean, by a factor within 1 +- a.
  Tensor cloud = random_points(300, 6, DType::f64);
  const std::vector<double> center = batch_mean(cloud);
  Generator gen(8);
  std::vector<double> before = cloud.to_vector(), after = random_zoom(cloud, 0.2, gen).x.to_vector();
  for (size_t i = 0; i < 300; ++i) {
    const double bx = before[2 * i] - center[0], by = before[2 * i + 1] - center[1];
    const double ax = after[2 * i] - center[0], ay = after[2 * i + 1] - center[1];
    const double factor = std::hypot(ax, ay) / std::hypot(bx, by);
    CHECK(factor >= 0.8 - 1e-9);
    CHECK(factor <= 1.2 + 1e-9);
    CHECK(bx * ay - by * ax == doctest::Approx(0.0).scale(1.0).epsilon(1e-9));  // same direction
  }
}

TEST_CASE("corruption: bad shapes and amounts are errors naming the op and the shape") {
  Generator gen(0);
  Tensor points3 = Tensor::zeros({4, 3});
  CHECK_THROWS_WITH_AS(random_rotation(points3, 10, gen), doctest::Contains("random_rotation: points f32[4,3]"), Error);
  CHECK_THROWS_WITH_AS(random_zoom(points3, 0.1, gen), doctest::Contains("random_zoom: points f32[4,3]"), Error);
  Tensor rank3 = Tensor::zeros({2, 5, 5}, DType::f64);
  CHECK_THROWS_WITH_AS(gaussian_noise(rank3, 0.1, gen), doctest::Contains("gaussian_noise: input f64[2,5,5]"), Error);
  CHECK_THROWS_WITH_AS(random_mask(rank3, 0.1, gen), doctest::Contains("random_mask: input f64[2,5,5]"), Error);
  CHECK_THROWS_WITH_AS(random_rotation(rank3, 5, gen), doctest::Contains("random_rotation: input f64[2,5,5]"), Error);
  CHECK_THROWS_WITH_AS(rotate_images(Tensor::zeros({2, 2}), {1, 2}), doctest::Contains("rotate_images: input f32[2,2]"),
                       Error);
  CHECK_THROWS_WITH_AS(rotate_images(Tensor::zeros({2, 1, 3, 3}), {1}), doctest::Contains("1 angles"), Error);
  CHECK_THROWS_WITH_AS(random_mask(Tensor::zeros({2, 2}), 1.5, gen), doctest::Contains("drop probability"), Error);
  CHECK_THROWS_WITH_AS(random_zoom(Tensor::zeros({2, 2}), 1.0, gen), doctest::Contains("max scale change"), Error);
  CHECK_THROWS_WITH_AS(gaussian_noise(Tensor::zeros({2, 2}), -1, gen), doctest::Contains("sigma"), Error);
  CHECK_THROWS_WITH_AS(rotate_points(Tensor::zeros({2, 2}), {0, 0}, {1, 2, 3}), doctest::Contains("center"), Error);
  CHECK_THROWS_WITH_AS(random_rotation(Tensor::zeros({2, 1, 3, 3}), 5, gen, {1.0, 1.0}),
                       doctest::Contains("a center applies to points only"), Error);
}

TEST_CASE("corruption: parse_corruption reads kind:amount and corrupt applies it like the direct call") {
  CorruptionSpec spec = parse_corruption("rotation:30");
  CHECK(spec.kind == "rotation");
  CHECK(spec.amount == 30.0);
  CHECK(parse_corruption(" Noise : 0.1 ").kind == "noise");
  CHECK(parse_corruption("mask:0.3").amount == 0.3);
  CHECK(parse_corruption("zoom:0.2").amount == 0.2);
  CHECK(corruption_kinds() == std::vector<std::string>{"noise", "mask", "rotation", "zoom"});
  CHECK_THROWS_WITH_AS(parse_corruption("blur:1"), doctest::Contains("noise:<sigma>, mask:<drop probability>"), Error);
  CHECK_THROWS_WITH_AS(parse_corruption("noise"), doctest::Contains("kind:amount"), Error);
  CHECK_THROWS_WITH_AS(parse_corruption("noise:abc"), doctest::Contains("not a number"), Error);
  CHECK_THROWS_WITH_AS(parse_corruption("noise:"), doctest::Contains("not a number"), Error);
  CHECK_THROWS_WITH_AS(parse_corruption("mask:2"), doctest::Contains("must be in [0, 1]"), Error);
  CHECK_THROWS_WITH_AS(parse_corruption("zoom:1"), doctest::Contains("must be in [0, 1)"), Error);
  Generator gen(0);
  CHECK_THROWS_WITH_AS(corrupt(Tensor::zeros({2, 2}), {"blur", 1}, gen), doctest::Contains("valid: noise"), Error);

  Tensor x = ramp_images({2, 1, 8, 8});
  Generator a(21), b(21);
  CHECK(max_abs_diff(corrupt(x, parse_corruption("zoom:0.3"), a).x, random_zoom(x, 0.3, b).x) == 0.0);
}

TEST_CASE("corruption: large batches (the parallel sampler) match the same samples done one at a time") {
  Tensor x = ramp_images({24, 3, 32, 32}, DType::f64);  // above the sampler's threshold for threads
  std::vector<double> angles;
  for (int n = 0; n < 24; ++n) angles.push_back(-40.0 + 3.7 * n);
  Tensor all = rotate_images(x, angles);
  for (int n = 0; n < 24; n += 5) {
    Tensor one = rotate_images(slice(x, 0, n, n + 1), {angles[n]});
    CHECK(max_abs_diff(one, slice(all, 0, n, n + 1)) == 0.0);
  }
}
