// gradgrad plot DIR: redraw a finished run's figures and report from its data files; over a folder of runs,
// write its index.html (plots/index.py).
#include "cli/commands.h"

namespace gg::cli {

Action add_plot(CLI::App& app, const std::string&) {
  auto dir = std::make_shared<std::string>();
  CLI::App* sub = app.add_subcommand(
      "plot", "redraw a run's figures and report.html from its data files; index.html over a folder of runs");
  sub->add_option("DIR", *dir, "a folder any command wrote (it holds run.json), or a folder of such folders")
      ->required()
      ->check(CLI::ExistingDirectory);
  return [dir] { return report(*dir); };
}

}  // namespace gg::cli
