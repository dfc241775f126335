// The CPU's matrix product kernels (matmul.cpp, the one file built with OpenBLAS's cblas_?gemm), for the
// kernels of other families that multiply matrices of their own (conv.cpp).
#pragma once

#include <cstdint>

namespace gg::cpu {

// C = op(A) op(B), all row-major and contiguous: C is m x n, the contraction is over k. A large product is
// cut into pieces the threads take as they finish (matmul.cpp says why); inside a parallel region it is one
// call on the calling thread.
template <class T>
void gemm(const T* a, const T* b, T* c, int64_t m, int64_t n, int64_t k, bool ta, bool tb);

// C = op(A) op(B) + beta C as one BLAS call, each matrix row-major with its own row stride (lda, ldb, ldc):
// for kernels that run their own parallel loop around small products. Inside a parallel region it runs on
// the calling thread; outside one, OpenBLAS uses its threads.
template <class T>
void gemm_strided(const T* a, const T* b, T* c, int64_t m, int64_t n, int64_t k, bool ta, bool tb,
                  int64_t lda, int64_t ldb, int64_t ldc, T beta);

}  // namespace gg::cpu
