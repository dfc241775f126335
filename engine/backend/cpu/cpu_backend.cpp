// The CPU backend's instance and its host copies (both memcpy: the host is the device). Its kernels are
// defined by family in the other files of this folder.
#include "engine/backend/cpu/cpu_backend.h"

#include <cstring>

namespace gg::cpu {

Backend& backend() {
  static CpuBackend instance;
  return instance;
}

void CpuBackend::copy_from_host(void* dst, const void* src, size_t bytes) { std::memcpy(dst, src, bytes); }
void CpuBackend::copy_to_host(void* dst, const void* src, size_t bytes) { std::memcpy(dst, src, bytes); }

}  // namespace gg::cpu
