// How busy the machine is, for a benchmark that says how quiet it ran, and the spinning load of
// `gradgrad bench jacobian --busy`, which measures how a step degrades when another process holds a core.
#pragma once

#include <sys/types.h>

namespace gg::bench {

// Cores busy (not idle, not waiting for I/O) over the next `seconds`, from /proc/stat: near 0 on a quiet
// machine, near 1 while one core is held; -1 where /proc/stat cannot be read.
double busy_cores(double seconds = 0.5);
// The cores this process may run on.
int online_cores();

// A process that spins on the last core for as long as this object lives, as `yes > /dev/null` would; it
// holds its core at the default priority, so our threads and the peer's compete with it alike.
class SpinningLoad {
 public:
  SpinningLoad();
  ~SpinningLoad();
  SpinningLoad(const SpinningLoad&) = delete;
  SpinningLoad& operator=(const SpinningLoad&) = delete;
  int core() const { return core_; }

 private:
  pid_t pid_ = -1;
  int core_ = -1;
};

}  // namespace gg::bench
