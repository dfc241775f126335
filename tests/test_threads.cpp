// The engine's thread count (engine/threads.h): set once, read back, and refused when negative; a large
// product cut into pieces for the threads, which must give the uncut result; the count a parallel region
// starts, which follows the cores other processes leave free, and the large regions that run on every
// thread all the same, each held on a core of its own. The environment variable
// GG_NUM_THREADS is read once per process, so test_cli.cpp checks it on the command.
#include <omp.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <thread>

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

// Small integers, different at every position: a product of them is exact in f32 and f64 whatever the order
// of its sums, so a product cut into pieces must equal the plain triple loop bit for bit, and a piece written
// to the wrong rows or columns shows.
Tensor integer_matrix(int64_t rows, int64_t cols, int64_t salt, DType t) {
  std::vector<double> v(rows * cols);
  for (int64_t i = 0; i < rows * cols; ++i) v[i] = double((i * 7 + salt * 13) % 9) - 4.0;
  return Tensor::from_data(v, {rows, cols}, t);
}

// op(A) op(B) by the definition, from the row-major values of A and B.
std::vector<double> triple_loop(const Tensor& a, const Tensor& b, int64_t m, int64_t n, int64_t k, bool ta,
                                bool tb) {
  const std::vector<double> av = a.to_vector(), bv = b.to_vector();
  std::vector<double> c(m * n, 0.0);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j)
      for (int64_t l = 0; l < k; ++l)
        c[i * n + j] += av[ta ? l * m + i : i * k + l] * bv[tb ? j * k + l : l * n + j];
  return c;
}

TEST_CASE("a product large enough to be cut into pieces for the threads equals the uncut product") {
  const int before = num_threads();
  for (DType t : {DType::f32, DType::f64})
    // Tall (cut along C's rows) and wide (cut along its columns): 1100 x 37 over k = 301 is 24.5 MFLOP, four
    // pieces of 275 rows (engine/backend/cpu/matmul.cpp, gemm_pieces), run by one thread or by two.
    for (auto [m, n] : {std::pair<int64_t, int64_t>{1100, 37}, {37, 1100}})
      for (bool ta : {false, true})
        for (bool tb : {false, true}) {
          CAPTURE(m);
          CAPTURE(ta);
          CAPTURE(tb);
          const int64_t k = 301;
          const Tensor a = ta ? integer_matrix(k, m, 1, t) : integer_matrix(m, k, 1, t);
          const Tensor b = tb ? integer_matrix(n, k, 2, t) : integer_matrix(k, n, 2, t);
          const std::vector<double> uncut = triple_loop(a, b, m, n, k, ta, tb);
          for (int threads : {1, 2}) {
            set_num_threads(threads);
            const Tensor cut = matmul(a, b, ta, tb);
            CHECK(cut.shape() == Shape{m, n});
            CHECK(cut.to_vector() == uncut);
          }
        }
  set_num_threads(before);
}

namespace {

// The cores the calling thread may run on, in order.
std::vector<int> thread_cores() {
  cpu_set_t set;
  REQUIRE(sched_getaffinity(0, sizeof set, &set) == 0);
  std::vector<int> cores;
  for (int c = 0; c < CPU_SETSIZE; ++c)
    if (CPU_ISSET(c, &set)) cores.push_back(c);
  return cores;
}

// Processes that spin, one pinned to each core this process may use, for as long as the object lives.
struct SpinnersOnEveryCore {
  std::vector<pid_t> pids;
  SpinnersOnEveryCore() {
    for (int c : thread_cores()) {
      const pid_t pid = fork();
      REQUIRE(pid >= 0);
      if (pid == 0) {
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(c, &one);
        sched_setaffinity(0, sizeof one, &one);
        for (;;) __asm__ volatile("" ::: "memory");
      }
      pids.push_back(pid);
    }
  }
  ~SpinnersOnEveryCore() {
    for (pid_t pid : pids) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }
};

// Calls parallel_threads() for `seconds`, as parallel loops would, and returns its last answer.
int parallel_threads_after(double seconds) {
  int threads = 0;
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < end) {
    threads = parallel_threads();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return threads;
}

}  // namespace

TEST_CASE("parallel_threads: one thread while other processes hold every core, all of them when quiet") {
  const int before = num_threads();
  set_num_threads(2);
  REQUIRE(adaptive_threads());
  {
    SpinnersOnEveryCore spinners;
    const int threads = parallel_threads_after(0.8);
    const LoadSample seen = last_load_sample();
    CHECK(seen.cores == int(spinners.pids.size()));
    // Where the spinners get every core they are pinned to (a container without a CPU quota), all the cores
    // are taken and one thread is left; a quota shows fewer busy cores, and the count follows those (a core
    // counts as taken from 0.4 of it busy, engine/threads.cpp).
    CHECK(seen.others_busy >= 0.9);
    CHECK(threads == std::clamp(seen.cores - int(seen.others_busy + 0.6), 1, 2));
    if (seen.others_busy > seen.cores - 0.4) CHECK(threads == 1);
  }
  // Whether the machine is quiet now depends on what else runs beside the tests; the answer must follow the
  // sample either way.
  const int after = parallel_threads_after(0.6);
  const LoadSample seen = last_load_sample();
  if (seen.others_busy < 0.4 && seen.cores >= 2) CHECK(after == 2);
  set_adaptive_threads(false);
  CHECK(parallel_threads() == 2);
  set_adaptive_threads(true);
  set_num_threads(before);
}

TEST_CASE("HeldCore: thread t of a region runs on the t-th core while it lives, where it was after") {
  const std::vector<int> allowed = thread_cores();
  std::vector<std::vector<int>> held(2), after(2);
  std::vector<int> holds(2, -1);
#pragma omp parallel num_threads(2)
  {
    const int t = omp_get_thread_num();
    {
      const HeldCore core(true);
      holds[t] = core.held();
      held[t] = thread_cores();
    }
    after[t] = thread_cores();
  }
  const int threads = holds[1] < 0 ? 1 : 2;  // OpenMP may give fewer threads than asked
  for (int t = 0; t < threads; ++t) {
    CAPTURE(t);
    CHECK(after[t] == allowed);
    if (allowed.size() < 2) {  // nothing to choose between: the thread is left as it was
      CHECK(holds[t] == 0);
      CHECK(held[t] == allowed);
    } else {
      CHECK(holds[t] == 1);
      CHECK(held[t] == std::vector<int>{allowed[t % allowed.size()]});
    }
  }
  {
    const HeldCore none(false);
    CHECK_FALSE(none.held());
    CHECK(thread_cores() == allowed);
  }
}

TEST_CASE("plan_region: while cores are held elsewhere, a region of 2 GFLOP or more runs on every thread") {
  const int before = num_threads();
  set_num_threads(2);
  set_adaptive_threads(false);  // the cap stands in for the load, so that the machine's own load cannot
  cap_parallel_threads(1);      // change the answers
  const RegionPlan small = plan_region(16, 0.5 * kHeldCoreRegionFlops);
  CHECK(small.threads == 1);
  CHECK_FALSE(small.hold_cores);
  const RegionPlan large = plan_region(16, kHeldCoreRegionFlops);
  CHECK(large.threads == 2);
  CHECK(large.hold_cores);
  const RegionPlan one_task = plan_region(1, 10 * kHeldCoreRegionFlops);
  CHECK(one_task.threads == 1);
  CHECK_FALSE(one_task.hold_cores);
  int nested_threads = 0;  // a region inside a region runs on its thread
#pragma omp parallel num_threads(2)
  {
#pragma omp master
    nested_threads = plan_region(16, kHeldCoreRegionFlops).threads;
  }
  CHECK(nested_threads == 1);
  cap_parallel_threads(0);  // quiet: every thread, none held
  const RegionPlan quiet = plan_region(16, kHeldCoreRegionFlops);
  CHECK(quiet.threads == 2);
  CHECK_FALSE(quiet.hold_cores);
  set_adaptive_threads(true);
  set_num_threads(before);
}
