#include "bench/machine_load.h"

#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "engine/core.h"
#include "engine/threads.h"

namespace gg::bench {

double busy_cores(double seconds) {
  double busy0, all0, busy1, all1;
  int cores;
  if (!busy_cpu_seconds(busy0, all0, cores)) return -1;
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  if (!busy_cpu_seconds(busy1, all1, cores) || all1 <= all0) return -1;
  return (busy1 - busy0) / (all1 - all0) * cores;
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
