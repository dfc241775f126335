// gradgrad: the command-line front end. `gradgrad <command> [options]`; `gradgrad help` lists the commands.
#include <cstdio>
#include <cstring>
#include <vector>

#include "cli/commands.h"
#include "engine/core.h"

using namespace gg::cli;

namespace {

const std::vector<Command>& commands() {
  static const std::vector<Command> table = {
      {"datasets", "draw every toy set and sample grids of the image sets (CSV, PNG, report.html)",
       "gradgrad datasets [--out DIR] [--n 1024] [--noise 0.1] [--seed 0]", run_datasets, {}},
      {"train", "train an autoencoder from a JSON config; leaves metrics, checkpoint, figures, report.html",
       "gradgrad train --config FILE --out DIR [--set key.path=value ...] [--resume]", run_train, {"resume"}},
      {"plot", "redraw a finished run's figures and report.html from its data files", "gradgrad plot RUN_DIR",
       run_plot, {}},
  };
  return table;
}

void print_help() {
  std::printf("gradgrad: autoencoders, Jacobian penalties and latent dynamics on a double-backward engine\n\n");
  for (const auto& c : commands()) std::printf("  %-10s %s\n      %s\n", c.name, c.summary, c.usage);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "help") || !std::strcmp(argv[1], "--help")) {
    print_help();
    return argc < 2 ? 2 : 0;
  }
  for (const auto& c : commands()) {
    if (c.name != std::string(argv[1])) continue;
    try {
      const Args args(argc - 2, argv + 2, c.flags);
      return c.run(args);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "gradgrad %s: %s\nusage: %s\n", c.name, e.what(), c.usage);
      return 1;
    }
  }
  std::fprintf(stderr, "gradgrad: unknown command '%s'\n\n", argv[1]);
  print_help();
  return 2;
}
