// The CPU's convolution kernels: the columns im2col/col2im, and the fused convolutions (backend.h's
// conv2d, conv_transpose2d, conv2d_weight_grad) that build the columns of a few samples at a time in a
// buffer that stays in cache, rather than the whole batch's in memory.
//
// Why fused: the composite writes all columns and reads them back. With m cotangents through the exact
// Jacobian penalty's backward pass, the first conv layer of Table 3's net has [m, 288, 64 x 64] columns,
// 151 MB for m = 32, and its products (k = 64) were bound by that memory traffic: 72 GFLOP/s where the
// same machine's SGEMM reaches 345. A chunk of a few samples' columns is made, multiplied and consumed
// while it is in cache.
#include <cstring>

#include "engine/backend/cpu/cpu_backend.h"
#include "engine/backend/cpu/gemm.h"
#include "engine/backend/cpu/loops.h"

namespace gg::cpu {

namespace {

// ---- Columns of one image plane ------------------------------------------------------------------------
// The kh*kw rows of one plane's columns, `ld` elements apart, its oh*ow entries starting at `cl`:
// cl[(i*kw + j)*ld + oy*ow + ox] = im[oy*stride - pad + i, ox*stride - pad + j] (0 outside the image).
// kToCols gathers the plane into its columns (im2col); otherwise the columns are summed back into the
// zeroed plane (col2im), each pixel's entries in (i, j) order.
template <class T, bool kToCols>
void plane_columns(const ConvGeometry& g, T* im, T* cl, int64_t ld) {
  const int64_t oh = g.out_h(), ow = g.out_w();
  if constexpr (!kToCols) std::fill(im, im + g.height * g.width, T(0));
  for (int64_t i = 0; i < g.kernel_h; ++i)
    for (int64_t j = 0; j < g.kernel_w; ++j) {
      T* row = cl + (i * g.kernel_w + j) * ld;
      // The output columns whose input column x = ox * stride - padding + j lies inside the image.
      const int64_t first = std::clamp<int64_t>((g.padding - j + g.stride - 1) / g.stride, 0, ow);
      const int64_t last = g.width - 1 + g.padding - j < 0
                               ? 0
                               : std::clamp<int64_t>((g.width - 1 + g.padding - j) / g.stride + 1, first, ow);
      for (int64_t oy = 0; oy < oh; ++oy) {
        const int64_t y = oy * g.stride - g.padding + i;
        T* out = row + oy * ow;
        if (y < 0 || y >= g.height) {  // a row of padding
          if constexpr (kToCols) std::fill(out, out + ow, T(0));
          continue;
        }
        const int64_t base = y * g.width - g.padding + j;  // im[base + ox * stride] is column ox's pixel
        if constexpr (kToCols) {
          std::fill(out, out + first, T(0));
          for (int64_t ox = first; ox < last; ++ox) out[ox] = im[base + ox * g.stride];
          std::fill(out + std::max(first, last), out + ow, T(0));
        } else {
          for (int64_t ox = first; ox < last; ++ox) im[base + ox * g.stride] += out[ox];
        }
      }
    }
}

// im2col/col2im over a whole batch, cols [N, C*kh*kw, oh*ow], one image plane per task.
template <class T, bool kToCols>
void columns_kernel(const ConvGeometry& g, T* img, T* cols) {
  const int64_t p = g.out_h() * g.out_w(), kk = g.kernel_h * g.kernel_w;
  parallel_for_balanced(
      g.batch * g.channels,
      [&](int64_t pb, int64_t pe) {
        for (int64_t plane = pb; plane < pe; ++plane)
          plane_columns<T, kToCols>(g, img + plane * g.height * g.width, cols + plane * kk * p, p);
      },
      std::max<int64_t>(1, kParallelGrain / (kk * p)));
}

// Per-thread scratch from the backend's caching allocator (a fresh malloc of a chunk's size would fault its
// pages in on every call).
struct Scratch {
  Backend& backend;
  size_t bytes;
  void* p;
  Scratch(Backend& be, size_t n) : backend(be), bytes(std::max<size_t>(n, 1)), p(be.allocate(bytes)) {}
  ~Scratch() { backend.deallocate(p, bytes); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
};

// Where each column entry of a chunk reads its pixel: for up to `samples` samples side by side,
// sources[r * samples*P + n*P + p] = n*C*H*W + (the pixel of kernel tap r at output p), or -1 where the tap
// falls on the padding; channel c adds c*H*W. One table per kernel call, shared by every chunk and thread:
// it turns the columns of a chunk into one flat loop per row of s*P entries, where walking the image plane
// by plane runs loops of ow entries, 2 to 16 in Table 3's layers, and spent twice the time (perf, the conv
// exact penalty: 21% of the step in the plane walk, 11% in this loop).
struct ColumnSources {
  Scratch table;
  ColumnSources(Backend& be, const ConvGeometry& g, int64_t samples);
  const int32_t* data() const { return static_cast<const int32_t*>(table.p); }
};

int64_t column_source_count(const ConvGeometry& g, int64_t samples) {
  return g.kernel_h * g.kernel_w * samples * g.out_h() * g.out_w();
}

ColumnSources::ColumnSources(Backend& be, const ConvGeometry& g, int64_t samples)
    : table(be, size_t(column_source_count(g, samples)) * sizeof(int32_t)) {
  const int64_t oh = g.out_h(), ow = g.out_w(), p = oh * ow, sp = samples * p;
  const int64_t chw = g.channels * g.height * g.width;
  GG_CHECK(samples * chw < (int64_t{1} << 31), "fused convolution: a chunk of " + std::to_string(samples) +
                                                   " samples of " + std::to_string(chw) +
                                                   " values is beyond 32-bit offsets (chunking caps it)");
  int32_t* sources = static_cast<int32_t*>(table.p);
  for (int64_t i = 0; i < g.kernel_h; ++i)
    for (int64_t j = 0; j < g.kernel_w; ++j)
      for (int64_t n = 0; n < samples; ++n)
        for (int64_t oy = 0; oy < oh; ++oy)
          for (int64_t ox = 0; ox < ow; ++ox) {
            const int64_t y = oy * g.stride - g.padding + i, x = ox * g.stride - g.padding + j;
            const bool inside = y >= 0 && y < g.height && x >= 0 && x < g.width;
            sources[(i * g.kernel_w + j) * sp + n * p + oy * ow + ox] =
                inside ? int32_t(n * chw + y * g.width + x) : -1;
          }
}

// The columns of samples [0, s) of `img` side by side, cols[c*kh*kw + r, n*P + p] (row stride s*P), through
// a table of ColumnSources for `table_samples` >= s samples.
// Both walk the samples a group at a time, the group's planes within kSampleGroupBytes, so that the pixels
// they read or add into stay in L1: one sample's planes lie C*H*W apart, a multiple of 4 KB in Table 3's
// net, so a tap walked across a whole chunk of samples hit one cache set again and again. Timed alone for
// 2048 samples in one thread, the last layer's (128 planes of 4 x 4) col2im took 29 ms so against 5.5 ms
// by groups, its im2col 6.0 ms against 4.0, and the other layers' im2col 25-30% less.
constexpr int64_t kSampleGroupBytes = int64_t{16} << 10;

template <class T>
int64_t sample_group(const ConvGeometry& g) {
  return std::max<int64_t>(
      1, kSampleGroupBytes / std::max<int64_t>(1, g.channels * g.height * g.width * int64_t(sizeof(T))));
}

template <class T>
void gather_columns(const ConvGeometry& g, const int32_t* sources, int64_t table_samples, const T* img,
                    T* cols, int64_t s) {
  const int64_t kk = g.kernel_h * g.kernel_w, p = g.out_h() * g.out_w(), sp = s * p, hw = g.height * g.width;
  const int64_t group = sample_group<T>(g);
  for (int64_t n0 = 0; n0 < s; n0 += group) {
    const int64_t first = n0 * p, last = std::min(s, n0 + group) * p;
    for (int64_t c = 0; c < g.channels; ++c) {
      const T* plane = img + c * hw;
      for (int64_t r = 0; r < kk; ++r) {
        const int32_t* from = sources + r * table_samples * p;
        T* out = cols + (c * kk + r) * sp;
        for (int64_t e = first; e < last; ++e) out[e] = from[e] >= 0 ? plane[from[e]] : T(0);
      }
    }
  }
}

// Its transpose: the columns summed back into the s samples' planes, zeroed first. Each pixel's entries are
// added in tap order, as col2im adds them.

template <class T>
void scatter_columns(const ConvGeometry& g, const int32_t* sources, int64_t table_samples, const T* cols,
                     T* img, int64_t s) {
  const int64_t kk = g.kernel_h * g.kernel_w, p = g.out_h() * g.out_w(), sp = s * p, hw = g.height * g.width;
  const int64_t group = sample_group<T>(g);
  std::fill(img, img + s * g.channels * hw, T(0));
  for (int64_t n0 = 0; n0 < s; n0 += group) {
    const int64_t first = n0 * p, last = std::min(s, n0 + group) * p;
    for (int64_t c = 0; c < g.channels; ++c) {
      T* plane = img + c * hw;
      for (int64_t r = 0; r < kk; ++r) {
        const int32_t* to = sources + r * table_samples * p;
        const T* in = cols + (c * kk + r) * sp;
        for (int64_t e = first; e < last; ++e)
          if (to[e] >= 0) plane[to[e]] += in[e];
      }
    }
  }
}

// [s, rows, P] <-> [rows, s*P]: samples of the output side as one matrix with the samples side by side
// (its rows `ld` apart, ld >= s*P).
template <class T>
void to_side_by_side(const T* per_sample, T* side, int64_t s, int64_t rows, int64_t p, int64_t ld) {
  for (int64_t n = 0; n < s; ++n)
    for (int64_t r = 0; r < rows; ++r)
      std::memcpy(side + r * ld + n * p, per_sample + (n * rows + r) * p, p * sizeof(T));
}
template <class T>
void from_side_by_side(const T* side, T* per_sample, int64_t s, int64_t rows, int64_t p, int64_t ld) {
  for (int64_t n = 0; n < s; ++n)
    for (int64_t r = 0; r < rows; ++r)
      std::memcpy(per_sample + (n * rows + r) * p, side + r * ld + n * p, p * sizeof(T));
}

// ---- Fused convolutions ---------------------------------------------------------------------------------
// The columns of one chunk take about kChunkBytes (L2-sized), and there are at least kChunksPerThread chunks
// per thread over the whole batch, so that the threads balance under the dynamic schedule. "Per thread" is
// per thread that work is cut for (omp_get_max_threads()), not per thread that runs it (parallel_threads):
// a chunk's samples are one matrix product whose width changes its rounding, and the weight's gradient sums
// the chunks' products, so fewer threads under load run the same chunks and get the same bits
// (tests/test_thread_invariance.cpp).
constexpr int64_t kChunkBytes = int64_t{1} << 20;
constexpr int64_t kChunksPerThread = 2;

struct Chunking {
  int64_t samples;    // per chunk (the last chunk of an entry may have fewer)
  int64_t per_entry;  // chunks per lead entry
};

// Samples per chunk: columns of about kChunkBytes, at least kChunksPerThread chunks per thread over the
// whole batch, and pixel offsets within a chunk that fit the 32-bit table of ColumnSources. 0 when one
// sample's image alone is beyond 32-bit offsets (the caller falls back to the composite).
Chunking chunking(const ConvBatch& b, size_t elem) {
  const ConvGeometry& g = b.g;
  const int64_t chw = g.channels * g.height * g.width, max_offset = (int64_t{1} << 31) - 1;
  if (chw > max_offset) return {0, 0};
  const int64_t per_sample = g.channels * g.kernel_h * g.kernel_w * g.out_h() * g.out_w() * int64_t(elem);
  int64_t s = std::clamp<int64_t>(kChunkBytes / std::max<int64_t>(per_sample, 1), 1, g.batch);
  const int64_t threads = omp_get_max_threads();
  const int64_t wanted = (threads * kChunksPerThread + b.lead - 1) / b.lead;  // chunks per entry
  s = std::max<int64_t>(1, std::min({s, (g.batch + wanted - 1) / wanted, max_offset / chw}));
  return {s, (g.batch + s - 1) / s};
}

// Runs f(entry, chunk, thread) over every (lead entry, chunk) pair, the threads taking pairs as they finish;
// `flops` is the work of all of them (parallel_tasks).
template <class F>
void for_each_chunk(int64_t entries, int64_t chunks, double flops, F&& f) {
  parallel_tasks(entries * chunks, flops,
                 [&](int64_t t, int64_t thread) { f(t / chunks, t % chunks, thread); });
}

// What the three kernels share: the sizes, the chunking, each thread's scratch for one chunk's columns
// [R, s*P] and its output side by side [O, s*P], and the table of column sources. `ok` is false when the
// chunking cannot fit one sample's offsets in 32 bits (the caller then falls back to the composite).
template <class T>
struct Chunked {
  const ConvBatch& b;
  const ConvGeometry& g = b.g;
  const int64_t o = b.out_channels, r = g.channels * g.kernel_h * g.kernel_w, p = g.out_h() * g.out_w();
  const int64_t chw = g.channels * g.height * g.width;
  const Chunking ch;
  const bool ok = ch.samples > 0;
  const int64_t per_thread = (r + o) * ch.samples * p;
  Scratch scratch;
  ColumnSources sources;

  Chunked(Backend& be, const ConvBatch& batch)
      : b(batch),
        ch(chunking(batch, sizeof(T))),
        scratch(be, ok ? size_t(omp_get_max_threads() * per_thread) * sizeof(T) : 0),
        sources(be, g, ok ? ch.samples : 0) {}
  T* columns(int64_t thread) const { return static_cast<T*>(scratch.p) + thread * per_thread; }
  T* side(int64_t thread) const { return columns(thread) + r * ch.samples * p; }
  // The work of one product per sample of every lead entry ([O, R] by [R, P]).
  double product_flops() const { return 2.0 * double(o) * double(r) * double(p) * double(g.batch * b.lead); }
  // Samples [first, first + count) of chunk c.
  int64_t first(int64_t c) const { return c * ch.samples; }
  int64_t count(int64_t c) const { return std::min(ch.samples, g.batch - first(c)); }
};

// The columns of chunk c of lead entry l of the image side x, into k.columns(thread).
template <class T>
void gather_chunk(const Chunked<T>& k, const ConvBatch& b, const T* x, int64_t l, int64_t c, int64_t thread) {
  gather_columns(k.g, k.sources.data(), k.ch.samples, x + l * b.x_stride + k.first(c) * k.chw, k.columns(thread),
                 k.count(c));
}

// Chunk c of lead entry l of the output side y = w @ the chunk's columns (already in k.columns(thread));
// k.side(thread) is overwritten.
template <class T>
void chunk_product(const Chunked<T>& k, const ConvBatch& b, const T* w, T* y, int64_t l, int64_t c,
                   int64_t thread) {
  const int64_t o = k.o, r = k.r, p = k.p, s = k.count(c);
  T* yc = y + l * b.y_stride + k.first(c) * o * p;
  T* out = s == 1 ? yc : k.side(thread);
  gemm_strided<T>(w + l * b.w_stride, k.columns(thread), out, o, s * p, r, false, false, r, s * p, s * p, T(0));
  if (s > 1) from_side_by_side(out, yc, s, o, p, s * p);
}

template <class T>
bool conv2d_kernel(Backend& be, const ConvBatch& b, const T* x, const T* w, T* y) {
  const Chunked<T> k(be, b);
  if (!k.ok) return false;
  for_each_chunk(b.lead, k.ch.per_entry, k.product_flops(), [&](int64_t l, int64_t c, int64_t thread) {
    gather_chunk(k, b, x, l, c, thread);
    chunk_product(k, b, w, y, l, c, thread);
  });
  return true;
}

template <class T>
bool conv_transpose2d_kernel(Backend& be, const ConvBatch& b, const T* y, const T* w, T* x) {
  const Chunked<T> k(be, b);
  if (!k.ok) return false;
  const int64_t o = k.o, r = k.r, p = k.p;
  for_each_chunk(b.lead, k.ch.per_entry, k.product_flops(), [&](int64_t l, int64_t c, int64_t thread) {
    const int64_t n0 = k.first(c), s = k.count(c);
    T* cols = k.columns(thread);
    const T* yc = y + l * b.y_stride + n0 * o * p;
    if (s > 1) to_side_by_side(yc, k.side(thread), s, o, p, s * p);
    gemm_strided<T>(w + l * b.w_stride, s == 1 ? yc : k.side(thread), cols, r, s * p, o, true, false, r,
                    s * p, s * p, T(0));
    scatter_columns(k.g, k.sources.data(), k.ch.samples, cols, x + l * b.x_stride + n0 * k.chw, s);
  });
  return true;
}

// Below this many bytes of columns for a whole lead entry, the weight's gradient is one product over the
// whole batch, the same product the composite computed before these kernels (so training gives the same
// bits, tests/test_cpu_reference.cpp); above it, a sum over chunks.
constexpr int64_t kWholeBatchColumnBytes = int64_t{16} << 20;

template <class T>
bool whole_batch_weight_grad(const ConvBatch& b) {
  const ConvGeometry& g = b.g;
  return b.lead == 1 &&
         g.channels * g.kernel_h * g.kernel_w * g.batch * g.out_h() * g.out_w() * int64_t(sizeof(T)) <=
             kWholeBatchColumnBytes;
}

// The weight's gradient over chunks: chunks are summed in a fixed order within each of `groups` runs per
// entry, and the runs' partial sums in run order after: the same numbers whichever thread takes which
// run, and however many run them. `chunk(l, c, thread, acc, beta)` adds chunk c of entry l into acc
// (beta 0: the run's first chunk overwrites it); `flops` is the work of all chunks. Work that may run on a
// held core (plan_region) is cut into kFineRunsPerThread runs per thread rather than kChunksPerThread, for
// the reason gemm_pieces cuts large products finer (matmul.cpp).
constexpr int64_t kFineRunsPerThread = 8;

template <class T, class Chunk>
void weight_grad_over_runs(Backend& be, const ConvBatch& b, const Chunked<T>& k, T* w, double flops,
                           Chunk&& chunk) {
  const int64_t o = b.out_channels, r = k.r;
  const int64_t threads = omp_get_max_threads();  // that work is cut for
  const int64_t per_thread = flops >= kHeldCoreRegionFlops ? kFineRunsPerThread : kChunksPerThread;
  const int64_t per_entry = k.ch.per_entry;
  const int64_t groups = std::min(per_entry, std::max<int64_t>(1, (threads * per_thread) / b.lead));
  Scratch partial(be, groups > 1 ? size_t(b.lead * groups * o * r) * sizeof(T) : 0);
  for_each_chunk(b.lead, groups, flops, [&](int64_t l, int64_t run, int64_t thread) {
    T* acc = groups == 1 ? w + l * b.w_stride : static_cast<T*>(partial.p) + (l * groups + run) * o * r;
    const int64_t c0 = per_entry * run / groups, c1 = per_entry * (run + 1) / groups;
    for (int64_t c = c0; c < c1; ++c) chunk(l, c, thread, acc, c == c0 ? T(0) : T(1));
  });
  if (groups == 1) return;
  const T* parts = static_cast<const T*>(partial.p);
  parallel_for(
      b.lead * o * r,
      [&](int64_t eb, int64_t ee) {
        for (int64_t e = eb; e < ee; ++e) {
          const int64_t l = e / (o * r), i = e % (o * r);
          T sum = parts[l * groups * o * r + i];
          for (int64_t run = 1; run < groups; ++run) sum += parts[(l * groups + run) * o * r + i];
          w[l * b.w_stride + i] = sum;
        }
      },
      kMemoryBoundGrain);
}

// One chunk's share of the weight's gradient: acc = beta acc + dy_chunk @ cols^T, with the chunk's columns
// already in k.columns(thread); k.side(thread) is overwritten.
template <class T>
void add_chunk_weight_grad(const ConvBatch& b, const Chunked<T>& k, const T* dy, int64_t l, int64_t c,
                           int64_t thread, T* acc, T beta) {
  const int64_t o = b.out_channels, p = k.p, n0 = k.first(c), s = k.count(c);
  to_side_by_side(dy + l * b.y_stride + n0 * o * p, k.side(thread), s, o, p, s * p);
  gemm_strided<T>(k.side(thread), k.columns(thread), acc, o, k.r, s * p, false, true, s * p, s * p, k.r,
                  beta);
}

template <class T>
bool conv2d_weight_grad_kernel(Backend& be, const ConvBatch& b, const T* y, const T* x, T* w) {
  const ConvGeometry& g = b.g;
  const int64_t o = b.out_channels, r = g.channels * g.kernel_h * g.kernel_w, p = g.out_h() * g.out_w();
  const int64_t hw = g.height * g.width, kk = g.kernel_h * g.kernel_w;
  if (whole_batch_weight_grad<T>(b)) {
    const int64_t np = g.batch * p;
    Scratch scratch(be, size_t((r + o) * np) * sizeof(T));
    T* cols = static_cast<T*>(scratch.p);
    T* side = cols + r * np;
    parallel_for_balanced(
        g.batch * g.channels,
        [&](int64_t pb, int64_t pe) {
          for (int64_t plane = pb; plane < pe; ++plane) {
            const int64_t n = plane / g.channels, c = plane % g.channels;
            plane_columns<T, true>(g, const_cast<T*>(x + plane * hw), cols + c * kk * np + n * p, np);
            if (c == 0) to_side_by_side(y + n * o * p, side + n * p, 1, o, p, np);
          }
        },
        std::max<int64_t>(1, kParallelGrain / (kk * p)));
    gemm<T>(side, cols, w, o, r, np, false, true);
    return true;
  }
  const Chunked<T> k(be, b);
  if (!k.ok) return false;
  weight_grad_over_runs<T>(be, b, k, w, k.product_flops(),
                           [&](int64_t l, int64_t c, int64_t thread, T* acc, T beta) {
                             gather_chunk(k, b, x, l, c, thread);
                             add_chunk_weight_grad(b, k, y, l, c, thread, acc, beta);
                           });
  return true;
}

// Each chunk's columns feed both products, the weight's gradient first (it reads the chunk's dy), then
// conv2d_kernel's product for y (which may overwrite that chunk of dy), in the chunks and runs of
// conv2d_weight_grad_kernel, so both come out with the two kernels' bits. Declined where the weight's
// gradient would be one product over the whole batch.
template <class T>
bool conv2d_with_weight_grad_kernel(Backend& be, const ConvBatch& b, const T* x, const T* w, const T* dy,
                                    T* y, T* dw) {
  if (b.lead != 1 || b.w_stride != 0 || whole_batch_weight_grad<T>(b)) return false;
  const Chunked<T> k(be, b);
  if (!k.ok) return false;
  weight_grad_over_runs<T>(be, b, k, dw, 2 * k.product_flops(),
                           [&](int64_t l, int64_t c, int64_t thread, T* acc, T beta) {
                             gather_chunk(k, b, x, l, c, thread);
                             add_chunk_weight_grad(b, k, dy, l, c, thread, acc, beta);
                             chunk_product(k, b, w, y, l, c, thread);
                           });
  return true;
}

}  // namespace

namespace {
// The dtype dispatch of a fused kernel that may decline (returns false).
template <class Run>
bool dispatch_fused(DType t, Run&& run) {
  bool done = false;
  dispatch(t, [&](auto z) { done = run(z); });
  return done;
}
}  // namespace

bool CpuBackend::conv2d(DType t, const ConvBatch& b, const void* x, const void* w, void* y) {
  return dispatch_fused(t, [&](auto z) {
    using T = decltype(z);
    return conv2d_kernel<T>(*this, b, static_cast<const T*>(x), static_cast<const T*>(w), static_cast<T*>(y));
  });
}

bool CpuBackend::conv_transpose2d(DType t, const ConvBatch& b, const void* y, const void* w, void* x) {
  return dispatch_fused(t, [&](auto z) {
    using T = decltype(z);
    return conv_transpose2d_kernel<T>(*this, b, static_cast<const T*>(y), static_cast<const T*>(w),
                                      static_cast<T*>(x));
  });
}

bool CpuBackend::conv2d_weight_grad(DType t, const ConvBatch& b, const void* y, const void* x, void* w) {
  return dispatch_fused(t, [&](auto z) {
    using T = decltype(z);
    return conv2d_weight_grad_kernel<T>(*this, b, static_cast<const T*>(y), static_cast<const T*>(x),
                                        static_cast<T*>(w));
  });
}

bool CpuBackend::conv2d_with_weight_grad(DType t, const ConvBatch& b, const void* x, const void* w,
                                         const void* dy, void* y, void* dw) {
  return dispatch_fused(t, [&](auto z) {
    using T = decltype(z);
    return conv2d_with_weight_grad_kernel<T>(*this, b, static_cast<const T*>(x), static_cast<const T*>(w),
                                             static_cast<const T*>(dy), static_cast<T*>(y),
                                             static_cast<T*>(dw));
  });
}

void CpuBackend::im2col(DType t, const ConvGeometry& g, const void* x, void* cols) {
  dispatch(t, [&](auto z) {
    using T = decltype(z);
    columns_kernel<T, true>(g, const_cast<T*>(static_cast<const T*>(x)), static_cast<T*>(cols));
  });
}

void CpuBackend::col2im(DType t, const ConvGeometry& g, const void* cols, void* x) {
  dispatch(t, [&](auto z) {
    using T = decltype(z);
    columns_kernel<T, false>(g, static_cast<T*>(x), const_cast<T*>(static_cast<const T*>(cols)));
  });
}

}  // namespace gg::cpu
