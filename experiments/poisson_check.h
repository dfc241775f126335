// `gradgrad poisson-check --config F`: every estimator of paper 000's potential measured against the
// finite-difference solution of eq. 4, for the density and the encoder that a training config names.
//
// The config's data must have a known density: "gaussian-mixture" (default_gaussian_mixture) or "two-moons"
// (two_moons_density at the config's noise), taken through the config's normalization, so the check sees
// the coordinates the model sees. Its source is s_phi (eq. 3) of the config's encoder as initialized (the
// config's seed); its estimator options (quadrature points, eps, corruption, bandwidth, the Ritz options) are
// the config's Poisson term's. Omega is a square round the density's mean (poisson_grid.h). Rows:
//     grid        the finite-difference Dirichlet solution: the reference
//     paper       eq. 10 as written                                  (estimator "paper")
//     importance  eq. 10 weighted by 1 / q, q a kernel density        (estimator "importance")
//     ritz        v_theta, Dirichlet penalty on corrupted samples     (estimator "ritz")
//     ritz_box    v_theta, v = 0 on a box round the data              (estimator "ritz", "boundary": "box")
//     ritz_omega  v_theta, v = 0 on Omega's boundary                  (a diagnostic: the grid's problem)
//     ritz_oracle the same with the exact source                      (an oracle: what the Ritz fit reaches)
//     weighted    eq. 10 weighted by 1 / p_Omega, the true density    (an oracle: p_D is unknown in training)
// and columns: the boundary flux and the coupling of eq. 12 for that potential, Green's residual
// R - (flux - coupling) (0 when Laplace v = s, eq. 6), v's and grad v's relative L2 distance to the grid
// solution (uniform on Omega; weighted by p_Omega, "on the data"), the eq. 7 proxy and L_Pois (eq. 9), and
// each training estimator's cost per training step beside the plain step's.
//
// Writes poisson_check.json (everything), poisson_check.csv (the table), potentials.csv (p, s and every v on
// the grid nodes) and run.json; plots/poisson_check.py draws poisson_check.png from them.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace gg {

struct PoissonCheckOptions {
  std::string config_path;        // a training config with a "poisson" regularizer term
  std::vector<std::string> sets;  // "a.b.c=value" overrides
  int64_t grid = 128;             // intervals per side of the finite-difference grid
  double half_width = 0;          // Omega = centre +- half_width; 0: the components' means + 1.5 sd
  int64_t samples = 4096;         // Monte-Carlo samples from p_Omega (coupling, proxy)
  int64_t ritz_steps = 6000;      // Adam steps of the check's Ritz fits (training warm-starts instead)
  int64_t cost_epochs = 2;        // timed training epochs per estimator (after one untimed)
  uint64_t seed = 0;
  std::string command;  // recorded in run.json
};

struct PoissonCheckResult {
  nlohmann::json check;  // poisson_check.json as written
  std::string table;     // the table, as printed
  double minutes = 0;
};

PoissonCheckResult poisson_check_experiment(const PoissonCheckOptions& options, const std::string& out_dir);

}  // namespace gg
