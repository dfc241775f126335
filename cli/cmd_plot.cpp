// gradgrad plot RUN_DIR: redraw a finished run's figures and report from its data files.
#include <cstdio>

#include "cli/commands.h"
#include "cli/output.h"

namespace gg::cli {

int run_plot(const Args& args) {
  args.finish();
  GG_CHECK(args.positional().size() == 1, "expects exactly one run folder");
  draw_figures(args.positional()[0]);
  std::printf("wrote %s/report.html\n", args.positional()[0].c_str());
  return 0;
}

}  // namespace gg::cli
