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
       "gradgrad train --config FILE --out DIR [--set key.path=value ...] [--resume] [--track-dynamics N]", run_train,
       {"resume"}},
      {"visualize", "paper 000's protocol: clean vs corrupted codes (PCA), histograms of s, v, |grad v|",
       "gradgrad visualize --run RUN_DIR [--corruptions noise:0.1,rotation:30] [--samples 512] [--out DIR]",
       run_visualize, {}},
      {"field", "paper 002: the latent field f(z) - z of a trained run, attractors, spectra, memorization",
       "gradgrad field --run RUN_DIR [--out DIR] [--grid 80] [--starts 512] [--noise-starts 512] [--tol 1e-6] "
       "[--tol-units code|absolute] [--max-iters 3000] [--seed 0]",
       run_field, {}},
      {"ood", "paper 002, section 4.2: trajectory-distance OOD scores, AUROC, FPR95, k-NN baseline",
       "gradgrad ood --run RUN_DIR [--out DIR]", run_ood, {}},
      {"probe", "paper 002, section 4.1: attractors of noise codes as an OMP dictionary",
       "gradgrad probe --run RUN_DIR [--out DIR]", run_probe, {}},
      {"sweep", "paper 002, figure 2: train over bottleneck sizes k and measure the dynamics of each",
       "gradgrad sweep --config FILE --out DIR [--k 2,4,8,16,32] [--set key.path=value ...]", run_sweep, {}},
      {"plot", "redraw a finished run's figures and report.html from its data files", "gradgrad plot RUN_DIR",
       run_plot, {}},
      {"bench", "time a training step with each Jacobian penalty (exact, Hutchinson, closed form) against PyTorch",
       "gradgrad bench jacobian [--out DIR] [--json FILE] [--repeats 10] [--warmup 2] [--threads N] [--quick] "
       "[--no-peer] [--cases toy,mlp32,mlp128,conv,scale-m,scale-batch]",
       run_bench, {"quick", "no-peer"}},
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
