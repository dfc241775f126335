// Attractors of the latent vector field from a set of converged iterates, their basins of attraction on a
// grid of 2-D codes, and the Chamfer similarity of two sets of attractors (paper 002, sections 2.1, 3.2).
//
// Paper's rule (section 3.2, "distinct attractors"): two attractors are the same if cos(z1*, z2*) > 0.99.
// Attractors are found greedily in the order of the endpoints: an endpoint joins the existing attractor it
// matches best (highest cosine among those it matches), or founds a new one; the founding endpoint is the
// attractor's representative. Cosine similarity ignores the norm, so on low-dimensional codes two attractors
// on one ray through the origin are merged; AttractorMerge::distance_threshold adds a Euclidean rule for that
// case (and merges exact duplicates, including zero vectors, whose cosine is taken as 0, at its default 0).
#pragma once

#include <cstdint>
#include <vector>

#include "dynamics/field.h"

namespace gg {

struct AttractorMerge {
  double cos_threshold = 0.99;      // same attractor if cos(a, b) > cos_threshold (section 3.2)
  double distance_threshold = 0.0;  // ... or if ||a - b|| <= distance_threshold
};

// <a, b> / (||a|| ||b||) over k values; 0 when either vector is zero.
double cosine_similarity(const double* a, const double* b, int64_t k);

struct AttractorSet {
  Tensor points;                    // [A, k] f64: one representative per attractor, in order of discovery
  std::vector<int64_t> counts;      // A: how many endpoints fell to each attractor
  std::vector<int64_t> assignment;  // per endpoint: its attractor's index, -1 if it was left out

  int64_t size() const { return static_cast<int64_t>(counts.size()); }
  // Attractor indices by decreasing count (ties by index).
  std::vector<int64_t> by_count() const;
};

// Groups the rows of endpoints [N, k] (any dtype) into attractors. `include` (empty: every row) leaves out
// rows whose flag is false, e.g. samples that did not converge; they get assignment -1.
AttractorSet find_attractors(const Tensor& endpoints, const std::vector<bool>& include = {},
                             const AttractorMerge& merge = {});
// The attractors of the converged samples of an iteration (the others get -1).
AttractorSet find_attractors(const Trajectories& trajectories, const AttractorMerge& merge = {});

// For each row of points [N, k], the best-matching row of attractors [A, k] under the merge rule (highest
// cosine among the matches), or -1 if none matches.
std::vector<int64_t> match_attractors(const Tensor& points, const Tensor& attractors,
                                      const AttractorMerge& merge = {});

// ---- Basins of attraction (section 2.1: the initial conditions leading to the same attractor) -------------
struct Basins {
  Grid2d grid;
  AttractorSet attractors;    // assignment = the label of each grid cell (-1: did not converge), see Grid2d
  Trajectories trajectories;  // from the cell centres
  const std::vector<int64_t>& labels() const { return attractors.assignment; }
};
// Iterates f from every cell centre of the grid (codes of dtype `dtype`) and labels each cell by the
// attractor it converges to.
Basins basins_of_attraction(const LatentMap& f, const Grid2d& grid, const IterateOptions& options = {},
                            const AttractorMerge& merge = {}, DType dtype = DType::f64);
Basins basins_of_attraction(Autoencoder& model, const Grid2d& grid, const IterateOptions& options = {},
                            const AttractorMerge& merge = {});

// ---- Chamfer similarity (Figure 3d) -----------------------------------------------------------------------
// The paper compares attractors from noise and from training data by "Chamfer symmetric similarity" without
// a formula; we take the symmetric Chamfer average of best cosine similarities,
//   C(A, B) = 1/2 [ 1/|A| sum_{a in A} max_{b in B} cos(a, b) + 1/|B| sum_{b in B} max_{a in A} cos(a, b) ],
// in [-1, 1], 1 when every point of each set has a point of the same direction in the other.
// a [A, k], b [B, k], both non-empty.
double chamfer_similarity(const Tensor& a, const Tensor& b);

}  // namespace gg
