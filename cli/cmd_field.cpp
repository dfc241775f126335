// gradgrad field: the latent vector field of a trained run (experiments/field.h).
#include <cstdio>

#include "cli/commands.h"
#include "experiments/field.h"

namespace gg::cli {

Action add_field(CLI::App& app, const std::string& command) {
  auto o = std::make_shared<FieldOptions>();
  auto out = std::make_shared<std::string>();
  CLI::App* sub = app.add_subcommand(
      "field", "paper 002: the latent field f(z) - z of a trained run, attractors, spectra, memorization");
  add_run_options(*sub, o->run, *out, "field");
  sub->add_option("--grid", o->grid, "cells per side of the field, basin and potential grids")
      ->check(at_least(2))
      ->capture_default_str();
  sub->add_option("--starts", o->starts, "training and test codes iterated (each)")
      ->check(at_least(1))
      ->capture_default_str();
  sub->add_option("--noise-starts", o->noise_starts, "N(0, I_k) codes iterated")->check(at_least(1))->capture_default_str();
  add_iterate_options(*sub, o->iterate);
  sub->add_option("--tol-units", o->tol_units, "--tol in units of the code scale, or as printed")
      ->check(CLI::IsMember({"code", "absolute"}))
      ->capture_default_str();
  add_seed_option(*sub, o->seed);
  return [o, out, &command] {
    o->command = command;
    const std::string dir = out->empty() ? o->run + "/field" : *out;
    std::printf("%s", field_experiment(*o, dir).summary().c_str());
    return report(dir);
  };
}

}  // namespace gg::cli
