// gradgrad sweep: train over bottleneck sizes k and measure the dynamics of each (experiments/sweep.h).
#include <cstdio>

#include "cli/commands.h"
#include "experiments/output.h"
#include "experiments/sweep.h"

namespace gg::cli {

Action add_sweep(CLI::App& app, const std::string& command) {
  auto o = std::make_shared<SweepOptions>();
  auto out = std::make_shared<std::string>();
  auto it = std::make_shared<IterateOptions>();
  auto starts = std::make_shared<int64_t>(0);
  CLI::App* sub =
      app.add_subcommand("sweep", "paper 002, figure 2: train over bottleneck sizes k and measure the dynamics of each");
  sub->add_option("--config", o->config_path, "a training config with an optional \"sweep\" section")
      ->required()
      ->check(CLI::ExistingFile);
  sub->add_option("--out", *out, "the sweep folder (one model per k in DIR/k_<k>)")->required()->type_name("DIR");
  sub->add_option("--k", o->k, "bottleneck sizes, over the config's sweep.k")
      ->delimiter(',')
      ->check(at_least(1))
      ->type_name("K,...");
  CLI::Option* starts_opt =
      sub->add_option("--starts", *starts, "starts from each of train, test, noise (over sweep.starts)")
          ->check(at_least(1));
  CLI::Option* tol_opt = sub->add_option("--tol", it->tol, "stop at ||z_{t+1} - z_t||^2 < tol (over sweep.tol)")
                             ->check(positive());
  CLI::Option* iters_opt =
      sub->add_option("--max-iters", it->max_iters, "applications of f at most (over sweep.max_iters)")
          ->check(at_least(1));
  add_set_option(*sub, o->sets);
  return [=, &command] {
    o->command = command;
    if (*starts_opt) o->starts = *starts;
    if (*tol_opt) o->tol = it->tol;
    if (*iters_opt) o->max_iters = it->max_iters;
    const SweepResult r = sweep_experiment(*o, *out);
    for (const std::string& dir : r.model_dirs) draw_figures(dir);
    std::printf("%zu models in %.2f min; wrote %s/sweep.csv\n", r.points.size(), r.minutes, out->c_str());
    return report(*out);
  };
}

}  // namespace gg::cli
