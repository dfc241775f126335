// The `gradgrad` subcommands, one file each (the four on a finished run share run_commands.cpp): each
// declares its options on a CLI11 subcommand and returns the action that runs it once the whole command line
// is parsed. An action calls the library (experiments/, bench/) and draws the figures; main.cpp holds the
// list and the error handling.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "dynamics/field.h"

namespace gg {
struct ModelSource;  // experiments/run_folder.h
}  // namespace gg

namespace gg::cli {

using Action = std::function<int()>;

// `command` is the command line as given (recorded in each run's run.json); it outlives the actions.
Action add_datasets(CLI::App& app, const std::string& command);
Action add_train(CLI::App& app, const std::string& command);
Action add_visualize(CLI::App& app, const std::string& command);
Action add_field(CLI::App& app, const std::string& command);
Action add_ood(CLI::App& app, const std::string& command);
Action add_probe(CLI::App& app, const std::string& command);
Action add_sweep(CLI::App& app, const std::string& command);
Action add_plot(CLI::App& app, const std::string& command);
Action add_bench(CLI::App& app, const std::string& command);
Action add_poisson_check(CLI::App& app, const std::string& command);

// What `gradgrad help` lists after the commands: the names the configs may use.
void print_registries();

// ---- Option blocks more than one command declares ---------------------------------------------------------
// A usage mistake found after parsing (two options that go together...): main prints it with a hint to --help.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// Integers >= n; numbers > 0.
CLI::Validator at_least(int64_t n);
CLI::Validator positive();
// --run RUN (a finished training run, required) and --out DIR (default RUN/<name>).
void add_run_options(CLI::App& sub, std::string& run, std::string& out, const std::string& name);
// --run RUN, or --model FILE with --weights FILE (a model trained elsewhere), and --out DIR.
void add_model_options(CLI::App& sub, ModelSource& source, std::string& out, const std::string& name);
// Where such a command writes: --out, else RUN/<name>. A UsageError when neither --run nor --model was
// given, or --out is missing with --model (there is no run folder to write into).
std::string output_folder(const ModelSource& source, const std::string& out, const std::string& name);
// --tol and --max-iters of the latent iteration, over the defaults already in `it`.
void add_iterate_options(CLI::App& sub, IterateOptions& it);
// --set KEY.PATH=VALUE, repeatable.
void add_set_option(CLI::App& sub, std::vector<std::string>& sets);
// --seed N.
void add_seed_option(CLI::App& sub, uint64_t& seed);

// Draws the figures of a finished run folder and says where its report is.
int report(const std::string& dir);

// ---- Commands on a finished run (field, ood, probe, visualize: run_commands.cpp) --------------------------
// A subcommand `name` that reads a trained model and writes its results to --out (default RUN/<name>): its
// options struct lives as long as the action and has a `command` field, and either a `source` (field, ood,
// probe: a run or a model trained elsewhere) or a `run` (visualize).
template <class Options>
struct RunCommand {
  RunCommand(CLI::App& app, const std::string& name, const std::string& description)
      : name(name), sub(app.add_subcommand(name, description)) {
    if constexpr (takes_any_model)
      add_model_options(*sub, options->source, *out, name);
    else
      add_run_options(*sub, options->run, *out, name);
  }

  // The action: records the command line, runs `experiment(options, dir)`, hands its result to `print`, and
  // draws the figures.
  template <class Experiment, class Print>
  Action action(const std::string& command, Experiment experiment, Print print) const {
    return [o = options, out = out, name = name, &command, experiment, print] {
      o->command = command;
      std::string dir;
      if constexpr (takes_any_model)
        dir = output_folder(o->source, *out, name);
      else
        dir = out->empty() ? o->run + "/" + name : *out;
      print(experiment(*o, dir));
      return report(dir);
    };
  }

  static constexpr bool takes_any_model = requires(Options o) { o.source; };
  const std::string name;
  const std::shared_ptr<Options> options = std::make_shared<Options>();
  const std::shared_ptr<std::string> out = std::make_shared<std::string>();
  CLI::App* const sub;
};

}  // namespace gg::cli
