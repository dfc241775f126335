// The engine's thread count (engine/threads.h): set once, read back, and refused when negative. The
// environment variable GG_NUM_THREADS is read once per process, so test_cli.cpp checks it on the command.
#include "tests/models_helpers.h"

using namespace gg;
using namespace gg::test;

TEST_CASE("set_num_threads sets the count parallel work uses, 0 keeps it, a negative count is refused") {
  const int before = num_threads();
  REQUIRE(before >= 1);
  set_num_threads(1);
  CHECK(num_threads() == 1);
  set_num_threads(0);
  CHECK(num_threads() == 1);
  CHECK(contains(error_of([] { set_num_threads(-3); }), "set_num_threads: expected a thread count >= 0, got -3"));
  // The same sum on one thread as on the default count: large enough for a parallel split.
  const Tensor x = Tensor::arange(1 << 20, DType::f64);
  const double one_thread = sum(x).item();
  set_num_threads(before);
  CHECK(num_threads() == before);
  CHECK(sum(x).item() == one_thread);  // integers in f64: exact however the sum is split
}
