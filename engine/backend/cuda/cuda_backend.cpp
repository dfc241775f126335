// The CUDA runtime side of the backend: whether a GPU is visible, the one instance with its stream and
// cuBLAS handle, host copies, and the error message of a failed call.
#include "engine/backend/cuda/cuda_backend.h"

#include <mutex>

#include "engine/backend/cuda/check.h"

namespace gg::cuda {

void fail_call(const char* call, const char* file, int line, const char* what) {
  fail(std::string("CUDA call ") + call + " failed at " + file + ":" + std::to_string(line) + ": " + what);
}

bool available(std::string* why) {
  // The runtime's answer does not change within a process, and asking it twice costs a driver call.
  static const std::string reason = [] {
    int count = 0;
    const cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) {
      (void)cudaGetLastError();
      return std::string("cudaGetDeviceCount: ") + cudaGetErrorName(e) + ": " + cudaGetErrorString(e);
    }
    return count == 0 ? std::string("cudaGetDeviceCount found 0 devices") : std::string();
  }();
  if (why) *why = reason;
  return reason.empty();
}

Backend& backend() {
  std::string why;
  if (!available(&why)) fail("device cuda:0: no CUDA GPU is visible (" + why + ")");
  static CudaBackend instance;
  return instance;
}

CudaBackend::CudaBackend() {
  GG_CUDA_CHECK(cudaSetDevice(0));
  // Non-blocking: the legacy default stream, which other libraries in the process may use, does not
  // serialise against ours. Everything of ours is on this one stream, so it is ordered among itself.
  GG_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
}
// No destructor: the instance lives until exit, when the runtime may already be torn down; the driver
// frees the stream, the handle and the cached blocks with the process.

cublasHandle_t CudaBackend::blas() {
  static std::once_flag once;
  std::call_once(once, [this] {
    GG_CUBLAS_CHECK(cublasCreate(&blas_));
    GG_CUBLAS_CHECK(cublasSetStream(blas_, stream_));
    // Said explicitly: the default mode keeps f32 products in f32 (no TF32 tensor cores, which round the
    // operands to 10 mantissa bits), so the GPU agrees with the CPU to f32 rounding.
    GG_CUBLAS_CHECK(cublasSetMathMode(blas_, CUBLAS_DEFAULT_MATH));
  });
  return blas_;
}

void CudaBackend::copy_from_host(void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return;
  GG_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream_));
  // The host buffer is often a temporary that is freed on return; waiting keeps it alive long enough.
  GG_CUDA_CHECK(cudaStreamSynchronize(stream_));
}

void CudaBackend::copy_to_host(void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return;
  GG_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream_));
  GG_CUDA_CHECK(cudaStreamSynchronize(stream_));  // the caller reads dst next
}

void CudaBackend::synchronize() { GG_CUDA_CHECK(cudaStreamSynchronize(stream_)); }

}  // namespace gg::cuda
