// How endpoints of the latent iteration become attractors in `gradgrad field` and `gradgrad train
// --track-dynamics`: the merge rule for codes of a given dimension, the stopping tolerance in units of the
// code scale, and the pooling of the endpoints of several sources of starts (train, test, noise, grid) into
// one list of attractors.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "dynamics/attractors.h"
#include "dynamics/field.h"

namespace gg {

// ---- The attractor merge rule -----------------------------------------------------------------------------
// Section 3.2 merges two attractors when cos(z1*, z2*) > 0.99. On codes of dimension k <= 3 that rule merges
// every attractor within 8 degrees of one ray through the origin, however far apart along the ray: a 2-D
// code space has only ~40 such directions. There the rule is Euclidean instead: same attractor when
// ||z1* - z2*|| <= d, with
//   d = max(kMergeScaleFraction * s, kMergeTolFactor * sqrt(tol)),
// s the code scale (code_scale: RMS deviation of the training codes from their mean, per coordinate) and
// tol the iteration's tolerance on the squared step. A tenth of s is about the reach of the cosine rule for
// points at distance s from the origin (8 degrees: 2 sin 4 deg = 0.14); the floor keeps endpoints of one
// attractor together, which the stopping rule leaves up to sqrt(tol) / (1 - rho) apart (spectrum.h's
// tolerance_to_error). Cosine merging is off then.
inline constexpr int64_t kMaxDistanceMergeDim = 3;
inline constexpr double kMergeScaleFraction = 0.1;
inline constexpr double kMergeTolFactor = 10.0;

// sqrt(mean over coordinates of the per-coordinate variance) of the rows of z [N, k]; 0 for N < 2.
double code_scale(const Tensor& z);

// ---- The stopping tolerance -------------------------------------------------------------------------------
// Appendix D stops when ||z_{t+1} - z_t||^2 < 1e-6, an absolute test tuned to its MNIST codes. Codes of a
// strongly contractive model are small (two moons with a contractive penalty: s ~ 0.1), and there the test
// stops every start inside the slow region around the data after one step (f moves it by less than 1e-3),
// so each start counts as its own "attractor". With units "code" (the default of both commands) the test
// is made in units of the code scale, ||z_{t+1} - z_t||^2 < tol * s^2, which is appendix D's test for codes
// of unit scale; "absolute" applies tol as printed.
double effective_tol(double tol, double scale, const std::string& units);

struct MergeChoice {
  AttractorMerge merge;
  std::string rule;  // "distance" (k <= 3) or "cosine" (section 3.2)
};
MergeChoice merge_rule_for(int64_t k, double scale, double tol);

// ---- Endpoints of several sources pooled into one list of attractors --------------------------------------
// Row i of source s is pooled row offset[s] + i; only converged rows are merged (the others get -1).
struct PooledAttractors {
  AttractorSet all;                           // assignment indexed by pooled row
  std::vector<int64_t> offset;                // sources + 1 entries
  std::vector<std::vector<int64_t>> counts;   // [attractor][source]: endpoints of that source merged into it
  std::vector<int64_t> order;                 // attractors by decreasing count from the first `ranked` sources,
                                              // ties by the count from every source
};
// runs: one iteration per source (empty ones allowed); `ranked` leading sources decide the order.
PooledAttractors pool_attractors(const std::vector<const Trajectories*>& runs, const AttractorMerge& merge,
                                 size_t ranked);

// The rows of an iteration that converged, and its mean number of applications of f (NaN when empty).
std::vector<int64_t> converged_rows(const Trajectories& t);
double mean_iterations(const Trajectories& t);

}  // namespace gg
