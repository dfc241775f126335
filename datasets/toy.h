// Seeded 2-D (and one 3-D) toy sets, the controlled geometry on which paper 000 probes its regularizer, and a
// Gaussian mixture whose density and score are known in closed form.
#pragma once

#include <string>
#include <vector>

#include "datasets/dataset.h"
#include "engine/registry.h"

namespace gg {

struct ToyOptions {
  int64_t n = 1024;     // number of points
  double noise = 0.1;   // std of isotropic Gaussian noise added to every coordinate
  uint64_t seed = 0;    // fixes every draw
};

// Two interleaved half circles (radius 1, the lower one shifted by (1, 0.5)); label = which moon.
Dataset two_moons(const ToyOptions& o);
// Two arms of an Archimedean spiral, r = theta / (3 pi) for theta in [0.25 pi, 3 pi], the second arm the first
// turned by pi; label = arm.
Dataset spiral(const ToyOptions& o);
// Two concentric circles of radius 1 and 0.5; label = ring.
Dataset rings(const ToyOptions& o);
// A banana: x1 ~ N(0, 1), x2 = 0.5 x1^2 - 1 + 0.5 * N(0, 1), then noise; unlabelled.
Dataset banana(const ToyOptions& o);
// The swiss roll t in [1.5 pi, 4.5 pi] at radius t, scaled by 1/(4.5 pi) so it fits in [-1, 1]; 2-D is the
// (x, z) spiral, 3-D adds a uniform height y in [0, 1) as the flat direction. Label = which half of t.
Dataset swiss_roll_2d(const ToyOptions& o);
Dataset swiss_roll_3d(const ToyOptions& o);

// A mixture of Gaussians sum_k w_k N(mu_k, Sigma_k) in D dimensions with its exact log density and score.
struct GaussianMixture {
  std::vector<double> weights;                  // K, summing to 1
  std::vector<std::vector<double>> means;       // K x D
  std::vector<std::vector<double>> covariances; // K x (D*D), row-major, symmetric positive definite

  int64_t dim() const { return means.empty() ? 0 : static_cast<int64_t>(means[0].size()); }
  // Checks the shapes, weights and positive definiteness; the error names the offending component.
  void validate() const;
  // n draws; label = component. `noise` of ToyOptions is not used: the covariances are the spread.
  Dataset sample(int64_t n, uint64_t seed) const;
  // log p(x) for x (N, D): (N,), a differentiable tensor of x in x's dtype.
  Tensor log_density(const Tensor& x) const;
  // The score grad_x log p(x) = sum_k r_k(x) Sigma_k^{-1} (mu_k - x), r_k the posterior of component k: (N, D).
  Tensor score(const Tensor& x) const;
};

// Four components on the corners of a square, with different orientations and spreads.
GaussianMixture default_gaussian_mixture();
// The density two_moons samples from, as a mixture: `per_moon` equal components N(c(t_k), noise^2 I) on each
// half circle at t_k = pi (k + 1/2) / per_moon. Exact up to the arcs between centres, which is negligible
// when their spacing pi / per_moon is under the noise (a sum of Gaussians spaced 0.6 sigma ripples by e^-50).
GaussianMixture two_moons_density(double noise, int64_t per_moon = 100);
// The density of (x - shift) / scale, x ~ g, per coordinate (a Normalizer's map): means and covariances
// mapped.
GaussianMixture affine_image(const GaussianMixture& g, const std::vector<double>& shift,
                             const std::vector<double>& scale);
Dataset gaussian_mixture(const ToyOptions& o);  // default_gaussian_mixture().sample(o.n, o.seed)

// The toy sets by name ("two-moons", "spiral", "rings", "banana", "swiss-roll", "swiss-roll-3d",
// "gaussian-mixture"), as `gradgrad help` lists them; make_toy_set refuses an unknown name with the list.
using ToySetFactory = Dataset (*)(const ToyOptions&);
const Registry<ToySetFactory>& toy_registry();
Dataset make_toy_set(const std::string& name, const ToyOptions& o);

}  // namespace gg
