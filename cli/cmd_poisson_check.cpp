// gradgrad poisson-check: paper 000's potential estimators against the finite-difference solution of eq. 4
// (experiments/poisson_check.h).
#include <cstdio>

#include "cli/commands.h"
#include "experiments/poisson_check.h"

namespace gg::cli {

Action add_poisson_check(CLI::App& app, const std::string& command) {
  auto o = std::make_shared<PoissonCheckOptions>();
  auto out = std::make_shared<std::string>();
  CLI::App* sub = app.add_subcommand(
      "poisson-check",
      "paper 000: every potential estimator against the grid solution of eq. 4 (two moons, mixture)");
  sub->add_option("--config", o->config_path, "a training config with a poisson regularizer term")
      ->required()
      ->check(CLI::ExistingFile);
  sub->add_option("--out", *out, "the output folder")->required()->type_name("DIR");
  add_set_option(*sub, o->sets);
  sub->add_option("--grid", o->grid, "intervals per side of the finite-difference grid")
      ->check(at_least(8))
      ->capture_default_str();
  sub->add_option("--half-width", o->half_width,
                  "Omega's half width round the density's mean (0: from the density)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  sub->add_option("--samples", o->samples, "Monte-Carlo samples from the density")
      ->check(at_least(16))
      ->capture_default_str();
  sub->add_option("--ritz-steps", o->ritz_steps, "Adam steps of the check's Ritz fits")
      ->check(at_least(1))
      ->capture_default_str();
  sub->add_option("--cost-epochs", o->cost_epochs, "timed training epochs per estimator")
      ->check(at_least(1))
      ->capture_default_str();
  add_seed_option(*sub, o->seed);
  return [o, out, &command] {
    o->command = command;
    const PoissonCheckResult r = poisson_check_experiment(*o, *out);
    std::printf("%s%.2f min\n", r.table.c_str(), r.minutes);
    return report(*out);
  };
}

}  // namespace gg::cli
