// gradgrad plot RUN_DIR: redraw a finished run's figures and report from its data files.
#include "cli/commands.h"

namespace gg::cli {

Action add_plot(CLI::App& app, const std::string&) {
  auto dir = std::make_shared<std::string>();
  CLI::App* sub = app.add_subcommand("plot", "redraw a finished run's figures and report.html from its data files");
  sub->add_option("RUN_DIR", *dir, "a folder any command wrote (it holds run.json)")
      ->required()
      ->check(CLI::ExistingDirectory);
  return [dir] { return report(*dir); };
}

}  // namespace gg::cli
