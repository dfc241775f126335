// Running a command from a test (a Python peer, the built gradgrad: tests/cli_helpers.h): its exit status and
// everything it printed.
#pragma once

#include <doctest/doctest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

namespace gg::test {

struct Outcome {
  int status = -1;     // the exit status; -1 when it did not exit (a crash)
  std::string output;  // stdout and stderr together
};

// Runs a shell command line.
inline Outcome run_command(const std::string& command_line) {
  const std::string cmd = command_line + " 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  REQUIRE(pipe != nullptr);
  Outcome o;
  std::array<char, 4096> buf;
  while (size_t got = fread(buf.data(), 1, buf.size(), pipe)) o.output.append(buf.data(), got);
  const int status = pclose(pipe);
  o.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return o;
}

// The tests' PyTorch peers run on Debian's Python, into which python3-torch installs torch; a test that needs
// one skips with a message where torch_importable() is false.
inline constexpr const char* kPython = "/usr/bin/python3";
inline bool torch_importable() {
  return run_command(std::string(kPython) + " -c 'import torch'").status == 0;
}

}  // namespace gg::test
