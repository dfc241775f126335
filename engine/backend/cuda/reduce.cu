// The GPU's reductions (sum, max) over any set of axes. Deterministic: each output element is reduced by
// one thread (short rows) or by blocks (long rows: one block per fixed-size piece, then the pieces' values
// reduced again in order), each a sequential sweep per thread then a fixed shared-memory tree; no atomics,
// and the split depends on the shape only, so a run gives the same bits every time. The order differs from
// the CPU's, so sums agree with it to rounding, not bit for bit.
#include <cmath>
#include <limits>

#include "engine/backend/cuda/cuda_backend.h"
#include "engine/backend/cuda/launch.cuh"

namespace gg::cuda {

namespace {

// sum, or max with NaN winning (as the CPU's): combine(acc, v) for the running value acc.
template <class T>
struct Combine {
  bool is_sum;
  __device__ T init() const { return is_sum ? T(0) : -INFINITY; }
  __device__ T operator()(T acc, T v) const { return is_sum ? acc + v : ((v > acc || isnan(v)) ? v : acc); }
};

// One thread per output element, walking its reduced elements in order: for rows shorter than a block.
template <class T>
__global__ void reduce_by_thread(int64_t outputs, int64_t row, StridedIndex<1> kept, StridedIndex<1> red,
                                 Combine<T> c, const T* x, T* out) {
  GG_GRID_STRIDE(o, outputs) {
    int64_t base[1], off[1];
    kept.offsets(o, base);
    T acc = c.init();
    for (int64_t r = 0; r < row; ++r) {
      red.offsets(r, off);
      acc = c(acc, x[base[0] + off[0]]);
    }
    out[o] = acc;
  }
}

// One block per piece of a row: work item w reduces elements [begin, end) of output w / chunks's row, piece
// w % chunks of chunk_len elements; thread t sweeps begin + t, begin + t + kBlock, ..., then a tree over the
// block. out[w] is the piece's value (the output itself when chunks == 1).
template <class T>
__global__ void reduce_by_block(int64_t items, int64_t chunks, int64_t chunk_len, int64_t row, StridedIndex<1> kept,
                                StridedIndex<1> red, Combine<T> c, const T* x, T* out) {
  __shared__ T part[kBlock];
  for (int64_t w = blockIdx.x; w < items; w += gridDim.x) {
    const int64_t begin = (w % chunks) * chunk_len, end = min(row, begin + chunk_len);
    int64_t base[1], off[1];
    kept.offsets(w / chunks, base);
    T acc = c.init();
    for (int64_t r = begin + threadIdx.x; r < end; r += kBlock) {
      red.offsets(r, off);
      acc = c(acc, x[base[0] + off[0]]);
    }
    part[threadIdx.x] = acc;
    __syncthreads();
    for (int width = kBlock / 2; width > 0; width /= 2) {
      if (threadIdx.x < width) part[threadIdx.x] = c(part[threadIdx.x], part[threadIdx.x + width]);
      __syncthreads();
    }
    if (threadIdx.x == 0) out[w] = part[0];
    __syncthreads();  // part[0] is read before the next item overwrites it
  }
}

// A block's share of a long row: long enough to keep each thread busy, short enough that a whole-tensor
// sum spreads over hundreds of blocks. It depends on the shape only, so the order of additions does too.
constexpr int64_t kChunk = 32 * 1024;

// out[o] = the reduction of row o: `outputs` rows of `row` elements, row o at kept(o), element r at red(r).
template <class T>
void reduce_rows(CudaBackend& be, int64_t outputs, int64_t row, const StridedIndex<1>& kept,
                 const StridedIndex<1>& red, Combine<T> c, const T* x, T* out) {
  if (outputs <= 0) return;
  if (row < kBlock || outputs >= 64 * 1024) {  // short rows, or enough outputs to fill the GPU a thread each
    launch("reduce_by_thread", be.stream(), reduce_by_thread<T>, outputs, outputs, row, kept, red, c, x, out);
    return;
  }
  const int64_t chunks = (row + kChunk - 1) / kChunk;
  const int64_t items = outputs * chunks;
  T* dst = out;
  const size_t partial_bytes = chunks > 1 ? sizeof(T) * items : 0;
  if (chunks > 1) dst = static_cast<T*>(be.allocate(partial_bytes));
  reduce_by_block<T><<<unsigned(std::min<int64_t>(items, 65535)), kBlock, 0, be.stream()>>>(items, chunks, kChunk,
                                                                                           row, kept, red, c, x, dst);
  GG_CUDA_CHECK(cudaGetLastError());
  if (chunks > 1) {
    // Second pass over the partials [outputs, chunks], in piece order. Freeing the buffer right after the
    // launch is safe: a later owner of the block is queued behind this pass on the same stream.
    StridedIndex<1> rows, pieces;
    rows.rank = pieces.rank = 1;
    rows.shape[0] = outputs, rows.strides[0][0] = chunks;
    pieces.shape[0] = chunks, pieces.strides[0][0] = 1;
    reduce_rows<T>(be, outputs, chunks, rows, pieces, c, dst, out);
    be.deallocate(dst, partial_bytes);
  }
}

}  // namespace

void CudaBackend::reduce(ReduceOp op, DType t, const Shape& shape, const std::vector<bool>& reduced, const void* x,
                         void* out) {
  const ReduceRows rows = reduce_rows_of(shape, reduced);
  dispatch(t, [&](auto z) {
    using T = decltype(z);
    reduce_rows<T>(*this, rows.outputs, rows.row, rows.kept, rows.red, Combine<T>{op == ReduceOp::sum},
                   static_cast<const T*>(x), static_cast<T*>(out));
  });
}

}  // namespace gg::cuda
