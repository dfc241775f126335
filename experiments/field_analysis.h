// Inside field_experiment (experiments/field.h): what it computes before any file is written, and the
// writers of its data files (experiments/field_files.cpp), one per file or pair of files.
#pragma once

#include <array>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "dynamics/memorization.h"
#include "dynamics/merge_rule.h"
#include "dynamics/plane.h"
#include "dynamics/spectrum.h"
#include "experiments/output.h"
#include "models/training.h"

namespace gg::field_detail {

enum Source { kTrain, kTest, kNoise, kGrid, kSources };
inline constexpr const char* kSourceName[kSources] = {"train", "test", "noise", "grid"};

inline constexpr double kFrameMargin = 0.5;        // the code frame: the codes' box plus half its larger span
inline constexpr double kPotentialMargin = 0.25;   // the input frame of the potential
inline constexpr int64_t kPowerIterationCap = 64;  // attractors (by count) that get a power-iteration estimate
inline constexpr int64_t kDecodedImages = 64;      // decoded attractors in the image grid
inline constexpr int64_t kPaths[3] = {16, 8, 8};   // recorded trajectories from train, test, noise

struct Analysis {
  Trainer* trainer = nullptr;
  int64_t k = 0;
  IterateOptions iterate;
  double scale = 0;
  MergeChoice merge;
  MemorizationReport report;  // the train, test and noise censuses (section 3.2)
  std::array<Tensor, 3> starts;  // the codes of train, test, noise [N, k]
  Trajectories grid_run;      // k = 2: from every cell of the grid
  Plane plane;
  Grid2d grid;
  PooledAttractors pooled;    // every source's endpoints, one list
  std::vector<FixedPointAnalysis> fixed_points;
  std::vector<SpectralNormEstimate> power;  // for the kPowerIterationCap most visited (has_power)
  std::vector<bool> has_power;
  Tensor decoded;                // D(z*) of every pooled attractor
  MemorizationCoefficient mem_all;
  std::array<ConvergenceSpeed, kSources> speed;

  const Trajectories& run(int s) const {
    return s == kTrain ? report.train.trajectories
           : s == kTest ? report.test.trajectories
           : s == kNoise ? report.noise.trajectories
                         : grid_run;
  }
};

// A PlaneField as CSV: p0, p1, v0, v1 (the in-plane components of f(z) - z), norm (its full norm).
void write_field_csv(const std::string& path, const PlaneField& field);
// Points of the plane (p0, p1 pairs) as CSV rows "p0,p1", each prefixed by `prefix` when it is not empty.
void write_plane_points(CsvWriter& csv, const std::vector<double>& pairs, const std::string& prefix = "");

// k = 2 (Figures 1 and 3a): in `dir`, the field on `grid` (field_<tag>.csv), the training and noise attractors
// of `r` with their visit counts (attractors_<tag>.csv: source, p0, p1, count) and the training codes
// (codes_<tag>.csv), all in `plane`; returns the grid for metrics.json.
nlohmann::json write_field_snapshot(Autoencoder& model, const MemorizationReport& r, const Plane& plane,
                                    const Tensor& z_train, const Grid2d& grid, const std::string& dir,
                                    const std::string& tag);

// convergence.csv: per converged start of every source, Proposition 3.2's prediction and the measurement.
void write_convergence(const Analysis& a, const std::string& out);
// attractors.csv (one row per pooled attractor, by rank) and eigenvalues.csv.
void write_attractors(const Analysis& a, const std::string& out);
// codes.csv and trajectories.csv in the picture plane (the paths are iterated again, recorded).
void write_codes_and_paths(Analysis& a, const std::string& out);
// field.csv, and basins.csv for k = 2; returns {"field": ..., "basins": ... or null} for metrics.json.
nlohmann::json write_field_and_basins(Analysis& a, const std::string& out);
// decoded_attractors.png (images) or decoded_attractors.csv and data.csv (points, data units).
void write_decoded(const Analysis& a, const std::string& out);
// potential.csv over the input plane (2-D data only); the metrics' "potential" block, or null.
nlohmann::json write_potential(const Analysis& a, int64_t grid_n, uint64_t seed, const std::string& out);

}  // namespace gg::field_detail
