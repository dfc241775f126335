// The CPU backend (internal to engine/backend): the class, whose kernel entries are defined by family in
// this folder (elementwise.cpp, reduce.cpp, matmul.cpp, random.cpp, cpu_backend.cpp), and its one instance.
#pragma once

#include "engine/backend/backend.h"
#include "engine/backend/cpu/allocator.h"

namespace gg::cpu {

// The process-wide CPU backend, as backend_for(Device::cpu()) returns it.
Backend& backend();

class CpuBackend final : public Backend {
 public:
  const char* name() const override { return "cpu"; }
  void* allocate(size_t bytes) override { return alloc_.allocate(bytes); }
  void deallocate(void* p, size_t bytes) override { alloc_.deallocate(p, bytes); }
  size_t cached_bytes() const override { return alloc_.cached(); }
  size_t peak_bytes() const override { return alloc_.peak(); }
  void reset_peak_bytes() override { alloc_.reset_peak(); }
  void copy_from_host(void* dst, const void* src, size_t bytes) override;
  void copy_to_host(void* dst, const void* src, size_t bytes) override;

  // elementwise.cpp
  void fill(DType t, int64_t n, double value, void* out) override;
  void cast(DType from, DType to, int64_t n, const void* x, void* y) override;
  void copy_strided(DType t, const Shape& shape, const void* src, const Shape& src_strides, void* dst,
                    const Shape& dst_strides) override;
  void unary(UnaryOp op, DType t, int64_t n, const void* x, void* y) override;
  void binary(BinaryOp op, DType t, const Shape& shape, const void* a, const Shape& a_strides, const void* b,
              const Shape& b_strides, void* out) override;
  void where(DType t, const Shape& shape, const void* cond, const Shape& c_strides, const void* a,
             const Shape& a_strides, const void* b, const Shape& b_strides, void* out) override;
  bool adam_update(DType t, int64_t n, void* param, const void* grad, void* m, void* v, double lr, double beta1,
                   double beta2, double eps, double weight_decay, bool decoupled, double bias1,
                   double bias2) override;
  // reduce.cpp
  void reduce(ReduceOp op, DType t, const Shape& shape, const std::vector<bool>& reduced, const void* x,
              void* out) override;
  // matmul.cpp (matrix products and convolution columns)
  void matmul(DType t, const MatmulGeometry& g, const void* a, const void* b, void* c) override;
  void im2col(DType t, const ConvGeometry& g, const void* x, void* cols) override;
  void col2im(DType t, const ConvGeometry& g, const void* cols, void* x) override;
  // random.cpp
  void random(RandomKind kind, DType t, int64_t n, uint64_t seed, uint64_t offset, void* out) override;

 private:
  CachingAllocator alloc_;
};

}  // namespace gg::cpu
