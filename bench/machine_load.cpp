#include "bench/machine_load.h"

#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>

#include "engine/core.h"

namespace gg::bench {

namespace {

// The aggregate "cpu" line of /proc/stat: total and idle (idle + iowait) jiffies; false where unreadable.
bool cpu_jiffies(long long& total, long long& idle) {
  std::ifstream in("/proc/stat");
  std::string cpu;
  long long user, nice, system, idle_time, iowait, irq, softirq, steal;
  if (!(in >> cpu >> user >> nice >> system >> idle_time >> iowait >> irq >> softirq >> steal) || cpu != "cpu")
    return false;
  idle = idle_time + iowait;
  total = user + nice + system + idle + irq + softirq + steal;
  return true;
}

}  // namespace

double busy_cores(double seconds) {
  long long t0, i0, t1, i1;
  if (!cpu_jiffies(t0, i0)) return -1;
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  if (!cpu_jiffies(t1, i1) || t1 <= t0) return -1;
  return double((t1 - t0) - (i1 - i0)) / double(t1 - t0) * online_cores();
}

int online_cores() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) != 0) return int(sysconf(_SC_NPROCESSORS_ONLN));
  return CPU_COUNT(&set);
}

SpinningLoad::SpinningLoad() {
  cpu_set_t allowed;
  GG_CHECK(sched_getaffinity(0, sizeof allowed, &allowed) == 0, "bench --busy: sched_getaffinity failed");
  for (int c = 0; c < CPU_SETSIZE; ++c)
    if (CPU_ISSET(c, &allowed)) core_ = c;  // the last core this process may use
  pid_ = fork();
  GG_CHECK(pid_ >= 0, "bench --busy: fork() failed");
  if (pid_ == 0) {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(core_, &one);
    sched_setaffinity(0, sizeof one, &one);
    for (;;) __asm__ volatile("" ::: "memory");  // spins; the barrier keeps the loop a side effect
  }
}

SpinningLoad::~SpinningLoad() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
}

}  // namespace gg::bench
