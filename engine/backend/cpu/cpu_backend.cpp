// The CPU backend's instance and its host copies (both memcpy: the host is the device). Its kernels are
// defined by family in the other files of this folder.
#include "engine/backend/cpu/cpu_backend.h"

#include <cstdlib>
#include <cstring>

#include "engine/threads.h"

namespace gg::cpu {

Backend& backend() {
  static CpuBackend instance;
  return instance;
}

CpuBackend::CpuBackend() { apply_thread_environment(); }  // GG_NUM_THREADS, before the first parallel loop

void* HostMemory::allocate(size_t bytes) { return std::aligned_alloc(64, bytes); }
void HostMemory::release(void* p) { std::free(p); }

void CpuBackend::copy_from_host(void* dst, const void* src, size_t bytes) { std::memcpy(dst, src, bytes); }
void CpuBackend::copy_to_host(void* dst, const void* src, size_t bytes) { std::memcpy(dst, src, bytes); }

}  // namespace gg::cpu
