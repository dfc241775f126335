// How many threads the CPU backend uses, set once for the whole process: by set_num_threads (the commands'
// --threads), else by the environment variable GG_NUM_THREADS, else OpenMP's default (OMP_NUM_THREADS, or
// one per core). The engine's parallel loops and the BLAS under them (OpenBLAS's OpenMP build, which
// scripts/setup selects) draw from the same OpenMP team, so the two never run more threads than this
// between them: a BLAS call runs on the thread that makes it, and our own pieces of a product are what runs
// in parallel.
//
// That count is what work is cut into pieces for (two pieces of a large product per thread, two chunks of a
// convolution's batch per thread, ...); how many threads then run the pieces is decided per parallel region,
// by parallel_threads: as many as there are cores that other processes leave free. Where another process
// holds a core, a thread of ours on it gets half its time slices, and every region waits for that thread's
// share: with one of two cores held, the conv net's cheaper steps had a 90th percentile up to 2.1x their
// median. The pieces do not depend on how many threads run them, so following the load changes no result
// (tests/test_thread_invariance.cpp); a different --threads may change the last bits, as it always has.
#pragma once

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
