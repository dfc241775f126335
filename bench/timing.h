// What the benchmarks share (gg_bench and `gradgrad bench jacobian`): timing with warm-up, the BLAS kernel
// choice, the PyTorch peer's environment, and resident-memory probes.
#pragma once

#include <dlfcn.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace gg::bench {

// Milliseconds of the timed repeats (after warm-up): median, extremes and 10th/90th percentiles.
struct Stats {
  double median_ms = 0, min_ms = 0, max_ms = 0, p10_ms = 0, p90_ms = 0;
  int repeats = 0;
  std::vector<double> times_ms;  // every repeat, in the order run
};

inline Stats summarize(std::vector<double> ms) {
  Stats s;
  s.times_ms = ms;
  if (ms.empty()) return s;
  std::sort(ms.begin(), ms.end());
  auto q = [&](double p) { return ms[std::min<size_t>(ms.size() - 1, size_t(p * double(ms.size() - 1) + 0.5))]; };
  // The median of an even count is the mean of the middle two.
  const size_t n = ms.size();
  s.median_ms = n % 2 ? ms[n / 2] : 0.5 * (ms[n / 2 - 1] + ms[n / 2]);
  s.min_ms = ms.front(), s.max_ms = ms.back(), s.p10_ms = q(0.1), s.p90_ms = q(0.9);
  s.repeats = int(n);
  return s;
}

inline double elapsed_ms(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// Runs f `warmup` times untimed, then `repeats` times timed.
inline Stats time_runs(const std::function<void()>& f, int warmup, int repeats) {
  for (int i = 0; i < warmup; ++i) f();
  std::vector<double> ms;
  for (int i = 0; i < repeats; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    ms.push_back(elapsed_ms(t0));
  }
  return summarize(ms);
}

// Page faults (minor and major) of this process so far: a step that faults after warm-up maps fresh memory.
inline long page_faults() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_minflt + u.ru_majflt;
}

// A first step slower than this caps the repeats of a case (bench/torch_jacobian.py's SLOW_STEP_MS, SLOW_CAP).
constexpr double kSlowStepMs = 2000;
constexpr int kSlowCap = 3;

// One training step's timing as `gradgrad bench jacobian` and its LibTorch peer report it: a first step
// (it maps the allocator's blocks; not counted), warmup - 1 more untimed, then `repeats` timed steps with
// the page faults they made. A first step slower than kSlowStepMs caps the repeats at kSlowCap (with a
// "note"). The memory probes and the case's other fields are the caller's.
inline nlohmann::json time_training_step(const std::function<void()>& step, int repeats, int warmup) {
  const auto t0 = std::chrono::steady_clock::now();
  step();
  const double first_ms = elapsed_ms(t0);
  warmup = std::max(warmup - 1, 0);
  std::string note;
  if (first_ms > kSlowStepMs && repeats > kSlowCap) {
    repeats = kSlowCap, warmup = 0;
    note = "repeats capped to " + std::to_string(kSlowCap) + " (slow step)";
  }
  for (int i = 0; i < warmup; ++i) step();
  const long faults_before = page_faults();
  const Stats s = time_runs(step, 0, repeats);
  nlohmann::json out = {{"median_ms", s.median_ms}, {"min_ms", s.min_ms}, {"max_ms", s.max_ms},
                        {"p90_ms", s.p90_ms}, {"times_ms", s.times_ms}, {"repeats", s.repeats},
                        {"faults_per_step", double(page_faults() - faults_before) / repeats}, {"first_ms", first_ms}};
  if (!note.empty()) out["note"] = note;
  return out;
}

// OpenBLAS picks its kernels when the library loads, from OPENBLAS_CORETYPE; this machine's environment
// pins Haswell (AVX2), which halves GEMM speed on an AVX-512 CPU. Re-runs the process (argv as given to
// main) with the AVX-512 kernels, so that both sides of a comparison (the peer inherits the variable) get
// the BLAS at its best. GG_BENCH_KEEP_CORETYPE=1 keeps the environment's choice.
inline void ensure_best_blas_kernels(char** argv) {
  const char* core = std::getenv("OPENBLAS_CORETYPE");
  if (!__builtin_cpu_supports("avx512f") || (core && std::string(core) == "SkylakeX")) return;
  if (std::getenv("GG_BENCH_KEEP_CORETYPE")) return;
  setenv("OPENBLAS_CORETYPE", "SkylakeX", 1);
  execv("/proc/self/exe", argv);
}

// The same from anywhere in the process: argv is read back from /proc/self/cmdline.
inline void ensure_best_blas_kernels() {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  std::vector<std::string> args;
  for (std::string a; std::getline(in, a, '\0');) args.push_back(a);
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  ensure_best_blas_kernels(argv.data());
}

// The environment prefix for the PyTorch peer: the same thread count, jemalloc with purging off (freed
// pages stay mapped, as our caching allocator's do) where it is installed, and OpenMP's wait policy and
// glibc's tunables as the user left them (the gradgrad command sets a short spin and a larger malloc cache
// for itself: cli/main.cpp).
inline std::string peer_environment(int threads) {
  std::string env =
      std::getenv("GG_SET_GOMP_SPINCOUNT") ? "env -u GOMP_SPINCOUNT -u GG_SET_GOMP_SPINCOUNT " : "";
  if (std::getenv("GG_SET_GLIBC_TUNABLES"))
    env += (env.empty() ? "env " : "") + std::string("-u GLIBC_TUNABLES -u GG_SET_GLIBC_TUNABLES ");
  env += "OMP_NUM_THREADS=" + std::to_string(threads) + " ";
  const std::string jemalloc = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2";
  if (access(jemalloc.c_str(), R_OK) == 0)
    env += "LD_PRELOAD=" + jemalloc + " MALLOC_CONF=dirty_decay_ms:-1,muzzy_decay_ms:-1 ";
  return env;
}

// ---- Resident memory (Linux) ------------------------------------------------------------------------------
// A field of /proc/self/status in kB ("VmRSS", "VmHWM"), or -1.
inline long proc_status_kb(const std::string& field) {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind(field + ":", 0) == 0) return std::atol(line.c_str() + field.size() + 1);
  return -1;
}
// Resets the process's resident-set high-water mark (VmHWM) to its current RSS (Linux >= 4.0); false where
// that is not allowed, in which case the mark still counts everything since the process started.
inline bool reset_peak_rss() {
  std::FILE* f = std::fopen("/proc/self/clear_refs", "w");
  if (!f) return false;
  const bool ok = std::fputs("5", f) >= 0;
  return std::fclose(f) == 0 && ok;
}
// The high-water mark of the resident set in kB: VmHWM, or getrusage's ru_maxrss.
inline long peak_rss_kb() {
  const long hwm = proc_status_kb("VmHWM");
  if (hwm >= 0) return hwm;
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

// OpenBLAS's single-precision GEMM, found at run time (null where no BLAS is loaded), so that a program
// that does not link OpenBLAS itself can still measure the rate of the one the engine uses.
using SgemmFn = void (*)(int, int, int, int, int, int, float, const float*, int, const float*, int, float, float*,
                         int);
inline SgemmFn find_sgemm() {
  void* sym = dlsym(RTLD_DEFAULT, "cblas_sgemm");
  if (!sym)
    if (void* lib = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_GLOBAL)) sym = dlsym(lib, "cblas_sgemm");
  return reinterpret_cast<SgemmFn>(sym);
}
constexpr int kCblasRowMajor = 101, kCblasNoTrans = 111;

}  // namespace gg::bench
