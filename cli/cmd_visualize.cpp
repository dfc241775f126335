// gradgrad visualize: paper 000's section 5 protocol on a trained run (experiments/visualize.h).
#include <cstdio>

#include "cli/commands.h"
#include "experiments/visualize.h"

namespace gg::cli {

Action add_visualize(CLI::App& app, const std::string& command) {
  auto o = std::make_shared<VisualizeOptions>();
  auto out = std::make_shared<std::string>();
  CLI::App* sub = app.add_subcommand(
      "visualize", "paper 000's protocol: clean vs corrupted codes (PCA), histograms of s, v, |grad v|");
  add_run_options(*sub, o->run, *out, "visualize");
  sub->add_option("--corruptions", o->corruptions, "corruptions, each KIND:AMOUNT (datasets/corruption.h)")
      ->delimiter(',')
      ->type_name("SPEC,...")
      ->capture_default_str();
  sub->add_option("--samples", o->samples, "the first test samples")->check(at_least(1))->capture_default_str();
  add_seed_option(*sub, o->seed);
  return [o, out, &command] {
    o->command = command;
    const std::string dir = out->empty() ? o->run + "/visualize" : *out;
    const VisualizeResult r = visualize_experiment(*o, dir);
    for (const auto& [spec, m] : r.metrics.items())
      std::printf("%-14s s %.4g -> %.4g   v %.4g -> %.4g   |grad v| %.4g -> %.4g   L_Pois %.4g\n", spec.c_str(),
                  m["s_clean"].get<double>(), m["s_corrupted"].get<double>(), m["v_clean"].get<double>(),
                  m["v_corrupted"].get<double>(), m["grad_v_clean"].get<double>(), m["grad_v_corrupted"].get<double>(),
                  m["L_pois_eq9"].get<double>());
    return report(dir);
  };
}

}  // namespace gg::cli
