// The GPU's matrix products, through cuBLAS. cuBLAS is column-major and our matrices are row-major; a
// row-major r x c matrix is the column-major c x r matrix of the same memory (its transpose), so
// C = op(A) op(B) is computed as C^T = op(B)^T op(A)^T with the operands swapped and the flags kept.
#include <cublas_v2.h>

#include <type_traits>

#include "engine/backend/cuda/check.h"
#include "engine/backend/cuda/cuda_backend.h"

namespace gg::cuda {

namespace {

// One matrix product (or a strided batch of them) in row-major terms; ld* are the row-major leading
// dimensions, s* the element distance between consecutive matrices of the batch.
struct Gemm {
  int64_t m, n, k;
  bool ta, tb;
  int64_t sa, sb, count;
};

template <class T>
void run_gemm(cublasHandle_t h, const Gemm& g, const T* a, const T* b, T* c) {
  const T one = 1, zero = 0;
  // Row-major A is (ta ? k x m : m x k), so its leading dimension is its row length; likewise B.
  const int lda = int(g.ta ? g.m : g.k), ldb = int(g.tb ? g.k : g.n), ldc = int(g.n);
  const cublasOperation_t opb = g.tb ? CUBLAS_OP_T : CUBLAS_OP_N, opa = g.ta ? CUBLAS_OP_T : CUBLAS_OP_N;
  const int m = int(g.n), n = int(g.m), k = int(g.k);  // of the column-major product C^T = op(B)^T op(A)^T
  if constexpr (std::is_same_v<T, float>) {
    if (g.count == 1)
      GG_CUBLAS_CHECK(cublasSgemm(h, opb, opa, m, n, k, &one, b, ldb, a, lda, &zero, c, ldc));
    else
      GG_CUBLAS_CHECK(cublasSgemmStridedBatched(h, opb, opa, m, n, k, &one, b, ldb, g.sb, a, lda, g.sa, &zero, c,
                                                ldc, g.m * g.n, int(g.count)));
  } else {
    if (g.count == 1)
      GG_CUBLAS_CHECK(cublasDgemm(h, opb, opa, m, n, k, &one, b, ldb, a, lda, &zero, c, ldc));
    else
      GG_CUBLAS_CHECK(cublasDgemmStridedBatched(h, opb, opa, m, n, k, &one, b, ldb, g.sb, a, lda, g.sa, &zero, c,
                                                ldc, g.m * g.n, int(g.count)));
  }
}

// The single element distance between consecutive matrices of a batch walked in row-major order, when
// the batch axes (size-1 axes skipped) collapse into one; false when they do not.
bool uniform_stride(const Shape& batch, const Shape& strides, int64_t* stride) {
  int64_t s = 0, next_extent = 0;
  bool seen = false;
  for (size_t i = batch.size(); i-- > 0;) {
    if (batch[i] == 1) continue;
    if (!seen)
      s = strides[i];
    else if (strides[i] != s * next_extent)
      return false;
    seen = true;
    next_extent = next_extent == 0 ? batch[i] : next_extent * batch[i];
  }
  *stride = s;
  return true;
}

}  // namespace

void CudaBackend::matmul(DType t, const MatmulGeometry& g, const void* a, const void* b, void* c) {
  GG_CHECK(g.m < (int64_t{1} << 31) && g.n < (int64_t{1} << 31) && g.k < (int64_t{1} << 31),
           "matmul on cuda: a matrix side exceeds cuBLAS's 32-bit sizes");
  const int64_t batch = shape_numel(g.batch);
  if (batch == 0 || g.m == 0 || g.n == 0) return;
  if (g.k == 0) {  // an empty contraction is zero (and cuBLAS refuses a leading dimension of 0)
    GG_CUDA_CHECK(cudaMemsetAsync(c, 0, batch * g.m * g.n * dtype_size(t), stream_));
    return;
  }
  Gemm gemm{g.m, g.n, g.k, g.trans_a, g.trans_b, 0, 0, 1};
  // A batch of row blocks times one shared matrix is a single tall product (as on the CPU).
  bool b_shared = true;
  for (auto s : g.b_strides) b_shared &= s == 0;
  int64_t sa = 0, sb = 0;
  const bool a_uniform = uniform_stride(g.batch, g.a_strides, &sa);
  const bool b_uniform = uniform_stride(g.batch, g.b_strides, &sb);
  cublasHandle_t h = blas();
  auto run = [&](const Gemm& gm, const void* pa, const void* pb, void* pc) {
    if (t == DType::f32)
      run_gemm<float>(h, gm, static_cast<const float*>(pa), static_cast<const float*>(pb), static_cast<float*>(pc));
    else
      run_gemm<double>(h, gm, static_cast<const double*>(pa), static_cast<const double*>(pb),
                       static_cast<double*>(pc));
  };
  if (batch > 1 && b_shared && !g.trans_a && a_uniform && sa == g.m * g.k && g.m * batch < (int64_t{1} << 31)) {
    gemm.m = g.m * batch;
    run(gemm, a, b, c);
  } else if (batch == 1 || (a_uniform && b_uniform && batch < (int64_t{1} << 31))) {
    gemm.sa = sa;
    gemm.sb = sb;
    gemm.count = batch;
    run(gemm, a, b, c);
  } else {  // batch axes that do not collapse: one product per matrix
    const size_t es = dtype_size(t);
    const int64_t rank = g.batch.size();
    for (int64_t p = 0; p < batch; ++p) {
      int64_t rem = p, ao = 0, bo = 0;
      for (int64_t d = rank - 1; d >= 0; --d) {
        const int64_t idx = rem % g.batch[d];
        rem /= g.batch[d];
        ao += idx * g.a_strides[d];
        bo += idx * g.b_strides[d];
      }
      run(gemm, static_cast<const char*>(a) + ao * es, static_cast<const char*>(b) + bo * es,
          static_cast<char*>(c) + p * g.m * g.n * es);
    }
  }
}

}  // namespace gg::cuda
