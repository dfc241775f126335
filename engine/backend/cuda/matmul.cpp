// The GPU's matrix products: the cuBLAS calls that gemm_plan.h plans, run on the backend's stream.
#include <cublas_v2.h>

#include <type_traits>

#include "engine/backend/cuda/check.h"
#include "engine/backend/cuda/cuda_backend.h"
#include "engine/backend/cuda/gemm_plan.h"

namespace gg::cuda {

namespace {

constexpr int64_t kIntMax = (int64_t{1} << 31) - 1;

template <class T>
void run_call(cublasHandle_t h, const GemmCall& c, const T* a, const T* b, T* out) {
  GG_CHECK(c.m <= kIntMax && c.n <= kIntMax && c.k <= kIntMax && c.count <= kIntMax,
           "matmul on cuda: a size exceeds cuBLAS's 32-bit sizes");
  const T one = 1, zero = 0;
  const cublasOperation_t ta = c.trans_first ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t tb = c.trans_second ? CUBLAS_OP_T : CUBLAS_OP_N;
  const T* first = b + c.offset_b;
  const T* second = a + c.offset_a;
  T* dst = out + c.offset_c;
  const int m = int(c.m), n = int(c.n), k = int(c.k), lda = int(c.ld_first), ldb = int(c.ld_second),
            ldc = int(c.ldc), count = int(c.count);
  if constexpr (std::is_same_v<T, float>) {
    if (count == 1)
      GG_CUBLAS_CHECK(cublasSgemm(h, ta, tb, m, n, k, &one, first, lda, second, ldb, &zero, dst, ldc));
    else
      GG_CUBLAS_CHECK(cublasSgemmStridedBatched(h, ta, tb, m, n, k, &one, first, lda, c.stride_first, second, ldb,
                                                c.stride_second, &zero, dst, ldc, c.stride_c, count));
  } else {
    if (count == 1)
      GG_CUBLAS_CHECK(cublasDgemm(h, ta, tb, m, n, k, &one, first, lda, second, ldb, &zero, dst, ldc));
    else
      GG_CUBLAS_CHECK(cublasDgemmStridedBatched(h, ta, tb, m, n, k, &one, first, lda, c.stride_first, second, ldb,
                                                c.stride_second, &zero, dst, ldc, c.stride_c, count));
  }
}

}  // namespace

void CudaBackend::matmul(DType t, const MatmulGeometry& g, const void* a, const void* b, void* c) {
  const int64_t batch = shape_numel(g.batch);
  if (batch == 0 || g.m == 0 || g.n == 0) return;
  if (g.k == 0) {  // an empty contraction is zero (and cuBLAS refuses a leading dimension of 0)
    GG_CUDA_CHECK(cudaMemsetAsync(c, 0, batch * g.m * g.n * dtype_size(t), stream_));
    return;
  }
  cublasHandle_t h = blas();
  for (const GemmCall& call : plan_gemm(g)) {
    if (t == DType::f32)
      run_call<float>(h, call, static_cast<const float*>(a), static_cast<const float*>(b), static_cast<float*>(c));
    else
      run_call<double>(h, call, static_cast<const double*>(a), static_cast<const double*>(b),
                       static_cast<double*>(c));
  }
}

}  // namespace gg::cuda
