// The CPU backend (internal to engine/backend): the class, whose kernel entries are defined by family in
// this folder (elementwise.cpp, reduce.cpp, matmul.cpp, conv.cpp, random.cpp, cpu_backend.cpp), and its one
// instance.
#pragma once

#include "engine/backend/backend.h"
#include "engine/backend/caching_allocator.h"

namespace gg::cpu {

// The process-wide CPU backend, as backend_for(Device::cpu()) returns it.
Backend& backend();

// Host memory for the caching allocator: 64-byte aligned blocks (a cache line, and AVX-512's width),
// bucketed by 512 bytes.
struct HostMemory {
  static constexpr const char* kName = "cpu";
  static constexpr bool kReleaseAtExit = true;
  static size_t round(size_t bytes) { return bytes <= 64 ? 64 : (bytes + 511) / 512 * 512; }
  static void* allocate(size_t bytes);  // nullptr when out of memory
  static void release(void* p);
};

class CpuBackend final : public CachingBackend<HostMemory> {
 public:
  CpuBackend();  // applies GG_NUM_THREADS (engine/threads.h)
  const char* name() const override { return "cpu"; }
  void copy_from_host(void* dst, const void* src, size_t bytes) override;
  void copy_to_host(void* dst, const void* src, size_t bytes) override;

  // Defined by family: elementwise.cpp (fill, cast, copy_strided, unary, binary, where, adam_update),
  // reduce.cpp, matmul.cpp (matmul), conv.cpp (im2col, col2im and the fused convolutions) and random.cpp.
  GG_BACKEND_KERNEL_OVERRIDES
  bool softmax_rows(DType t, int64_t rows, int64_t n, const void* x, void* y) override;  // reduce.cpp
  bool conv2d(DType t, const ConvBatch& b, const void* x, const void* w, void* y) override;
  bool conv_transpose2d(DType t, const ConvBatch& b, const void* y, const void* w, void* x) override;
  bool conv2d_weight_grad(DType t, const ConvBatch& b, const void* y, const void* x, void* w) override;
  bool conv2d_with_weight_grad(DType t, const ConvBatch& b, const void* x, const void* w, const void* dy,
                               void* y, void* dw) override;
};

}  // namespace gg::cpu
