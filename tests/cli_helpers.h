// Running the built gradgrad command from a test: its exit status and everything it printed.
#pragma once

#include <string>

#include "tests/run_helpers.h"

namespace gg::test {

// `environment` is prefixed to the command line ("NAME=value ").
inline Outcome gradgrad(const std::string& args, const std::string& environment = "") {
  return run_command(environment + std::string(GG_GRADGRAD) + " " + args);
}

}  // namespace gg::test
