// The local linear picture of the latent map at a point: its Jacobian J_f(z), spectral norm and eigenvalues;
// the classification of fixed points (Definition 2); and the speed of convergence to an attractor predicted
// from the spectral norm (Proposition 3.2, tested against measured iteration counts in Figure 11).
//
// Maps follow field.h's contract (rows in, rows out, row i depending on row i only) and must be
// differentiable with the engine's ops. Everything here records graphs internally, whatever the caller's grad
// mode, and returns plain values.
#pragma once

#include <complex>
#include <cstdint>
#include <vector>

#include "dynamics/field.h"

namespace gg {

// J_f(z) [k, k] f64 at one point z ([k] or [1, k]; the map sees z's dtype), from one batched backward pass
// (the engine's jacobian).
Tensor latent_jacobian(const LatentMap& f, const Tensor& z);
// J_f at every row of z [N, k]: [N, k, k] f64, by the engine's batch_jacobian, batch_size rows at a time.
Tensor latent_jacobians(const LatentMap& f, const Tensor& z, int64_t batch_size = 256);

// ---- Spectral norm without the Jacobian (Definition 3's ||J_z f||) --------------------------------------
// Power iteration on J^T J: v <- J^T (J v) / ||J^T (J v)||, with J v by the engine's jvp and J^T u by its
// vjp, from a seeded Gaussian start; sigma = ||J v|| for the unit v. Stops when sigma changes by at most
// tol * sigma between two iterations, or after max_iters.
struct PowerIterationOptions {
  int64_t max_iters = 200;
  double tol = 1e-7;
  uint64_t seed = 0;
};
struct SpectralNormEstimate {
  double sigma = 0;                  // the largest singular value of J_f(z)
  std::vector<double> right_vector;  // the unit v with ||J v|| = sigma (k values)
  int64_t iterations = 0;
  bool converged = false;
};
SpectralNormEstimate spectral_norm_power(const LatentMap& f, const Tensor& z,
                                         const PowerIterationOptions& options = {});

// ---- Spectra of an explicit Jacobian [k, k] ---------------------------------------------------------------
// Eigenvalues (Eigen's EigenSolver) by decreasing modulus; ties: larger real part, then imaginary part.
std::vector<std::complex<double>> jacobian_eigenvalues(const Tensor& jacobian);
// Singular values, decreasing (the first is the spectral norm).
std::vector<double> jacobian_singular_values(const Tensor& jacobian);

// ---- Fixed points (Definitions 1-3) -----------------------------------------------------------------------
struct FixedPointAnalysis {
  std::vector<double> z;       // the point (k values)
  double residual = 0;         // ||f(z) - z||, eq. 4's field at z
  double spectral_norm = 0;    // ||J_f(z)||_2: the local Lipschitz constant of Definition 3, Prop 3.2's rho
  double spectral_radius = 0;  // max_i |lambda_i(J_f(z))|
  std::vector<std::complex<double>> eigenvalues;  // by decreasing modulus (empty unless asked for)
  bool is_fixed_point = false;                    // residual^2 < fixed_point_tol
  bool is_attractor = false;    // Definition 2: a fixed point whose eigenvalues all have |lambda| < 1
  bool is_contractive = false;  // spectral_norm < 1: f locally contractive (Definition 1), which implies
                                // |lambda| < 1 but not conversely
};
// Analyses every row of points [A, k] with one batched Jacobian pass. The default fixed-point tolerance is
// appendix D's 1e-6 on the squared step, so endpoints of a converged iteration count as fixed points.
std::vector<FixedPointAnalysis> analyze_fixed_points(const LatentMap& f, const Tensor& points,
                                                     double fixed_point_tol = 1e-6,
                                                     bool with_eigenvalues = true);

// ---- Speed of convergence (Proposition 3.2, appendix A.3, Figure 11) --------------------------------------
// Proposition 3.2: with rho = ||J_f(z*)||_2 < 1, the error e_t = ||z_t - z*|| <= rho^t e_0, so reaching
// e_T <= eps takes T = log(eps / e_0) / log(rho) iterations. Returns 0 when e_0 <= eps, +inf when rho >= 1,
// and 1 when rho == 0 (f maps a neighbourhood onto z* in one step).
double predicted_iterations(double rho, double initial_error, double eps);
// The error the stopping rule of field.h guarantees under the same linear model: the step
// z_{t+1} - z_t = (J - I) e_t has norm >= (1 - rho) ||e_t||, so ||z_{t+1} - z_t||^2 < tol implies
// ||e_t|| < sqrt(tol) / (1 - rho). That test is made one application of f after z_t is reached, so a run that
// stops by it takes about T + 1 applications of f (exactly ceil(T) + 1 for a linear map started on its
// slowest eigenvector).
double tolerance_to_error(double tol, double rho);

// Figure 11: for every converged sample of an iteration, the initial error e_0 = ||z_0 - z*|| to its own
// endpoint z*, rho = ||J_f(z*)||_2, the prediction T of Proposition 3.2 with
// eps = tolerance_to_error(tol, rho) (tol: the one the trajectories ran with) and the measured number of
// applications of f; and the Pearson correlation of predicted and measured over the finite predictions.
struct ConvergenceSpeed {
  std::vector<int64_t> samples;       // indices of the converged samples, in order
  std::vector<double> initial_error;  // e_0
  std::vector<double> rho;            // spectral norm at the endpoint
  std::vector<double> predicted;      // T (may be +inf where rho >= 1)
  std::vector<double> measured;       // applications of f until the stopping rule held
  double pearson = 0;                 // NaN with fewer than two finite predictions or no variance
};
ConvergenceSpeed convergence_speed(const LatentMap& f, const Trajectories& trajectories);

// Pearson's correlation coefficient of two equally long samples; NaN if either has zero variance or n < 2.
double pearson_correlation(const std::vector<double>& a, const std::vector<double>& b);

}  // namespace gg
