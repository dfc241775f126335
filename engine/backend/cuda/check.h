// Every CUDA runtime and cuBLAS call of the backend goes through one of these checks, so a failure is a
// gg::Error naming the call, where it was made and what the runtime said, never a silent wrong answer.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <string>

namespace gg::cuda {

[[noreturn]] void fail_call(const char* call, const char* file, int line, const char* what);

inline void check_cuda(cudaError_t e, const char* call, const char* file, int line) {
  if (e != cudaSuccess) {
    const char* what = cudaGetErrorName(e);
    (void)cudaGetLastError();  // clears a non-sticky error so the next call does not report it again
    fail_call(call, file, line, (std::string(what) + ": " + cudaGetErrorString(e)).c_str());
  }
}

inline void check_cublas(cublasStatus_t s, const char* call, const char* file, int line) {
  if (s != CUBLAS_STATUS_SUCCESS)
    fail_call(call, file, line, (std::string(cublasGetStatusName(s)) + ": " + cublasGetStatusString(s)).c_str());
}

}  // namespace gg::cuda

#define GG_CUDA_CHECK(call) ::gg::cuda::check_cuda((call), #call, __FILE__, __LINE__)
#define GG_CUBLAS_CHECK(call) ::gg::cuda::check_cublas((call), #call, __FILE__, __LINE__)
