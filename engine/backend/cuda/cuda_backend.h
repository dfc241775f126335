// The CUDA backend (internal to engine/backend): one GPU, cuda:0, with one stream on which every kernel,
// cuBLAS call and copy is queued in order. Kernels are defined by family in this folder: elementwise.cu
// (fill, cast, strided copy, unary, binary, where, Adam), reduce.cu, conv.cu (im2col/col2im), random.cu,
// matmul.cpp (cuBLAS), and the runtime (device, stream, copies, error checks) in cuda_backend.cpp.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <string>

#include "engine/backend/backend.h"
#include "engine/backend/cuda/allocator.h"

namespace gg::cuda {

// Whether the runtime sees a GPU; when not, `why` says what the runtime answered. Asked once per process.
bool available(std::string* why = nullptr);

// The process-wide backend of cuda:0, as backend_for(Device::cuda(0)) returns it; an Error naming the
// device when no GPU is visible.
Backend& backend();

class CudaBackend final : public Backend {
 public:
  CudaBackend();  // selects device 0 and creates the stream; the cuBLAS handle is made on first use
  const char* name() const override { return "cuda"; }
  void* allocate(size_t bytes) override { return alloc_.allocate(bytes); }
  void deallocate(void* p, size_t bytes) override { alloc_.deallocate(p, bytes); }
  size_t cached_bytes() const override { return alloc_.cached(); }
  size_t peak_bytes() const override { return alloc_.peak(); }
  void reset_peak_bytes() override { alloc_.reset_peak(); }
  void copy_from_host(void* dst, const void* src, size_t bytes) override;
  void copy_to_host(void* dst, const void* src, size_t bytes) override;
  void synchronize() override;

  // elementwise.cu
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
  // reduce.cu
  void reduce(ReduceOp op, DType t, const Shape& shape, const std::vector<bool>& reduced, const void* x,
              void* out) override;
  // matmul.cpp
  void matmul(DType t, const MatmulGeometry& g, const void* a, const void* b, void* c) override;
  // conv.cu
  void im2col(DType t, const ConvGeometry& g, const void* x, void* cols) override;
  void col2im(DType t, const ConvGeometry& g, const void* cols, void* x) override;
  // random.cu
  void random(RandomKind kind, DType t, int64_t n, uint64_t seed, uint64_t offset, void* out) override;

  cudaStream_t stream() const { return stream_; }

 private:
  cublasHandle_t blas();  // the cuBLAS handle, bound to the stream, made on first use

  cudaStream_t stream_ = nullptr;
  cublasHandle_t blas_ = nullptr;
  CachingAllocator alloc_;
};

}  // namespace gg::cuda
