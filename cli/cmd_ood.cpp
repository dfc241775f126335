// gradgrad ood: out-of-distribution detection from latent trajectories (experiments/ood.h).
#include <cstdio>

#include "cli/commands.h"
#include "experiments/ood.h"

namespace gg::cli {

Action add_ood(CLI::App& app, const std::string& command) {
  auto o = std::make_shared<OodOptions>();
  auto out = std::make_shared<std::string>();
  CLI::App* sub =
      app.add_subcommand("ood", "paper 002, section 4.2: trajectory-distance OOD scores, AUROC, FPR95, k-NN baseline");
  add_run_options(*sub, o->run, *out, "ood");
  sub->add_option("--samples", o->samples, "samples per set")->check(at_least(1))->capture_default_str();
  sub->add_option("--train-samples", o->train_samples, "training codes iterated for the training attractors")
      ->check(at_least(1))
      ->capture_default_str();
  sub->add_option("--knn", o->knn, "neighbours of the k-NN baselines")->check(at_least(1))->capture_default_str();
  sub->add_option("--rotation", o->rotation, "degrees of the rotated set (0: none)")->capture_default_str();
  add_iterate_options(*sub, o->iterate);
  add_seed_option(*sub, o->seed);
  return [o, out, &command] {
    o->command = command;
    const std::string dir = out->empty() ? o->run + "/ood" : *out;
    const OodResult r = ood_experiment(*o, dir);
    std::printf("%s\n%.2f min\n", r.table.c_str(), r.minutes);
    return report(dir);
  };
}

}  // namespace gg::cli
