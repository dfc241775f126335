#include "regularizers/score.h"

#include <cmath>
#include <numbers>

namespace gg {

namespace {

Tensor rows(const Tensor& t) { return reshape(t, {t.size(0), -1}); }

// The squared distances ||x_i - y_k||^2: [N, K] for x [N, d], y [K, d], from differences (no cancellation).
Tensor pairwise_sq_distances(const Tensor& x, const Tensor& y) {
  const int64_t n = x.size(0), k = y.size(0), d = x.size(1);
  const Tensor diff = reshape(x, {n, 1, d}) - reshape(y, {1, k, d});
  return sum(square(diff), {2});
}

void check_kde(const Tensor& x, const Tensor& reference, double bandwidth, const char* who) {
  GG_CHECK(bandwidth > 0, std::string(who) + ": bandwidth must be > 0, got " + std::to_string(bandwidth));
  GG_CHECK(reference.defined() && reference.dim() >= 2 && reference.size(0) > 0,
           std::string(who) + ": the reference sample must be a non-empty batch [K, ...]");
  GG_CHECK(x.dim() >= 2 && x.numel() / x.size(0) == reference.numel() / reference.size(0),
           std::string(who) + ": x " + shape_str(x.shape()) + " and the reference " +
               shape_str(reference.shape()) + " have different sample sizes");
}

}  // namespace

ScoreFn gaussian_mixture_score(GaussianMixture mixture) {
  mixture.validate();
  return [mixture = std::move(mixture)](const Tensor& x) {
    NoGradGuard no_grad;
    return mixture.score(x.detach());
  };
}

ScoreFn denoising_score(Autoencoder& dae, double sigma) {
  GG_CHECK(sigma > 0, "denoising_score: sigma must be > 0, got " + std::to_string(sigma));
  return [&dae, sigma](const Tensor& x) {
    NoGradGuard no_grad;
    const Tensor clean = x.detach();
    return (dae(clean) - clean) / (sigma * sigma);  // Alain & Bengio: (r(x) - x) / sigma^2
  };
}

Tensor kde_log_density(const Tensor& x, const Tensor& reference, double bandwidth) {
  check_kde(x, reference, bandwidth, "kde_log_density");
  const Tensor y = rows(reference.detach()).to(x.dtype());
  const Tensor xr = rows(x);
  const double d = static_cast<double>(xr.size(1)), k = static_cast<double>(y.size(0));
  const Tensor logits = pairwise_sq_distances(xr, y) * (-0.5 / (bandwidth * bandwidth));  // [N, K]
  // log (1/K) sum_k (2 pi h^2)^(-d/2) exp(logit_k)
  return logsumexp(logits, 1) - (std::log(k) + 0.5 * d * std::log(2 * std::numbers::pi * bandwidth * bandwidth));
}

ScoreFn kde_score(const Tensor& reference, double bandwidth) {
  GG_CHECK(bandwidth > 0, "kde_score: bandwidth must be > 0, got " + std::to_string(bandwidth));
  GG_CHECK(reference.defined() && reference.dim() >= 2 && reference.size(0) > 0,
           "kde_score: the reference sample must be a non-empty batch [K, ...]");
  const Tensor y = rows(reference.detach()).clone();
  return [y, bandwidth](const Tensor& x) {
    check_kde(x, y, bandwidth, "kde_score");
    NoGradGuard no_grad;
    const Tensor yr = y.to(x.dtype());
    const Tensor xr = rows(x.detach());
    const double inv_h2 = 1.0 / (bandwidth * bandwidth);
    // -||x - y_k||^2 / (2 h^2) up to -||x||^2 / (2 h^2), which is the same for every k and so leaves the
    // softmax unchanged: (x . y_k - ||y_k||^2 / 2) / h^2, one matrix product instead of the [N, K, d]
    // differences (at MNIST size those were 12.8M elements per step).
    const Tensor logits =
        (matmul(xr, yr, false, true) - reshape(sum(square(yr), {1}), {1, yr.size(0)}) * 0.5) * inv_h2;
    const Tensor w = softmax(logits, 1);  // w_k(x): [N, K]
    // sum_k w_k (y_k - x) / h^2 = (W Y - x) / h^2, since sum_k w_k = 1
    return reshape((matmul(w, yr) - xr) * inv_h2, x.shape());
  };
}

const Registry<ScoreFactory>& score_registry() {
  static const Registry<ScoreFactory> registry(
      "score", {{"kde", "a Gaussian kernel density estimate of the clean batch, bandwidth kde_bandwidth",
                 [](const Tensor& batch, double bandwidth) { return kde_score(batch, bandwidth); }},
                {"none", "no score: the coupling term (eq. 13) is left out",
                 [](const Tensor&, double) { return ScoreFn(); }}});
  return registry;
}

}  // namespace gg
