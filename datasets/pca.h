// Principal component analysis of a set of vectors: the axes of largest variance, fitted on one set and
// applied to any other (the codes of clean inputs, then of corrupted ones, in the same coordinates).
#pragma once

#include <vector>

#include "engine/tensor.h"

namespace gg {

struct Pca {
  std::vector<double> mean;                     // D
  std::vector<std::vector<double>> components;  // k unit vectors of length D, by decreasing variance
  std::vector<double> variances;                // all D eigenvalues of the covariance, decreasing

  // Fits on x [N, D] (N >= 2), keeping k components (k <= D).
  static Pca fit(const Tensor& x, int64_t k);
  // (x - mean) projected on the components: [N, k] f64.
  Tensor project(const Tensor& x) const;
  // The smallest number of components whose variance reaches `fraction` of the total.
  int64_t rank_for_variance(double fraction) const;
};

}  // namespace gg
