#include "engine/threads.h"

#include <omp.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>

#include "engine/core.h"

namespace gg {

namespace {

std::atomic<bool> g_adaptive{true};
std::atomic<int> g_cap{0};

// ---- The load sample ------------------------------------------------------------------------------------
// How often parallel_threads looks at the load: long enough that /proc/stat's 10 ms ticks give the busy
// cores to about a tenth of a core, short enough that a load that starts or stops is followed within a few
// steps of training.
constexpr double kLoadSampleSeconds = 0.25;
// Other processes' busy cores count as one taken core from this much on. A process spinning on one of two
// cores shows as 0.5-0.6 of a core while two threads of ours share that core with it, and as 1.0 once we
// leave it the core; a quiet machine shows 0.0-0.1.
constexpr double kTakenCoreFrom = 0.4;

double process_cpu_seconds() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}

double wall_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// The sampler: the previous reading, and what the last interval showed.
struct LoadSampler {
  std::mutex mutex;  // one refresh at a time; callers that find it taken use the last estimate
  bool started = false, readable = true;
  double busy = 0, all = 0, own = 0, wall = 0;
  std::atomic<int> cores{0}, taken{0};
  std::atomic<double> others{-1};

  void refresh() {
    std::unique_lock<std::mutex> lock(mutex, std::try_to_lock);
    if (!lock.owns_lock() || !readable) return;
    const double now = wall_seconds();
    if (started && now - wall < kLoadSampleSeconds) return;
    double busy_now, all_now;
    int cores_now;
    if (!busy_cpu_seconds(busy_now, all_now, cores_now)) {
      readable = false;
      return;
    }
    const double own_now = process_cpu_seconds();
    if (started && now > wall && all_now > all) {
      // Busy cores over the interval by /proc/stat's own clock (its ticks, so at most `cores`), less ours.
      const double busy_cores = (busy_now - busy) / (all_now - all) * cores_now;
      const double other = std::max(0.0, busy_cores - (own_now - own) / (now - wall));
      others = other;
      taken = int(other + (1.0 - kTakenCoreFrom));
    }
    cores = cores_now;
    busy = busy_now;
    all = all_now;
    own = own_now;
    wall = now;
    started = true;
  }
};

LoadSampler& sampler() {
  static LoadSampler s;
  return s;
}

}  // namespace

bool busy_cpu_seconds(double& busy_seconds, double& all_seconds, int& cores) {
  cpu_set_t allowed;
  const bool have_mask = sched_getaffinity(0, sizeof allowed, &allowed) == 0;
  std::ifstream in("/proc/stat");
  if (!in) return false;
  std::string line;
  long long busy = 0, all = 0;
  cores = 0;
  while (std::getline(in, line)) {
    if (line.compare(0, 3, "cpu") != 0) break;                        // the cpu lines come first
    if (line.size() < 4 || line[3] < '0' || line[3] > '9') continue;  // the aggregate "cpu" line
    std::istringstream fields(line.substr(3));
    int id;
    long long user, nice, system, idle, iowait, irq, softirq, steal;
    if (!(fields >> id >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal)) return false;
    if (have_mask && (id < 0 || id >= CPU_SETSIZE || !CPU_ISSET(id, &allowed))) continue;
    busy += user + nice + system + irq + softirq + steal;
    all += user + nice + system + idle + iowait + irq + softirq + steal;
    ++cores;
  }
  busy_seconds = double(busy) / double(sysconf(_SC_CLK_TCK));
  all_seconds = double(all) / double(sysconf(_SC_CLK_TCK));
  return cores > 0;
}

void apply_thread_environment() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (const char* text = std::getenv("GG_NUM_THREADS"); text && *text) {
      char* end = nullptr;
      const long n = std::strtol(text, &end, 10);
      GG_CHECK(*end == '\0' && n >= 1 && n <= 4096,
               std::string("GG_NUM_THREADS: expected a positive integer, got '") + text + "'");
      omp_set_num_threads(int(n));
    }
    if (const char* text = std::getenv("GG_ADAPTIVE_THREADS"); text && *text) {
      GG_CHECK(std::strcmp(text, "0") == 0 || std::strcmp(text, "1") == 0,
               std::string("GG_ADAPTIVE_THREADS: expected 0 or 1, got '") + text + "'");
      g_adaptive = text[0] == '1';
    }
  });
}

void set_num_threads(int n) {
  GG_CHECK(n >= 0, "set_num_threads: expected a thread count >= 0, got " + std::to_string(n));
  apply_thread_environment();  // so that a later first use does not overwrite n with the variable
  if (n > 0) omp_set_num_threads(n);
}

int num_threads() {
  apply_thread_environment();
  return omp_get_max_threads();
}

int parallel_threads() {
  const int cap = g_cap.load(std::memory_order_relaxed);
  const int most = cap > 0 ? std::min(cap, omp_get_max_threads()) : omp_get_max_threads();
  if (most == 1 || !g_adaptive.load(std::memory_order_relaxed)) return most;
  LoadSampler& s = sampler();
  s.refresh();
  const int cores = s.cores.load(std::memory_order_relaxed);
  if (cores == 0) return most;
  return std::clamp(cores - s.taken.load(std::memory_order_relaxed), 1, most);
}

RegionPlan plan_region(int64_t tasks, double flops) {
  if (tasks <= 1 || omp_in_parallel()) return {1, false};
  const int free = int(std::min<int64_t>(parallel_threads(), tasks));
  const int all = int(std::min<int64_t>(omp_get_max_threads(), tasks));
  return flops >= kHeldCoreRegionFlops && free < all ? RegionPlan{all, true} : RegionPlan{free, false};
}

void cap_parallel_threads(int n) {
  GG_CHECK(n >= 0, "cap_parallel_threads: expected a thread count >= 0, got " + std::to_string(n));
  g_cap = n;
}

void set_adaptive_threads(bool on) {
  apply_thread_environment();  // so that a later first use does not overwrite `on` with the variable
  g_adaptive = on;
}

bool adaptive_threads() {
  apply_thread_environment();
  return g_adaptive;
}

HeldCore::HeldCore(bool hold) {
  if (!hold) return;
  cpu_set_t allowed;
  if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) return;
  const int cores = CPU_COUNT(&allowed);
  if (cores <= 1) return;
  int pick = omp_get_thread_num() % cores;
  int core = 0;
  for (; core < CPU_SETSIZE; ++core)
    if (CPU_ISSET(core, &allowed) && pick-- == 0) break;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(core, &one);
  if (sched_setaffinity(0, sizeof one, &one) != 0) return;
  previous_ = allowed;
  held_ = true;
}

HeldCore::~HeldCore() {
  if (!held_) return;
  sched_setaffinity(0, sizeof previous_, &previous_);
}

LoadSample last_load_sample() {
  const LoadSampler& s = sampler();
  return {s.cores.load(), s.others.load()};
}

}  // namespace gg
