// The scores of the Poisson-potential regularizer (paper 000, regularizers/score.h): a Gaussian mixture's
// closed form, a denoising autoencoder's estimate (Alain & Bengio) and the kernel density estimate.
#include <cmath>
#include <numbers>

#include "regularizers/score.h"
#include "tests/helpers.h"
#include "tests/models_helpers.h"

using namespace gg;

namespace {

constexpr double pi = std::numbers::pi;

Tensor point(const std::vector<double>& v) {
  return Tensor::from_data(v, {1, static_cast<int64_t>(v.size())}, DType::f64);
}

}  // namespace

TEST_CASE("Poisson scores: Gaussian mixture, denoising autoencoder (Alain & Bengio) and KDE") {
  const GaussianMixture gm = default_gaussian_mixture();
  const Tensor x = test::input({6, 2}, 8, -1.5, 1.5);
  {  // (a) the mixture's exact score is the engine's gradient of its log density
    const Tensor s = gaussian_mixture_score(gm)(x);
    CHECK(!s.requires_grad());
    CHECK(test::max_abs_diff(s, grad(sum(gm.log_density(x)), x)) < 1e-10);
  }
  {  // (c) the closed-form KDE score is the gradient of the log KDE
    const Tensor ref = test::input({30, 2}, 9, -1, 1).detach();
    for (double h : {0.1, 0.5}) {
      const Tensor s = kde_score(ref, h)(x);
      CHECK(test::max_abs_diff(s, grad(sum(kde_log_density(x, ref, h)), x)) < 1e-10);
    }
    // log KDE of one reference point is the Gaussian log density.
    const Tensor one = point({0.2, -0.1});
    const double lp = kde_log_density(point({0.5, 0.3}), one, 0.5).item();
    CHECK(lp == doctest::Approx(-std::log(2 * pi * 0.25) - (0.09 + 0.16) / (2 * 0.25)).epsilon(1e-12));
  }
  {  // (b) a linear DAE set to the optimum for N(0, I) data with noise sigma: r(x) = x / (1 + sigma^2), so
     // (r(x) - x) / sigma^2 = -x / (1 + sigma^2): the score -x of N(0, I) up to O(sigma^2).
    AutoencoderConfig c;
    c.input_shape = {2};
    c.code_dim = 2;
    c.hidden = {};
    c.dtype = DType::f64;
    Autoencoder dae(c);
    const double sigma = 0.1;
    auto p = dae.parameters();  // encoder W, b; decoder W, b
    REQUIRE(p.size() == 4);
    p[0].copy_(eye(2, DType::f64));
    p[1].copy_(Tensor::zeros({2}, DType::f64));
    p[2].copy_(eye(2, DType::f64) / (1 + sigma * sigma));
    p[3].copy_(Tensor::zeros({2}, DType::f64));
    const Tensor s = denoising_score(dae, sigma)(x);
    CHECK(test::max_abs_diff(s, -x / (1 + sigma * sigma)) < 1e-12);
    CHECK(test::max_abs_diff(s, -x) < 1.5 * sigma * sigma);
  }
  CHECK(test::contains(test::error_of([&] { kde_score(x, 0.0); }), "bandwidth"));
}
