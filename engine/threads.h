// How many threads the CPU backend uses, set once for the whole process: by set_num_threads (the commands'
// --threads), else by the environment variable GG_NUM_THREADS, else OpenMP's default (OMP_NUM_THREADS, or
// one per core). The engine's parallel loops and the BLAS under them (OpenBLAS's OpenMP build, which
// scripts/setup selects) draw from the same OpenMP team, so the two never run more threads than this
// between them: a BLAS call runs on the thread that makes it, and our own pieces of a product are what runs
// in parallel.
//
// That count is what work is cut into pieces for (two pieces of a large product per thread, two chunks of a
// convolution's batch per thread, ...); how many threads then run the pieces is decided per parallel region,
// by parallel_threads: as many as there are cores that other processes leave free, except for the large
// regions of plan_region below. Where another process holds a core, a thread of ours on it gets half its
// time slices, and every region waits for that thread's share: with one of two cores held, the conv net's
// cheaper steps had a 90th percentile up to 2.1x their median. The pieces do not depend on how many threads
// run them, so following the load changes no result (tests/test_thread_invariance.cpp); a different --threads
// may change the last bits, as it always has.
#pragma once

#include <sched.h>

#include <cstdint>

namespace gg {

// n >= 1 threads from now on; 0 leaves the count as it is. An Error for n < 0.
void set_num_threads(int n);
// The count parallel work uses at most (after GG_NUM_THREADS, which the first call reads).
int num_threads();
// Reads GG_NUM_THREADS and GG_ADAPTIVE_THREADS once (an Error naming the variable when it is not a positive
// integer, or not 0 or 1); called by the CPU backend when it starts, so the variables need no code of the
// user's.
void apply_thread_environment();

// The threads a parallel region should start now: num_threads(), less the cores that other processes kept
// busy over the last load sample (from /proc/stat, for the cores this process may run on, less this
// process's own CPU time), and at least 1. A sample is taken at most every kLoadSampleSeconds, by whichever
// call finds the last one old, so the cost is one read of /proc/stat per period. num_threads() when the
// adaptation is off or /proc/stat cannot be read.
int parallel_threads();
// Whether parallel_threads follows the load: on unless GG_ADAPTIVE_THREADS=0 or this turned it off.
void set_adaptive_threads(bool on);
bool adaptive_threads();
// Caps parallel_threads at n >= 1 (0: no cap), as a load that left n cores free would: for tests that run
// the same pieces on fewer threads than they were cut for.
void cap_parallel_threads(int n);

// How a parallel region runs: on how many threads, and whether each holds a core of its own (HeldCore).
struct RegionPlan {
  int threads;
  bool hold_cores;
};

// Where other processes hold cores, a region of at least kHeldCoreRegionFlops of work runs on every thread
// all the same, each thread on a core of its own for the region: a thread on a held core gets about half of
// it, and since the pieces go to the threads as they finish, the region has the free cores and those
// halves. A smaller region runs on the free cores only: its end would wait for the thread on the held core
// to be given the core again, up to a time slice (about 6 ms on this project's machine). Timed there with
// one of the two cores held by a spinning process, one product at a time cut into 16 pieces:
// 16384 x 784 x 512 took 75 ms on one thread and 52 ms on two held ones (median of 15; 38 ms quiet; two
// threads left to the scheduler 54-62 ms with a p90 of 79, as it often put both on one core); means of
// 41, 16384 x 512 x 128 (2.1 GFLOP) 13.5 ms against 10.5, 8192 x 512 x 128 6.7 against 6.1, and
// 4096 x 512 x 128 3.2 against 3.5, where the time slice outweighs what the second thread adds.
constexpr double kHeldCoreRegionFlops = 2e9;

// The plan of a parallel region over `tasks` pieces holding `flops` of work (0 for work too small to
// count): one thread where it has one piece or would be nested (OpenMP runs a nested region on one thread
// anyway); else as many as the load leaves cores for (parallel_threads), or, for kHeldCoreRegionFlops and
// more while fewer are free, every thread, held; never more than the pieces.
RegionPlan plan_region(int64_t tasks, double flops = 0);

// While it lives, the thread that made it runs on one core only: the one its OpenMP thread number picks
// among the cores this process may use (thread t on the t-th, counting round); the thread's earlier
// affinity comes back when it goes. For a parallel region that runs on every thread while other processes
// hold cores (loops.h, plan_region): left to the scheduler, a thread woken for the region is put beside the
// one that woke it whenever no core is idle, and two of ours then share one core while the other process
// has the other to itself. Held, each thread has a core, and the one on a held core gets about half of it.
// Nothing happens when `hold` is false or the affinity cannot be read or set.
class HeldCore {
 public:
  explicit HeldCore(bool hold);
  ~HeldCore();
  HeldCore(const HeldCore&) = delete;
  HeldCore& operator=(const HeldCore&) = delete;
  bool held() const { return held_; }

 private:
  bool held_ = false;
  cpu_set_t previous_;
};

// The CPU time, in seconds, that all processes together have spent busy (not idle, not waiting for I/O) on
// the cores this process may run on, the time those cores have counted in all (busy or not), and how many
// cores those are, from /proc/stat; false where it cannot be read. Two readings apart give the busy cores in
// between: cores x the busy time over the time counted.
bool busy_cpu_seconds(double& busy_seconds, double& all_seconds, int& cores);

// What the last load sample saw, for the bench's table and for tests: the cores this process may run on,
// and how many of them other processes kept busy (-1 before the first sample, or where /proc/stat cannot
// be read).
struct LoadSample {
  int cores = 0;
  double others_busy = -1;
};
LoadSample last_load_sample();

}  // namespace gg
