// Green's first identity (eq. 6, 11-13) of the Poisson-potential regularizer (paper 000) on a finite-difference
// grid (regularizers/poisson_grid.h), and the Monte-Carlo estimators of regularizers/poisson.h against it.
#include <cstdio>
#include <string>

#include "datasets/corruption.h"
#include "regularizers/poisson.h"
#include "regularizers/poisson_grid.h"
#include "tests/helpers.h"
#include "tests/models_helpers.h"

using namespace gg;

namespace {

// printf into a string.
template <class... A>
void append(std::string& out, const char* format, A... args) {
  char buffer[512];
  std::snprintf(buffer, sizeof buffer, format, args...);
  out += buffer;
}

// A fixed small tanh encoder 2 -> 6 -> 2: its s_phi is smooth and not constant.
AutoencoderConfig grid_encoder() {
  AutoencoderConfig c;
  c.input_shape = {2};
  c.code_dim = 2;
  c.hidden = {6};
  c.activation = "tanh";
  c.dtype = DType::f64;
  c.seed = 3;
  return c;
}
}  // namespace

TEST_CASE("Poisson grid check: Green's first identity R = flux - coupling to discretization accuracy") {
  Autoencoder ae(grid_encoder());
  const GaussianMixture gm = default_gaussian_mixture();
  const SourceFn s = encoder_source(ae);
  GridCheckOptions o;
  o.n = 48;
  const GridCheck coarse = poisson_grid_check(gm, s, o);
  o.n = 96;
  const GridCheck fine = poisson_grid_check(gm, s, o);
  MESSAGE("n=48: R=" << coarse.source << " flux=" << coarse.flux << " coupling=" << coarse.coupling
                     << " residual=" << coarse.residual);
  MESSAGE("n=96: R=" << fine.source << " flux=" << fine.flux << " coupling=" << fine.coupling
                     << " residual=" << fine.residual);
  // The terms are all of order one and the boundary term is not negligible (p does not vanish on the boundary).
  CHECK(std::abs(fine.flux) > 0.05 * fine.source);
  CHECK(std::abs(fine.coupling) > 0.05 * fine.source);
  CHECK(std::abs(coarse.residual) < 5e-3 * coarse.source);
  CHECK(std::abs(fine.residual) < 1.2e-3 * fine.source);
  CHECK(std::abs(fine.residual) < 0.3 * std::abs(coarse.residual));  // second order: / 4 when h halves
  // Refining changes the terms themselves by little (they converge, not only their balance).
  CHECK(fine.flux == doctest::Approx(coarse.flux).epsilon(1e-2));
  CHECK(fine.coupling == doctest::Approx(coarse.coupling).epsilon(1e-2));
}

TEST_CASE("Poisson grid check: the Monte-Carlo estimators against the grid (numbers for docs/poisson.md)") {
  // Run with -s to see the table that docs/poisson.md quotes:
  //   build/gg_tests -s -tc="Poisson grid check: the Monte-Carlo*"
  Autoencoder ae(grid_encoder());
  GridCheckOptions o;
  o.n = 128;
  o.samples = 8192;
  o.quadrature_points = 256;
  // The small-noise limit of the eq. 7 proxy for Gaussian noise Pi(x) = x + sigma xi in d = 2 (docs/poisson.md):
  // E[grad v(x + sigma xi) . n] -> (sigma / d) E|xi|^2 / (|xi| + eps_n / sigma) E[Laplace v], |xi| ~ Rayleigh.
  auto noise_factor = [&](double sigma) {
    double e = 0;
    const int64_t k = 200000;
    for (int64_t i = 0; i < k; ++i) {
      const double r = (static_cast<double>(i) + 0.5) * 10.0 / static_cast<double>(k);
      e += r * r / (r + o.normal_eps / sigma) * r * std::exp(-r * r / 2) * 10.0 / static_cast<double>(k);
    }
    return sigma / 2 * e;
  };
  std::string report;
  for (const char* corruption : {"noise:0.1", "noise:0.3", "rotation:30", "zoom:0.2"}) {
    CAPTURE(corruption);
    o.corruption = corruption;
    const GridCheck c = poisson_grid_check(default_gaussian_mixture(), encoder_source(ae), o);
    // Sampling agrees with the grid where it should: R and the coupling of the Dirichlet potential (eq. 13).
    CHECK(c.mc_source == doctest::Approx(c.source).epsilon(0.03));
    CHECK(c.dirichlet.coupling == doctest::Approx(c.coupling).epsilon(0.05));
    // Green's identity for the two free-space potentials: the weighted one has Laplacian s on Omega (so its
    // flux - coupling is R again, another split), eq. 10 as written has Laplacian p_Omega s.
    CHECK(c.weighted.boundary_flux - c.weighted.coupling == doctest::Approx(c.source).epsilon(0.05));
    CHECK(c.quadrature.boundary_flux - c.quadrature.coupling == doctest::Approx(c.source_density_weighted).epsilon(0.1));
    // The "importance" estimator, with p_Omega estimated from the quadrature points themselves, comes back to R.
    const double importance = c.importance.boundary_flux - c.importance.coupling;
    const double paper = c.quadrature.boundary_flux - c.quadrature.coupling;
    CHECK(std::abs(importance - c.source) < 0.25 * std::abs(paper - c.source));
    if (std::string(corruption) == "noise:0.1") {
      append(report, "\n[poisson grid check] n=%lld h=%.5f mass Z=%.6f\n", static_cast<long long>(c.n), c.h, c.mass);
      append(report, "  grid (Dirichlet): R=%.6f flux=%.6f coupling=%.6f flux-coupling=%.6f residual=%.2e\n",
                  c.source, c.flux, c.coupling, c.flux - c.coupling, c.residual);
      append(report, "  integral p_Omega^2 s = %.6f\n", c.source_density_weighted);
      append(report, "  Monte Carlo (%lld samples, M=%lld): E[s]=%.6f\n", static_cast<long long>(c.samples),
                  static_cast<long long>(o.quadrature_points), c.mc_source);
      auto row = [&](const char* name, const PotentialTerms& t) {
        append(report, "  %-10s boundary_flux=%9.6f coupling=%9.6f flux-coupling=%9.6f\n", name, t.boundary_flux,
                    t.coupling, t.boundary_flux - t.coupling);
      };
      row("dirichlet", c.dirichlet);
      row("quadrature", c.quadrature);
      row("weighted", c.weighted);
      row("importance", c.importance);
    }
    append(report, "  %-11s proxy(eq.7): dirichlet=%9.6f quadrature=%9.6f weighted=%9.6f importance=%9.6f | "
                "L_Pois(eq.9) with eq.10: %9.6f, importance: %9.6f | inside: %lld/%lld",
                corruption, c.dirichlet.flux_proxy, c.quadrature.flux_proxy, c.weighted.flux_proxy,
                c.importance.flux_proxy, c.quadrature.loss(), c.importance.loss(),
                static_cast<long long>(c.proxy_samples), static_cast<long long>(c.samples));
    if (std::string(corruption).rfind("noise:", 0) == 0) {
      const double k = noise_factor(parse_corruption(corruption).amount);
      append(report, " | small-noise limit: dirichlet/weighted %.6f, quadrature %.6f", k * c.source,
                  k * c.source_density_weighted);
    }
    append(report, "\n");
  }
  MESSAGE(report);
}

TEST_CASE("Poisson grid check: the Ritz potentials against the grid solution (numbers for docs/poisson.md)") {
  // The Ritz fit solves eq. 4 where its source is exact; with the source known only through samples, as in
  // training, the box boundary comes closer to Green's identity than eq. 10 as written, and the corrupted
  // boundary pins v near 0 on the data. Run with -s for the table.
  Autoencoder ae(grid_encoder());
  GridCheckOptions o;
  o.n = 48;
  o.samples = 2048;
  o.ritz = true;
  o.ritz_options.first_steps = 1200;
  o.ritz_options.box_points = 256;
  const GridCheck c = poisson_grid_check(default_gaussian_mixture(), encoder_source(ae), o);
  std::string report;
  append(report, "\n[ritz grid check] n=%lld R=%.6f flux=%.6f coupling=%.6f\n", static_cast<long long>(c.n),
         c.source, c.flux, c.coupling);
  auto row = [&](const char* name, const PotentialTerms& t) {
    append(report,
           "  %-11s flux=%9.6f coupling=%9.6f green=%9.6f v_err=%.3f grad_err=%.3f v_err_data=%.3f "
           "grad_err_data=%.3f\n",
           name, t.boundary_flux, t.coupling_grid, t.green_residual, t.v_error, t.grad_error, t.v_error_data,
           t.grad_error_data);
  };
  row("paper", c.quadrature);
  row("importance", c.importance);
  row("ritz", c.ritz);
  row("ritz_box", c.ritz_box);
  row("ritz_omega", c.ritz_omega);
  row("ritz_oracle", c.ritz_oracle);
  MESSAGE(report);
  for (const RitzReport* fit : {&c.ritz_fit, &c.ritz_box_fit, &c.ritz_omega_fit, &c.ritz_oracle_fit}) {
    CHECK_FALSE(fit->diverged);
    CHECK(fit->steps == 1200);
  }
  // The fit itself: with the exact source on Omega, v_theta is the grid solution to a few percent.
  CHECK(c.ritz_oracle.v_error < 0.05);
  CHECK(c.ritz_oracle.grad_error_data < 0.15);
  // Green's identity: the box potential comes closer than eq. 10, and so does its gradient.
  CHECK(std::abs(c.ritz_box.green_residual) < 0.75 * std::abs(c.quadrature.green_residual));
  CHECK(c.ritz_box.grad_error_data < 0.75 * c.quadrature.grad_error_data);
  // The corrupted-codes boundary sits among the data: v_theta stays near 0 there, far from the grid solution.
  CHECK(c.ritz.v_error_data > 0.8);
  // The dirichlet row is the reference itself.
  CHECK(c.dirichlet.v_error == 0);
  CHECK(c.dirichlet.green_residual == doctest::Approx(c.residual));
}
