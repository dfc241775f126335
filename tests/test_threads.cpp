// The engine's thread count (engine/threads.h): set once, read back, and refused when negative; and a large
// product cut into pieces for the threads, which must give the uncut result. The environment variable
// GG_NUM_THREADS is read once per process, so test_cli.cpp checks it on the command.
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

// Small integers, different at every position: a product of them is exact in f32 and f64 whatever the order of
// its sums, so a product cut into pieces must equal the uncut one bit for bit, and a piece written to the wrong
// rows or columns shows.
Tensor integer_matrix(int64_t rows, int64_t cols, int64_t salt, DType t) {
  std::vector<double> v(rows * cols);
  for (int64_t i = 0; i < rows * cols; ++i) v[i] = double((i * 7 + salt * 13) % 9) - 4.0;
  return Tensor::from_data(v, {rows, cols}, t);
}

TEST_CASE("a product large enough to be cut into pieces for the threads equals the one-thread product") {
  const int before = num_threads();
  for (DType t : {DType::f32, DType::f64})
    // Tall (cut along C's rows) and wide (cut along its columns): 1100 x 37 over k = 301 is 24.5 MFLOP, four
    // pieces of 275 rows on two threads (engine/backend/cpu/matmul.cpp, gemm_pieces).
    for (auto [m, n] : {std::pair<int64_t, int64_t>{1100, 37}, {37, 1100}})
      for (bool ta : {false, true})
        for (bool tb : {false, true}) {
          CAPTURE(m);
          CAPTURE(ta);
          CAPTURE(tb);
          const int64_t k = 301;
          const Tensor a = ta ? integer_matrix(k, m, 1, t) : integer_matrix(m, k, 1, t);
          const Tensor b = tb ? integer_matrix(n, k, 2, t) : integer_matrix(k, n, 2, t);
          set_num_threads(1);
          const std::vector<double> uncut = matmul(a, b, ta, tb).to_vector();
          set_num_threads(2);
          const Tensor cut = matmul(a, b, ta, tb);
          CHECK(cut.shape() == Shape{m, n});
          CHECK(cut.to_vector() == uncut);
        }
  set_num_threads(before);
}
