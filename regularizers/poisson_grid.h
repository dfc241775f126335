// A numerical check of the Green decomposition of paper 000 (eq. 6, 7, 11-13) on a 2-D square, and a
// measurement of how far the paper's estimators (eq. 10 quadrature, eq. 7 corruption proxy) are from the
// terms they stand for.
//
// Set-up. Omega = [-L, L]^2, a density p (a Gaussian mixture, not vanishing on the boundary) restricted and
// renormalized to Omega, p_Omega = p / Z with Z = integral_Omega p, and a source s(x) (e.g. s_phi of a fixed
// encoder, encoder_source). Laplace v = s in Omega with v = 0 on the boundary (eq. 4, Dirichlet) is solved by
// 5-point finite differences on an (n+1) x (n+1) node grid (spacing h = 2L/n) with Eigen's SimplicialLDLT.
// Then, all integrals by the trapezoid rule on the nodes, grad v by second-order differences (one-sided on
// the boundary):
//     R        = integral p_Omega s                                  (eq. 11)
//     flux     = integral_{boundary} p_Omega dv/dn dS                 (eq. 12, boundary term)
//     coupling = integral grad p_Omega . grad v = E[grad log p . grad v]   (eq. 12-13)
// and Green's first identity says R = flux - coupling; `residual` is the discretization error, O(h^2) up to
// the corner singularities of v (a square's corners make v only C^1,1 there), so it shrinks as n grows.
//
// The potential here lives in input space (the code map of eq. 10 is the identity, z = x), because eq. 4 is
// posed in input space; this is the setting in which "the true flux and coupling" are defined.
//
// Monte-Carlo part (samples > 0): x_b ~ p_Omega (rejection from the mixture), quadrature points x_j ~ p_Omega
// drawn independently, and Pi = the corruption. For each potential it reports the true boundary flux (the
// trapezoid rule on the boundary nodes), the coupling (a sample mean of score . grad v) and the corruption
// proxy of eq. 7 (a sample mean of grad v(Pi(x)) . n(x)):
//     dirichlet   the grid potential above, extended by zero outside Omega (a Pi(x) that leaves Omega sees
//                 grad v = 0; proxy_samples counts those that stayed inside)
//     quadrature  eq. 10 as written: v(x) = (1/M) sum_j G_eps(x, x_j) s(x_j), which estimates
//                 integral G s p_Omega, i.e. the free-space solution of Laplace v = p_Omega s (not of s)
//     weighted    eq. 10 with importance weights 1 / p_Omega(x_j): the free-space solution of
//                 Laplace v = s on Omega (source zero outside), which differs from the Dirichlet one by a
//                 harmonic function
//     importance  the same with 1 / q(x_j), q a kernel density estimate of the quadrature points: what the
//                 regularizer's estimator "importance" computes, where p_D is not known
//     ritz        v_theta fitted to the Ritz energy of ritz.h on the same quadrature points, sources and
//                 weights, with its Dirichlet penalty on the corrupted samples Pi(x_b) (the first M), as the
//                 regularizer's estimator "ritz" fits it in training
//     ritz_box    "boundary": "box": v = 0 imposed on the quadrature points' widened bounding box
//                 (code_box) and the energy integrated over that box (ritz.h)
//     ritz_omega  the same with Omega as the box: the grid's own Dirichlet problem, with the source
//                 known only through the samples (smoothed_source), as every estimator here knows it
//     ritz_oracle the same with the exact s at the drawn points: an oracle (s is known at the data alone in
//                 training) that shows what the Ritz fit itself reaches
// Each potential is also evaluated on every grid node: its relative L2 distance to the grid solution (v and
// grad v; uniform over Omega, and weighted by p_Omega, "on the data"), its coupling by the trapezoid rule,
// and Green's residual R - (boundary flux - coupling), 0 for any v with Laplace v = s in Omega (eq. 6).
// Green's identity holds for any v with Laplace v = s in Omega, whatever its boundary values, so the weighted
// potential's flux - coupling is also ~ R, with a different split; the quadrature potential's is
// integral p_Omega^2 s instead.
#pragma once

#include <functional>
#include <string>

#include "datasets/toy.h"
#include "regularizers/contractive.h"
#include "regularizers/ritz.h"

namespace gg {

// A scalar source on points: x [N, 2] (f64) -> s(x) [N], no history needed.
using SourceFn = std::function<Tensor(const Tensor& x)>;

// s_phi(x) = ||J_f(x)||_F^2 (eq. 3) of `model`'s encoder, evaluated without a graph (exact Jacobian). `model`
// is held by reference and must outlive the function.
SourceFn encoder_source(Autoencoder& model);

struct GridCheckOptions {
  int64_t n = 64;                       // intervals per side (h = 2 L / n), >= 4
  double half_width = 1.5;              // L: Omega = [-L, L]^2
  int64_t samples = 0;                  // Monte-Carlo samples from p_Omega; 0 skips the Monte-Carlo part
  int64_t quadrature_points = 256;      // M of eq. 10
  double eps = 1e-2;                    // G_eps (eq. 10)
  std::string corruption = "noise:0.1"; // Pi (eq. 7)
  double normal_eps = 1e-2;             // eps of n(x) (eq. 7)
  uint64_t seed = 0;                    // the Monte-Carlo draws
  double density_bandwidth = 0;         // the "importance" potential's kernel density bandwidth (0: chosen from
                                        // the quadrature points, as inverse_density_weights does)
  bool ritz = false;                    // fit the four Ritz potentials (first_steps Adam steps, then Newton)
  RitzOptions ritz_options;             // their options (ritz.h)
};

// The terms for one potential v.
struct PotentialTerms {
  double boundary_flux = 0;  // integral_{boundary} p_Omega dv/dn dS
  double coupling = 0;       // E_{p_Omega}[grad log p . grad v]
  double flux_proxy = 0;     // E[grad v(Pi(x)) . n(x)] (eq. 7)
  double loss() const { return flux_proxy - coupling; }  // L_Pois (eq. 9)
  // On the grid nodes (Monte-Carlo part only):
  double coupling_grid = 0;            // integral grad p_Omega . grad v, trapezoid rule
  double green_residual = 0;           // R - (boundary_flux - coupling_grid): Green's first identity (eq. 6)
  double v_error = 0, grad_error = 0;  // |v - v_grid| / |v_grid|, likewise grad v: uniform on Omega
  double v_error_data = 0, grad_error_data = 0;  // the same weighted by p_Omega
};

struct GridCheck {
  int64_t n = 0;
  double h = 0;
  double mass = 0;      // Z = integral_Omega p
  double source = 0;    // R = integral p_Omega s (eq. 11), grid
  double flux = 0;      // boundary term of eq. 12, grid, Dirichlet v
  double coupling = 0;  // interior term of eq. 12 (= eq. 13), grid, Dirichlet v
  double residual = 0;  // source - (flux - coupling): Green's first identity (eq. 6) up to discretization
  double source_density_weighted = 0;  // integral p_Omega^2 s: what the eq. 10 potential's flux - coupling
                                       // approaches (its Laplacian is p_Omega s)
  // Monte-Carlo part (all zero when options.samples == 0).
  int64_t samples = 0;
  double mc_source = 0;        // mean of s(x_b): R by sampling
  PotentialTerms dirichlet;    // boundary_flux/coupling: the grid values above, except coupling: by sampling
  int64_t proxy_samples = 0;   // samples whose Pi(x) stayed in Omega (the Dirichlet proxy's sample size)
  PotentialTerms quadrature;   // eq. 10 as written (free space, unweighted samples from p_Omega)
  PotentialTerms weighted;     // eq. 10 importance-weighted (free space, source s on Omega)
  PotentialTerms importance;   // eq. 10 weighted by a kernel density estimate of the quadrature points instead of
                               // p_Omega (inverse_density_weights): the "importance" estimator
  PotentialTerms ritz;         // v_theta, the "ritz" estimator (options.ritz)
  PotentialTerms ritz_box;     // v_theta with the penalty on the quadrature points' widened bounding box
  PotentialTerms ritz_omega;   // v_theta on Omega as the box (options.ritz)
  PotentialTerms ritz_oracle;  // the same with the exact source
  RitzReport ritz_fit, ritz_box_fit, ritz_omega_fit, ritz_oracle_fit;

  // The fields on the (n+1)^2 nodes, row (i, j) at i (n+1) + j: coordinates, p_Omega, s, and each potential's
  // v by name (dirichlet, and the Monte-Carlo ones), for the figures of gradgrad poisson-check.
  std::vector<double> node_x, node_y, node_p, node_s;
  std::vector<std::pair<std::string, std::vector<double>>> node_v;
};

// Runs the check for `density` (2-D) and `source`. Throws on bad options.
GridCheck poisson_grid_check(const GaussianMixture& density, const SourceFn& source, const GridCheckOptions& options);

}  // namespace gg
