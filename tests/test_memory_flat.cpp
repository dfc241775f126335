// Training with a Jacobian penalty keeps nothing from one step to the next: after each of 1,000 steps with
// the exact contractive penalty (a double backward every step), the bytes of live tensors and the count of
// graph nodes are back where they were after the first. A reference cycle through a saved tensor, or a
// graph kept alive by a gradient, would make them grow step by step (the leak PyTorch users met with
// create_graph, pytorch#4661).
#include "engine/autograd/node.h"
#include "engine/backend/backend.h"
#include "models/training.h"
#include "regularizers/regularizer.h"
#include "tests/helpers.h"

using namespace gg;
using nlohmann::json;

TEST_CASE("1,000 steps with the exact Jacobian penalty: live tensor bytes and graph nodes stay flat") {
  const json config = {{"seed", 5},
                       {"data", {{"name", "two-moons"}, {"n", 8000}, {"test_n", 64}}},
                       {"model", {{"hidden", {16}}, {"code_dim", 2}, {"activation", "tanh"}}},
                       {"optimizer", {{"name", "adam"}, {"lr", 0.01}}},
                       {"regularizer", {{"kind", "contractive"}, {"lambda", 0.05}, {"penalty", {{"method", "exact"}}}}},
                       {"training", {{"epochs", 1}, {"batch_size", 8}, {"checkpoint_every", 0}}}};
  Trainer trainer(config, make_regularizer_loss);
  const Backend& cpu = backend_for(Device::cpu());
  int64_t steps = 0, first_nodes = -1, grown = 0;
  size_t first_bytes = 0, largest_bytes = 0;
  int64_t largest_nodes = 0;
  trainer.train_epoch([&](int64_t, double) {
    const size_t bytes = cpu.in_use_bytes();
    const int64_t nodes = LiveNodeCount::now();
    if (steps++ == 0) {
      first_bytes = bytes, first_nodes = nodes;
      return;
    }
    largest_bytes = std::max(largest_bytes, bytes), largest_nodes = std::max(largest_nodes, nodes);
    if (bytes != first_bytes || nodes != first_nodes) ++grown;
  });
  CHECK(steps == 1000);
  CAPTURE(first_bytes);
  CAPTURE(largest_bytes);
  CAPTURE(first_nodes);
  CAPTURE(largest_nodes);
  CHECK(grown == 0);
  CHECK(first_nodes == 0);  // no graph outlives its step
}
