#include "engine/threads.h"

#include <omp.h>

#include <cstdlib>
#include <mutex>
#include <string>

#include "engine/core.h"

namespace gg {

void apply_thread_environment() {
  static std::once_flag once;
  std::call_once(once, [] {
    const char* text = std::getenv("GG_NUM_THREADS");
    if (!text || !*text) return;
    char* end = nullptr;
    const long n = std::strtol(text, &end, 10);
    GG_CHECK(*end == '\0' && n >= 1 && n <= 4096,
             std::string("GG_NUM_THREADS: expected a positive integer, got '") + text + "'");
    omp_set_num_threads(int(n));
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

}  // namespace gg
