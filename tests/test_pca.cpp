// PCA: recovers the axes of a known anisotropic cloud, projects consistently, and counts variance rank.
#include "datasets/pca.h"
#include "tests/helpers.h"

using namespace gg;

TEST_CASE("PCA finds the axes of an anisotropic Gaussian cloud and the rank that explains its variance") {
  // Independent coordinates with std 3, 1, 0.1, rotated by 30 degrees in the first plane.
  Generator gen(5);
  const auto g = Tensor::randn({20000, 3}, gen, DType::f64).to_vector();
  const double c = std::cos(M_PI / 6), s = std::sin(M_PI / 6);
  std::vector<double> pts;
  for (size_t i = 0; i < g.size(); i += 3) {
    const double a = 3 * g[i], b = g[i + 1], e = 0.1 * g[i + 2];
    pts.push_back(c * a - s * b + 5), pts.push_back(s * a + c * b - 1), pts.push_back(e);
  }
  const Tensor x = Tensor::from_data(pts, {20000, 3}, DType::f64);
  const Pca p = Pca::fit(x, 2);
  CHECK(p.variances[0] == doctest::Approx(9).epsilon(0.03));
  CHECK(p.variances[1] == doctest::Approx(1).epsilon(0.03));
  CHECK(p.variances[2] == doctest::Approx(0.01).epsilon(0.05));
  CHECK(std::abs(p.components[0][0] * c + p.components[0][1] * s) == doctest::Approx(1).epsilon(1e-3));
  CHECK(p.mean[0] == doctest::Approx(5).epsilon(0.01));
  const Tensor z = p.project(x);
  CHECK(z.shape() == Shape{20000, 2});
  CHECK(std::abs(mean(z, {0}).at({0})) < 1e-9);
  CHECK(var(z, {0}).at({0}) == doctest::Approx(9).epsilon(0.03));
  CHECK(p.rank_for_variance(0.85) == 1);
  CHECK(p.rank_for_variance(0.95) == 2);
  CHECK(p.rank_for_variance(1.0) == 3);
  CHECK_THROWS_WITH_AS(p.project(Tensor::zeros({4, 2})), doctest::Contains("fitted on 3 dimensions"), Error);
}
