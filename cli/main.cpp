// gradgrad: the command-line front end. `gradgrad <command> [options]`; `gradgrad help` lists the commands,
// `gradgrad <command> --help` the options of one. Parsing is CLI11's; each command is a file of cli/.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <utility>
#include <vector>

#include "cli/commands.h"
#include "engine/threads.h"

using namespace gg::cli;

namespace {

// A usage mistake: its message, and where the options are explained.
std::string usage_hint(const CLI::App* app, const std::string& message) {
  std::string name = "gradgrad";
  for (const CLI::App* a = app; a && !a->get_subcommands().empty();) {
    a = a->get_subcommands().front();
    name += " " + a->get_name();
  }
  return "gradgrad: " + message + "\nRun `" + name + " --help` for the options.\n";
}

// The top level's help (App::help would show the chosen subcommand's), then the registries.
void print_overview(const CLI::App& app) {
  std::printf("%s", app.get_formatter()->make_help(&app, "gradgrad", CLI::AppFormatMode::Normal).c_str());
  std::printf("Run `gradgrad COMMAND --help` for the options of one.\n");
  print_registries();
}

// Two runtime settings that the libraries read only when they load, hence the one re-exec of this same
// program, and only where the user has not chosen them:
// - OpenMP's threads wait for the next parallel region by spinning (libgomp: 300,000 polls) before they
//   sleep. On a machine where another process holds a core, a spinning waiter takes the time slice that the
//   thread it waits for needs, and a step of many small regions runs many times slower; on a quiet one, a
//   waiter spinning on the other hyperthread of a core slows the thread working there. A short spin (1,000
//   polls, libgomp's own figure for an oversubscribed machine) measured best on both (docs/jacobian_cost.md).
// - glibc's malloc keeps 7 freed blocks of each small size per thread (its tcache). A step records hundreds
//   of small objects (graph nodes, shapes, closures) and frees them together, so most frees overflowed into
//   the arena's slower lists: malloc and free were an eighth of the toy Poisson step's profile. With 256
//   per size, `bench jacobian --cases toy` gave that step 0.420-0.453 ms against 0.484-0.504 (three
//   alternations) and the plain step 0.046-0.048 ms either way.
// The benchmark's cases inherit both; its peers get the user's environment back (bench/timing.h,
// peer_environment), since PyTorch runs with its own defaults (and jemalloc).
void set_runtime_defaults(char** argv) {
  bool changed = false;
  if (!std::getenv("OMP_WAIT_POLICY") && !std::getenv("GOMP_SPINCOUNT")) {
    setenv("GOMP_SPINCOUNT", "1000", 1);
    setenv("GG_SET_GOMP_SPINCOUNT", "1", 1);
    changed = true;
  }
  if (!std::getenv("GLIBC_TUNABLES")) {
    setenv("GLIBC_TUNABLES", "glibc.malloc.tcache_count=256", 1);
    setenv("GG_SET_GLIBC_TUNABLES", "1", 1);
    changed = true;
  }
  if (changed) execv("/proc/self/exe", argv);  // returns only on failure: then run on with the defaults
}

}  // namespace

int main(int argc, char** argv) {
  set_runtime_defaults(argv);
  CLI::App app("gradgrad: autoencoders, Jacobian penalties and latent dynamics on a double-backward engine",
               "gradgrad");
  app.require_subcommand(0, 1);
  app.fallthrough();  // so `gradgrad train --threads 2` reaches the option below
  int threads = 0;
  app.add_option("--threads", threads, "threads of the CPU engine and its BLAS (0: GG_NUM_THREADS, else one per core)")
      ->check(CLI::NonNegativeNumber);
  app.failure_message([](const CLI::App* a, const CLI::Error& e) { return usage_hint(a, e.what()); });
  std::string command = "gradgrad";
  for (int i = 1; i < argc; ++i) command += std::string(" ") + argv[i];

  std::vector<std::pair<CLI::App*, Action>> commands;
  for (auto add : {add_datasets, add_train, add_visualize, add_poisson_check, add_field, add_ood, add_probe,
                   add_sweep, add_plot, add_bench}) {
    Action run = add(app, command);
    commands.emplace_back(app.get_subcommand(int(commands.size())), std::move(run));
  }
  CLI::App* help = app.add_subcommand("help", "list the commands and the registered names");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    if (!app.get_subcommands().empty()) return app.exit(e);
    print_overview(app);  // gradgrad --help: the same as gradgrad help
    return 0;
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (app.get_subcommands().empty() || help->parsed()) {
    print_overview(app);
    return help->parsed() ? 0 : 2;
  }
  for (const auto& [sub, run] : commands) {
    if (!sub->parsed()) continue;
    try {
      gg::set_num_threads(threads);
      return run();
    } catch (const UsageError& e) {
      std::fprintf(stderr, "%s", usage_hint(&app, e.what()).c_str());
      return 2;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "gradgrad %s: %s\n", sub->get_name().c_str(), e.what());
      return 1;
    }
  }
  return 2;
}
