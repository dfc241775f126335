#include "engine/backend/cuda/gemm_plan.h"

namespace gg::cuda {

namespace {

// The single element distance between consecutive matrices of a batch walked in row-major order, when
// the batch axes (size-1 axes skipped) collapse into one; false when they do not.
bool uniform_stride(const Shape& batch, const Shape& strides, int64_t* stride) {
  int64_t s = 0, extent = 0;  // the stride and the element count of the axes seen so far (from the right)
  for (size_t i = batch.size(); i-- > 0;) {
    if (batch[i] == 1) continue;
    if (extent == 0)
      s = strides[i], extent = batch[i];
    else if (strides[i] != s * extent)
      return false;
    else
      extent *= batch[i];
  }
  *stride = s;
  return true;
}

}  // namespace

std::vector<GemmCall> plan_gemm(const MatmulGeometry& g) {
  GemmCall c;
  c.trans_first = g.trans_b, c.trans_second = g.trans_a;
  c.m = g.n, c.n = g.m, c.k = g.k;  // C^T is n x m
  // A row-major matrix's leading dimension is its row length: A is (trans_a ? k x m : m x k), B likewise.
  c.ld_first = g.trans_b ? g.k : g.n;
  c.ld_second = g.trans_a ? g.m : g.k;
  c.ldc = g.n;
  c.stride_c = g.m * g.n;
  const int64_t batch = shape_numel(g.batch);
  int64_t sa = 0, sb = 0;
  const bool a_uniform = uniform_stride(g.batch, g.a_strides, &sa);
  const bool b_uniform = uniform_stride(g.batch, g.b_strides, &sb);
  if (batch == 1) return {c};
  // A batch of row blocks times one shared matrix is a single tall product (as on the CPU): m * batch rows.
  if (!g.trans_a && b_uniform && sb == 0 && a_uniform && sa == g.m * g.k && g.m * batch < (int64_t{1} << 31)) {
    c.n = g.m * batch;
    return {c};
  }
  if (a_uniform && b_uniform) {
    c.stride_first = sb, c.stride_second = sa, c.count = batch;
    return {c};
  }
  std::vector<GemmCall> calls;  // batch axes that do not collapse: one product per matrix
  const int64_t rank = g.batch.size();
  for (int64_t p = 0; p < batch; ++p) {
    int64_t rem = p;
    c.offset_a = c.offset_b = 0;
    for (int64_t d = rank - 1; d >= 0; --d) {
      const int64_t idx = rem % g.batch[d];
      rem /= g.batch[d];
      c.offset_a += idx * g.a_strides[d];
      c.offset_b += idx * g.b_strides[d];
    }
    c.offset_c = p * g.m * g.n;
    calls.push_back(c);
  }
  return calls;
}

}  // namespace gg::cuda
