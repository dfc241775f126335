// The CUDA backend (internal to engine/backend): one GPU, cuda:0, with one stream on which every kernel,
// cuBLAS call and copy is queued in order. Kernels are defined by family in this folder: elementwise.cu
// (fill, cast, strided copy, unary, binary, where, Adam), reduce.cu, conv.cu (im2col/col2im), random.cu,
// matmul.cpp (cuBLAS), and the runtime (device, stream, copies, error checks) in cuda_backend.cpp.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <string>

#include "engine/backend/caching_allocator.h"
#include "engine/backend/cuda/allocator.h"

namespace gg::cuda {

// Whether the runtime sees a GPU; when not, `why` says what the runtime answered. Asked once per process.
bool available(std::string* why = nullptr);

// The process-wide backend of cuda:0, as backend_for(Device::cuda(0)) returns it; an Error naming the
// device when no GPU is visible.
Backend& backend();

class CudaBackend final : public CachingBackend<DeviceMemory> {
 public:
  CudaBackend();  // selects device 0 and creates the stream; the cuBLAS handle is made on first use
  const char* name() const override { return "cuda"; }
  void copy_from_host(void* dst, const void* src, size_t bytes) override;
  void copy_to_host(void* dst, const void* src, size_t bytes) override;
  void synchronize() override;

  // Defined by family: elementwise.cu (fill, cast, copy_strided, unary, binary, where, adam_update),
  // reduce.cu, matmul.cpp, conv.cu (im2col, col2im) and random.cu.
  GG_BACKEND_KERNEL_OVERRIDES

  cudaStream_t stream() const { return stream_; }

 private:
  cublasHandle_t blas();  // the cuBLAS handle, bound to the stream, made on first use

  cudaStream_t stream_ = nullptr;
  cublasHandle_t blas_ = nullptr;
};

}  // namespace gg::cuda
