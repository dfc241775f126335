// Training with a Jacobian penalty keeps nothing from one step to the next: after each of 1,000 steps with
// the exact contractive penalty (a double backward every step), the bytes of live tensors and the count of
// graph nodes are back where they were after the first. A reference cycle through a saved tensor, or a
// graph kept alive by a gradient, would make them grow step by step (the leak PyTorch users met with
// create_graph, pytorch#4661).
#include "engine/autograd/node.h"
#include "engine/backend/backend.h"
#include "engine/backend/caching_allocator.h"
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

namespace {

// A device that hands out one-byte stand-ins and counts what it is asked: the allocator never touches its
// blocks, so sizes of gigabytes cost nothing here.
struct CountingMemory {
  static inline int64_t allocations = 0, releases = 0;
  static constexpr const char* kName = "counting";
  static constexpr bool kReleaseAtExit = true;
  static size_t round(size_t bytes) { return (bytes + 511) / 512 * 512; }
  static void* allocate(size_t) { return ++allocations, std::malloc(1); }
  static void release(void* p) { ++releases, std::free(p); }
};

}  // namespace

TEST_CASE("the caching allocator reuses a loop's blocks, and sizes that keep changing do not pile up") {
  CountingMemory::allocations = CountingMemory::releases = 0;
  {
    CachingAllocator<CountingMemory> alloc;
    const size_t mib = size_t{1} << 20;
    for (int step = 0; step < 100; ++step) {  // a training loop: the same sizes every step
      void* a = alloc.allocate(300 * mib);
      void* b = alloc.allocate(200 * mib);
      alloc.deallocate(a, 300 * mib);
      void* c = alloc.allocate(100 * mib);
      alloc.deallocate(b, 200 * mib);
      alloc.deallocate(c, 100 * mib);
    }
    CHECK(CountingMemory::allocations == 3);  // the first step's; every later step is served from the cache
    CHECK(CountingMemory::releases == 0);
    CHECK(alloc.cache_limit() == 2 * 500 * mib + alloc.kCacheSlack);

    // A latent iteration: a batch that shrinks by a few rows each step, so every size is new.
    for (size_t rows = 4000; rows > 1000; rows -= 7) {
      void* p = alloc.allocate(rows * 64 * 1024);
      alloc.deallocate(p, rows * 64 * 1024);
      REQUIRE(alloc.cached() <= alloc.cache_limit());
    }
    CHECK(alloc.in_use() == 0);
    CHECK(CountingMemory::releases > 0);
    // The loop's own blocks were cached before and stay: its next step maps nothing new.
    const int64_t before = CountingMemory::allocations;
    void* a = alloc.allocate(300 * mib);
    alloc.deallocate(a, 300 * mib);
    CHECK(CountingMemory::allocations == before);
  }
  CHECK(CountingMemory::releases == CountingMemory::allocations);  // the rest at exit
}
