// What `gradgrad field` and `gradgrad train --track-dynamics` share: the attractor merge rule they apply to
// codes of a given dimension, the picture frame around a cloud of 2-D points, the thinning of recorded paths,
// and the per-epoch snapshot of the tracker (defined in cmd_field.cpp). The small helpers are inline so the
// tests can check them without linking the command (tests/test_cli_field.cpp).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "dynamics/attractors.h"
#include "dynamics/field.h"
#include "engine/core.h"

namespace gg {
class Trainer;
}

namespace gg::cli {

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
inline double code_scale(const Tensor& z) {
  int64_t n = 0, k = 0;
  const std::vector<double> v = rows_as_doubles(z, n, k);
  if (n < 2 || k < 1) return 0.0;
  double total = 0;
  for (int64_t c = 0; c < k; ++c) {
    double mean = 0, sq = 0;
    for (int64_t i = 0; i < n; ++i) mean += v[size_t(i * k + c)];
    mean /= double(n);
    for (int64_t i = 0; i < n; ++i) sq += (v[size_t(i * k + c)] - mean) * (v[size_t(i * k + c)] - mean);
    total += sq / double(n);
  }
  return std::sqrt(total / double(k));
}

// ---- The stopping tolerance -------------------------------------------------------------------------------
// Appendix D stops when ||z_{t+1} - z_t||^2 < 1e-6, an absolute test tuned to its MNIST codes. Codes of a
// strongly contractive model are small (two moons with a contractive penalty: s ~ 0.1), and there the test
// stops every start inside the slow region around the data after one step (f moves it by less than 1e-3),
// so each start counts as its own "attractor". With units "code" (the default of both commands) the test
// is made in units of the code scale, ||z_{t+1} - z_t||^2 < tol * s^2, which is appendix D's test for codes
// of unit scale; "absolute" applies tol as printed.
inline double effective_tol(double tol, double scale, const std::string& units) {
  GG_CHECK(units == "code" || units == "absolute", "--tol-units must be 'code' or 'absolute', got '" + units + "'");
  return units == "code" && scale > 0 ? tol * scale * scale : tol;
}

struct MergeChoice {
  AttractorMerge merge;
  std::string rule;  // "distance" (k <= 3) or "cosine" (section 3.2)
};

inline MergeChoice merge_rule_for(int64_t k, double scale, double tol) {
  MergeChoice m;
  if (k <= kMaxDistanceMergeDim) {
    m.rule = "distance";
    m.merge.cos_threshold = 2.0;  // a cosine never exceeds 1: the cosine rule is off
    m.merge.distance_threshold = std::max(kMergeScaleFraction * scale, kMergeTolFactor * std::sqrt(std::max(tol, 0.0)));
  } else {
    m.rule = "cosine";
    m.merge.cos_threshold = 0.99;
    m.merge.distance_threshold = 0.0;  // exact duplicates (zero vectors included) only
  }
  return m;
}

// ---- A frame around 2-D points ----------------------------------------------------------------------------
// The bounding box of the points (x, y pairs, row-major [N, 2]) widened by `margin` times the larger of the
// two spans on every side, so the frame keeps the cloud's proportions and a degenerate cloud (one point, a
// line) still gets an area; n x n cells. An empty or non-finite cloud gives [-1, 1]^2.
inline Grid2d frame_around(const std::vector<double>& xy, int64_t n, double margin) {
  GG_CHECK(n >= 1, "frame_around: needs n >= 1 cells per side");
  double x0 = std::numeric_limits<double>::infinity(), x1 = -x0, y0 = x0, y1 = -x0;
  for (size_t i = 0; i + 1 < xy.size(); i += 2) {
    if (!std::isfinite(xy[i]) || !std::isfinite(xy[i + 1])) continue;
    x0 = std::min(x0, xy[i]), x1 = std::max(x1, xy[i]);
    y0 = std::min(y0, xy[i + 1]), y1 = std::max(y1, xy[i + 1]);
  }
  Grid2d g;
  g.nx = g.ny = n;
  if (!(x0 <= x1)) return g;  // nothing finite: the default [-1, 1]^2
  double span = std::max(x1 - x0, y1 - y0);
  if (!(span > 0)) span = std::max({std::abs(x0), std::abs(y0), 1.0}) * 0.1;
  const double pad = margin * span;
  g.x_min = x0 - pad, g.x_max = x1 + pad, g.y_min = y0 - pad, g.y_max = y1 + pad;
  // A line-shaped cloud: give the flat axis at least a fifth of the other's extent.
  const double w = g.x_max - g.x_min, h = g.y_max - g.y_min;
  if (h < 0.2 * w) {
    const double c = 0.5 * (y0 + y1);
    g.y_min = c - 0.1 * w, g.y_max = c + 0.1 * w;
  } else if (w < 0.2 * h) {
    const double c = 0.5 * (x0 + x1);
    g.x_min = c - 0.1 * h, g.x_max = c + 0.1 * h;
  }
  return g;
}

// ---- Thinning a recorded path for a CSV ------------------------------------------------------------------
// Keeps every one of the first `dense` steps (where the path bends), then every `stride`-th, and the last.
inline bool keep_path_step(int64_t t, int64_t last, int64_t dense = 64, int64_t stride = 8) {
  return t < dense || t % stride == 0 || t == last;
}

// ---- The tracker of `gradgrad train --track-dynamics N` (paper 002, Figure 3) -----------------------------
struct TrackOptions {
  int64_t starts = 256;      // from each of train, test and N(0, I_k)
  int64_t max_iters = 500;   // a cap kept low so a snapshot costs seconds (appendix D uses 3000)
  double tol = 1e-6;         // appendix D, in units of the code scale (effective_tol)
  std::string tol_units = "code";
  int64_t grid = 24;         // cells per side of the field snapshot (k = 2)
  uint64_t seed = 0;
};
// Measures the trainer's current model (epoch `epoch`, 0 = at initialization): test error, distinct
// attractors from train/test/noise starts, memorization coefficient, attractor rank, Chamfer similarity and
// FPR95 of noise vs training trajectories; for k = 2 writes <run_dir>/dynamics/field_epoch_<epoch>.csv and
// attractors_epoch_<epoch>.csv. Returns the per-epoch record for metrics.json's "dynamics" list.
nlohmann::json dynamics_snapshot(Trainer& trainer, int64_t epoch, const std::string& run_dir,
                                 const TrackOptions& options = {});

}  // namespace gg::cli
