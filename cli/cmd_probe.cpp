// gradgrad probe: data-free weight probing with the attractors of noise (experiments/probe.h).
#include "cli/commands.h"
#include "experiments/probe.h"

namespace gg::cli {

Action add_probe(CLI::App& app, const std::string& command) {
  auto o = std::make_shared<ProbeOptions>();
  auto out = std::make_shared<std::string>();
  CLI::App* sub = app.add_subcommand("probe", "paper 002, section 4.1: attractors of noise codes as an OMP dictionary");
  add_run_options(*sub, o->run, *out, "probe");
  sub->add_option("--test", o->test, "samples per test set")->check(at_least(1))->capture_default_str();
  sub->add_option("--dictionary", o->dictionary, "noise codes iterated for the dictionary (0: k)")
      ->check(at_least(0))
      ->capture_default_str();
  sub->add_option("--atoms", o->atoms, "atom counts of the curve (default 1, 2, 4, ..., k)")
      ->delimiter(',')
      ->check(at_least(1))
      ->type_name("N,...");
  sub->add_option("--sets", o->sets, "test sets: test (the run's own), mnist, fashion-mnist, a folder...")
      ->delimiter(',')
      ->type_name("NAME,...");
  sub->add_option("--show", o->show, "samples per image grid (0: none)")->check(at_least(0))->capture_default_str();
  add_iterate_options(*sub, o->iterate);
  add_seed_option(*sub, o->seed);
  return [o, out, &command] {
    o->command = command;
    const std::string dir = out->empty() ? o->run + "/probe" : *out;
    probe_experiment(*o, dir);
    return report(dir);
  };
}

}  // namespace gg::cli
