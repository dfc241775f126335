// The `gradgrad` subcommands, one file each; main.cpp holds the table that names them.
#pragma once

#include <set>
#include <string>

#include "cli/args.h"

namespace gg::cli {

struct Command {
  const char* name;
  const char* summary;
  const char* usage;
  int (*run)(const Args&);
  std::set<std::string> flags;  // its options that take no value
};

int run_bench(const Args& args);
int run_datasets(const Args& args);
int run_plot(const Args& args);
int run_train(const Args& args);
int run_visualize(const Args& args);
int run_field(const Args& args);
int run_ood(const Args& args);
int run_probe(const Args& args);
int run_sweep(const Args& args);

}  // namespace gg::cli
