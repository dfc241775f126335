// Running the built gradgrad command from a test: its exit status and everything it printed.
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <doctest/doctest.h>
#include <string>

namespace gg::test {

struct Outcome {
  int status = -1;       // the exit status; -1 when it did not exit (a crash)
  std::string output;    // stdout and stderr together
};

// `environment` is prefixed to the command line ("NAME=value ").
inline Outcome gradgrad(const std::string& args, const std::string& environment = "") {
  const std::string cmd = environment + std::string(GG_GRADGRAD) + " " + args + " 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  REQUIRE(pipe != nullptr);
  Outcome o;
  std::array<char, 4096> buf;
  while (size_t got = fread(buf.data(), 1, buf.size(), pipe)) o.output.append(buf.data(), got);
  const int status = pclose(pipe);
  o.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return o;
}

}  // namespace gg::test
