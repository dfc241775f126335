// The `gradgrad` command line (cli/, CLI11): every subcommand answers --help with its usage and exit status 0,
// `gradgrad help` lists them all, and mistakes are refused with a message that names them.
#include <dlfcn.h>
#include <sys/wait.h>
#include <zlib.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/cli_helpers.h"
#include "tests/models_helpers.h"

using namespace gg::test;

namespace {

const std::vector<std::string> kCommands = {"datasets", "train", "visualize",     "poisson-check",
                                            "field",    "ood",   "probe",         "sweep",
                                            "plot",     "bench", "bench jacobian"};

}  // namespace

TEST_CASE("gradgrad SUB --help prints SUB's usage and exits 0, for every subcommand") {
  for (const std::string& sub : kCommands) {
    CAPTURE(sub);
    const Outcome o = gradgrad(sub + " --help");
    CHECK(o.status == 0);
    CHECK(contains(o.output, "Usage: gradgrad " + sub));
    CHECK(contains(o.output, "--help"));
  }
  const Outcome field = gradgrad("field --help");  // typed options with their defaults
  CHECK(contains(field.output, "--grid"));
  CHECK(contains(field.output, "=80"));
}

TEST_CASE("gradgrad help and gradgrad --help list every command and the registered variants") {
  for (const std::string& args : {"help", "--help"}) {
    CAPTURE(args);
    const Outcome o = gradgrad(args);
    CHECK(o.status == 0);
    for (const std::string& sub : kCommands)
      if (sub.find(' ') == std::string::npos) CHECK(contains(o.output, "  " + sub + " "));
    CHECK(contains(o.output, "variants"));
    CHECK(contains(o.output, "contractive"));
  }
  CHECK(gradgrad("").status != 0);  // no command: the overview, and a failure status
}

TEST_CASE("usage mistakes exit non-zero naming the option, with a hint to --help") {
  const Outcome unknown = gradgrad("field --run /nonexistent --bogus 3");
  CHECK(unknown.status != 0);
  CHECK(contains(unknown.output, "--bogus"));
  CHECK(contains(unknown.output, "gradgrad field --help"));
  const Outcome range = gradgrad("field --run /nonexistent --grid 1");
  CHECK(range.status != 0);
  CHECK(contains(range.output, "--grid"));
  const Outcome tol = gradgrad("ood --run /nonexistent --tol -1");
  CHECK(tol.status != 0);
  CHECK(contains(tol.output, "--tol"));
  const Outcome starts = gradgrad("train --out /nonexistent --track-dynamics 5 --track-starts 0");
  CHECK(starts.status != 0);
  CHECK(contains(starts.output, "--track-starts"));
  const Outcome missing = gradgrad("train --out /nonexistent");
  CHECK(missing.status != 0);
  CHECK(contains(missing.output, "--config"));
  CHECK(gradgrad("bench jacobian --cases toy,nope").status != 0);
  CHECK(gradgrad("no-such-command").status != 0);
}

TEST_CASE("--threads and GG_NUM_THREADS and GG_ADAPTIVE_THREADS set the engine's threads or are refused") {
  TempDir tmp;
  const Outcome one = gradgrad("datasets --threads 1 --n 16 --out " + tmp / "ds");
  CHECK(one.status == 0);
  CHECK(gradgrad("--threads 1 datasets --help").status == 0);
  const Outcome negative = gradgrad("datasets --threads -2 --out " + tmp / "ds");
  CHECK(negative.status != 0);
  CHECK(contains(negative.output, "--threads"));
  const Outcome env = gradgrad("datasets --n 16 --out " + tmp / "ds", "GG_NUM_THREADS=many ");
  CHECK(env.status == 1);
  CHECK(contains(env.output, "GG_NUM_THREADS: expected a positive integer, got 'many'"));
  CHECK(gradgrad("datasets --n 16 --out " + tmp / "ds", "GG_ADAPTIVE_THREADS=0 ").status == 0);
  const Outcome adaptive = gradgrad("datasets --n 16 --out " + tmp / "ds", "GG_ADAPTIVE_THREADS=yes ");
  CHECK(adaptive.status == 1);
  CHECK(contains(adaptive.output, "GG_ADAPTIVE_THREADS: expected 0 or 1, got 'yes'"));
}

TEST_CASE("a CPU run does not load the CUDA runtime or cuBLAS") {
  // The loader lists each library it opens; the CUDA backend's plugin is opened only when a GPU is asked for.
  TempDir tmp;
  const Outcome o =
      gradgrad("bench jacobian --quick --cases toy --no-peer --repeats 1 --out " + (tmp / "b"),
               "LD_DEBUG=files ");
  CHECK(o.status == 0);
  CHECK(contains(o.output, "file=libgomp"));  // what the loader lists, so the absences below mean something
  CHECK_FALSE(contains(o.output, "libcublas"));
  CHECK_FALSE(contains(o.output, "libcudart"));
  CHECK_FALSE(contains(o.output, "libgg_cuda"));
}

#ifdef GG_WITH_CUDA
TEST_CASE("a CUDA plugin that is missing or not gradgrad's is refused by name when a GPU is asked for") {
  const std::string args =
      "bench jacobian --device cuda --quick --cases toy --no-peer --out /nonexistent/out";
  const Outcome missing = gradgrad(args, "GG_CUDA_PLUGIN=/nonexistent/libgg_cuda.so ");
  CHECK(missing.status == 1);
  CHECK(contains(missing.output,
                 "device cuda:0: the CUDA backend's plugin was not loaded "
                 "(/nonexistent/libgg_cuda.so: no such file)"));
  Dl_info zlib;  // a shared library that is surely on this machine, and surely not the plugin
  REQUIRE(dladdr(reinterpret_cast<void*>(&zlibVersion), &zlib) != 0);
  const Outcome foreign = gradgrad(args, std::string("GG_CUDA_PLUGIN=") + zlib.dli_fname + " ");
  CHECK(foreign.status == 1);
  CHECK(contains(foreign.output, std::string(zlib.dli_fname) + ": not gradgrad "));
  CHECK(contains(foreign.output, "'s CUDA plugin"));
  // The plugin built beside the command is found and answers for itself: a GPU, or the runtime's reason.
  const Outcome own = gradgrad(args);
  CHECK_FALSE(contains(own.output, "plugin was not loaded"));
}
#endif

TEST_CASE("a runtime error prints the error alone, not the usage") {
  const Outcome o = gradgrad("field --run /nonexistent/run");
  CHECK(o.status == 1);
  CHECK(contains(o.output, "is not a finished training run"));
  CHECK_FALSE(contains(o.output, "Usage:"));
  CHECK_FALSE(contains(o.output, "--help"));
}

TEST_CASE("bench jacobian --device refuses a device that cannot run before any case, naming it") {
  // cuda:1 is refused by every build: without the CUDA backend, or with it (which serves cuda:0 only).
  const Outcome o = gradgrad("bench jacobian --device cuda:1 --quick --cases toy --no-peer --out /nonexistent/out");
  CHECK(o.status == 1);
  CHECK(contains(o.output, "bench jacobian: device cuda:1"));
  CHECK_FALSE(contains(o.output, "ours "));  // no case ran
}

TEST_CASE("gradgrad ood on a trained run leaves its table and its figures and where the scores come from") {
  TempDir tmp;
  const std::string config = std::string(GG_SOURCE_DIR) + "/configs/two_moons/plain.json";
  const Outcome train =
      gradgrad("train --config " + config + " --out " + tmp / "run" + " --set training.epochs=3");
  INFO(train.output);
  REQUIRE(train.status == 0);
  const Outcome ood =
      gradgrad("ood --run " + tmp / "run" + " --samples 40 --train-samples 64 --knn 5 --out " + tmp / "ood");
  INFO(ood.output);
  REQUIRE(ood.status == 0);
  for (const char* file : {"table.txt", "scores.csv", "roc.csv", "trajectory_profile.csv", "ood_scores.png",
                           "ood_table.png", "trajectory_profile.png", "report.html"})
    CHECK_MESSAGE(std::filesystem::exists(tmp / ("ood/" + std::string(file))), file);
}
