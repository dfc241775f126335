// gradgrad datasets: every toy set and sample grids of the image sets (experiments/datasets.h).
#include "cli/commands.h"
#include "experiments/datasets.h"

namespace gg::cli {

Action add_datasets(CLI::App& app, const std::string& command) {
  auto o = std::make_shared<DatasetsOptions>();
  auto out = std::make_shared<std::string>("runs/datasets");
  CLI::App* sub = app.add_subcommand(
      "datasets", "draw every toy set and sample grids of the image sets (CSV, PNG, report.html)");
  sub->add_option("--out", *out, "the folder")->type_name("DIR")->capture_default_str();
  sub->add_option("--n", o->toy.n, "points per toy set")->check(at_least(1))->capture_default_str();
  sub->add_option("--noise", o->toy.noise, "std of the Gaussian noise on every coordinate")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  add_seed_option(*sub, o->toy.seed);
  return [o, out, &command] {
    o->command = command;
    datasets_experiment(*o, *out);
    return report(*out);
  };
}

}  // namespace gg::cli
