// How a row-major matrix product of backend.h (MatmulGeometry) becomes cuBLAS calls, as plain host data
// so that it is testable without a GPU (tests/test_cuda_plan.cpp runs the plan through a column-major
// reference GEMM). cuBLAS is column-major: a row-major r x c matrix is the column-major c x r matrix of the
// same memory (its transpose), so C = op(A) op(B) is computed as C^T = op(B)^T op(A)^T, the operands
// swapped and their flags kept.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/backend/backend.h"

namespace gg::cuda {

// One cublas<t>gemmStridedBatched call (a plain gemm when count == 1), in cuBLAS's column-major terms:
// count times, C[m x n] = op(first)[m x k] op(second)[k x n], where first is our B and second our A.
struct GemmCall {
  bool trans_first = false, trans_second = false;  // cuBLAS's transa, transb
  int64_t m = 0, n = 0, k = 0;
  int64_t ld_first = 0, ld_second = 0, ldc = 0;
  int64_t stride_first = 0, stride_second = 0, stride_c = 0;  // between the matrices of the batch
  int64_t count = 1;
  int64_t offset_a = 0, offset_b = 0, offset_c = 0;  // where the first matrices start, in elements
};

// The calls for g, in order: one call where the batch collapses (a single product, a tall product for a
// batch of row blocks times one matrix, or a strided batch), else one call per matrix. Needs k > 0 and a
// non-empty output (the caller handles those).
std::vector<GemmCall> plan_gemm(const MatmulGeometry& g);

}  // namespace gg::cuda
