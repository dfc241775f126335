// The latent vector field of an autoencoder (paper 002, section 2.1).
//
// For a trained autoencoder F = D o E with codes in R^k, the latent map is f(z) = E(D(z)) and iterating it,
// z_{t+1} = f(z_t) from z_0 (eq. 3), is the discretisation of dz/dt = f(z) - z (eq. 4): the residual
// f(z) - z is the latent vector field. Its fixed points f(z*) = z* where the Jacobian's eigenvalues lie
// inside the unit circle are the attractors (Definition 2, see spectrum.h).
//
// Everything here runs without recording a graph (NoGradGuard) and works with any map z -> f(z) on rows of
// a [N, k] tensor, so tests can drive it with maps of known dynamics; the Autoencoder overloads use
// Autoencoder::latent_map. Contract shared by every map: f takes [m, k] (any m >= 1) and returns [m, k], row
// i of the output depending on row i of the input only.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "models/autoencoder.h"

namespace gg {

// z [m, k] -> f(z) [m, k], row by row.
using LatentMap = std::function<Tensor(const Tensor&)>;

// f = E o D of the model, as a LatentMap (it casts its input to the model's dtype).
LatentMap latent_map_of(Autoencoder& model);

// The residual vector field f(z) - z of eq. 4 at every row of z [N, k], in z's dtype, computed in batches.
Tensor vector_field(const LatentMap& f, const Tensor& z, int64_t batch_size = 1024);
Tensor vector_field(Autoencoder& model, const Tensor& z, int64_t batch_size = 1024);

// E(x) and D(z) in batches with no graph; the results are in the model's dtype.
Tensor encode_batched(Autoencoder& model, const Tensor& x, int64_t batch_size = 1024);
Tensor decode_batched(Autoencoder& model, const Tensor& z, int64_t batch_size = 1024);

// ---- A regular grid of 2-D codes (Figure 1's quiver plots, basins of attraction) --------------------------
// nx * ny cells covering [x_min, x_max] x [y_min, y_max]; the point of cell (i, j) is its centre
// (x_min + (i + 0.5) dx, y_min + (j + 0.5) dy). Points are listed row by row, y outer and x inner (index
// j * nx + i), so a per-cell array reshapes to [ny, nx] for an image with its origin at the lower left.
struct Grid2d {
  double x_min = -1, x_max = 1, y_min = -1, y_max = 1;
  int64_t nx = 64, ny = 64;

  int64_t size() const { return nx * ny; }
  // The cell centres, [nx * ny, 2] f64. Throws unless nx, ny >= 1 and the bounds are increasing.
  Tensor points() const;
};

// The field sampled on a grid: what a quiver plot coloured by ||f(z) - z|| draws.
struct FieldSample {
  Tensor points;              // [n, 2] f64, the cell centres
  Tensor vectors;             // [n, 2] f64, f(z) - z at each (eq. 4)
  std::vector<double> norms;  // ||f(z) - z|| per point
};
FieldSample sample_field(const LatentMap& f, const Grid2d& grid, DType dtype = DType::f64);
FieldSample sample_field(Autoencoder& model, const Grid2d& grid);

// ---- Iterating the latent map (eq. 3) ---------------------------------------------------------------------
// Each sample runs z_{t+1} = f(z_t) on its own and stops at the first step with ||z_{t+1} - z_t||^2 < tol
// (converged) or after max_iters applications of f (appendix D states the test as
// ||f(z_{t+1}) - f(z_t)||^2 < tol: the same squared distance between two consecutive iterates), or when an
// iterate holds a NaN or Inf (diverged). The defaults are appendix D's for the experiments of Figures 2, 3
// and 13; for sections 4.1 and 4.2 the paper uses foundation().
struct IterateOptions {
  double tol = 1e-6;          // on the squared step ||z_{t+1} - z_t||^2 (appendix D)
  int64_t max_iters = 3000;   // the cap on applications of f (appendix D)
  int64_t batch_size = 1024;  // samples iterated together; converged ones leave the batch
  // 0: no paths; r >= 1: record z_0, z_r, z_2r, ... and always the last iterate, per sample.
  int64_t record_every = 0;
  // Called after every application of f to a batch, with how many of the N samples have finished (converged,
  // diverged or reached max_iters) and the step t within the batch: thousands of starts on a conv net take
  // minutes, and a progress bar shows where they are. Empty: no calls.
  std::function<void(int64_t finished, int64_t total, int64_t t)> progress;

  // Appendix D's setting for the foundation-model experiments (sections 4.1, 4.2): tol 1e-5, 500 iterations.
  static IterateOptions foundation() {
    IterateOptions o;
    o.tol = 1e-5;
    o.max_iters = 500;
    return o;
  }
};

enum class IterOutcome : uint8_t { converged, max_iters, diverged };

// A recorded path: the iterates z_t at the listed t (row by row in z, [steps.size(), k]).
struct TrajectoryPath {
  std::vector<int64_t> steps;
  std::vector<double> z;
};

struct Trajectories {
  Tensor start;                       // [N, k] the initial codes z_0 (in the map's dtype)
  Tensor final;                       // [N, k] each sample's last finite iterate (its attractor if converged)
  std::vector<int64_t> iterations;    // applications of f per sample
  std::vector<IterOutcome> outcome;   // per sample
  std::vector<double> last_step_sq;   // ||z_T - z_{T-1}||^2 at the stop (0 when max_iters == 0)
  std::vector<TrajectoryPath> paths;  // per sample when record_every > 0, else empty
  IterateOptions options;             // what the iteration ran with

  int64_t size() const { return static_cast<int64_t>(iterations.size()); }
  int64_t dim() const { return final.defined() ? final.size(1) : 0; }
  bool converged(int64_t i) const { return outcome[static_cast<size_t>(i)] == IterOutcome::converged; }
  int64_t num_converged() const;
  // Sample i's recorded path as [steps, k] f64 (needs record_every > 0).
  Tensor path(int64_t i) const;
};

// Called once per step of a batch with the samples that reached iterate t at that step, z_0 included: their
// indices, t, and their iterates z_t as rows of z ([samples.size(), k] row-major). Every sample is visited at
// every t from 0 to its stop (a diverged sample's non-finite iterate is not visited). Lets a caller aggregate
// over whole trajectories, a batch at a time (e.g. the OOD score of section 4.2), without storing them.
using VisitFn =
    std::function<void(const std::vector<int64_t>& samples, int64_t t, const std::vector<double>& z)>;

// Iterates f from every row of z0 [N, k] (N >= 0). The map sees tensors of z0's dtype.
Trajectories iterate(const LatentMap& f, const Tensor& z0, const IterateOptions& options = {},
                     const VisitFn& visit = {});
// The same for the model's latent map f = E o D; z0 is cast to the model's dtype.
Trajectories iterate(Autoencoder& model, const Tensor& z0, const IterateOptions& options = {},
                     const VisitFn& visit = {});

// ---- Small helpers shared by the dynamics files ----------------------------------------------------------
// Rows [start, stop) of x (first axis), as a contiguous copy.
Tensor row_block(const Tensor& x, int64_t start, int64_t stop);
// The rows of x at `indices`, in that order.
Tensor select_rows(const Tensor& x, const std::vector<int64_t>& indices);
// x [N, ...] read as N rows of D = numel / N values each (row-major doubles); sets n and d.
std::vector<double> rows_as_doubles(const Tensor& x, int64_t& n, int64_t& d);

}  // namespace gg
