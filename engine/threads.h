// How many threads the CPU backend uses, set once for the whole process: by set_num_threads (the commands'
// --threads), else by the environment variable GG_NUM_THREADS, else OpenMP's default (OMP_NUM_THREADS, or
// one per core). The engine's parallel loops and the BLAS under them (OpenBLAS's OpenMP build, which
// scripts/setup selects) draw from the same OpenMP team, so the two never run more threads than this
// between them: a BLAS call inside one of our parallel loops runs on that loop's thread alone.
#pragma once

namespace gg {

// n >= 1 threads from now on; 0 leaves the count as it is. An Error for n < 0.
void set_num_threads(int n);
// The count parallel work uses (after GG_NUM_THREADS, which the first call reads).
int num_threads();
// Reads GG_NUM_THREADS once (an Error naming the variable when it is not a positive integer); called by the
// CPU backend when it starts, so the variable needs no code of the user's.
void apply_thread_environment();

}  // namespace gg
