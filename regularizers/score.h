// Scores grad_x log p_D(x) of the data distribution, for the score-potential coupling term of the Poisson
// regularizer (paper 000, eq. 9 and eq. 13). The score is pluggable: anything that maps a batch to a batch of
// score vectors is a ScoreFn.
//
// Contract of every ScoreFn: x is a batch [N, ...] (points [N, D] or images [N, C, H, W]) in f32 or f64; the
// result has x's shape and dtype and is grad_x log p(x) per sample. It is a property of the data, not of the
// model being trained: callers treat it as a constant (the Poisson regularizer detaches it), and the
// functions here record no graph.
#pragma once

#include <functional>

#include "datasets/toy.h"
#include "engine/registry.h"
#include "models/autoencoder.h"

namespace gg {

using ScoreFn = std::function<Tensor(const Tensor& x)>;

// (a) The exact score of a Gaussian mixture (GaussianMixture::score): x must be [N, mixture.dim()].
ScoreFn gaussian_mixture_score(GaussianMixture mixture);

// (b) Alain & Bengio (2014): a denoising autoencoder r = D o E trained with squared error on inputs corrupted
// by N(0, sigma^2 I) noise satisfies r(x) - x = sigma^2 grad log p(x) + o(sigma^2), so
//     score(x) ~= (r(x) - x) / sigma^2.
// `dae` is held by reference and must outlive the returned function; sigma > 0 is its training noise.
ScoreFn denoising_score(Autoencoder& dae, double sigma);

// (c) A Gaussian kernel density estimate from a reference sample y_1..y_K (rows of `reference`, any sample
// shape, flattened) with bandwidth h > 0:
//     p^(x) = (1/K) sum_k N(x; y_k, h^2 I),
//     grad log p^(x) = sum_k w_k(x) (y_k - x) / h^2,   w_k(x) = softmax_k(-||x - y_k||^2 / (2 h^2)),
// the closed form (computed with a stable softmax). The reference is copied (detached) into the function.
ScoreFn kde_score(const Tensor& reference, double bandwidth);
// log p^(x) of the same estimate, differentiable with respect to x: [N]. (The closed-form score above is its
// gradient; the tests check that with the engine.)
Tensor kde_log_density(const Tensor& x, const Tensor& reference, double bandwidth);

// The scores a config names (the Poisson regularizer's "score"): each builds the ScoreFn of a batch, the
// reference sample (with the KDE bandwidth where it takes one); "none" builds no function (no coupling term).
// The mixture and DAE scores above need objects a config cannot name, so they are passed in code.
using ScoreFactory = ScoreFn (*)(const Tensor& batch, double kde_bandwidth);
const Registry<ScoreFactory>& score_registry();

}  // namespace gg
