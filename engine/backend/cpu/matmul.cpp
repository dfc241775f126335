// The CPU's matrix products (OpenBLAS's cblas_?gemm when the build finds it, which sets EIGEN_USE_BLAS on
// this file; Eigen's own kernels otherwise).
#include "engine/backend/cpu/cpu_backend.h"
#include "engine/backend/cpu/gemm.h"
#include "engine/backend/cpu/loops.h"

#include <type_traits>

#ifdef EIGEN_USE_BLAS
#include <cblas.h>
#endif

namespace gg::cpu {

namespace {

template <class T>
using MatrixR = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// ---- Matrix multiply ----------------------------------------------------------------------------------
#ifdef EIGEN_USE_BLAS
// One row-major cblas_?gemm, C = op(A) op(B) + beta C, on the thread that calls it alone. OpenBLAS's OpenMP
// build would otherwise split a call made outside a parallel region across omp_get_max_threads() threads,
// and where it cuts C changes the rounding (a product cut in four along its rows differs from the uncut one
// in about 3% of its f32 entries), so the result would depend on the thread count. Our own pieces
// (gemm_pieces) are what runs in parallel.
template <class T>
void blas_gemm(const T* a, const T* b, T* c, int64_t m, int64_t n, int64_t k, bool ta, bool tb, int64_t lda,
               int64_t ldb, int64_t ldc, T beta = 0) {
  const int team = omp_in_parallel() ? 1 : omp_get_max_threads();
  if (team > 1) omp_set_num_threads(1);  // this thread's setting for the call, restored below
  const CBLAS_TRANSPOSE op_a = ta ? CblasTrans : CblasNoTrans, op_b = tb ? CblasTrans : CblasNoTrans;
  if constexpr (std::is_same_v<T, float>)
    cblas_sgemm(CblasRowMajor, op_a, op_b, blasint(m), blasint(n), blasint(k), 1.0f, a, blasint(lda), b,
                blasint(ldb), beta, c, blasint(ldc));
  else
    cblas_dgemm(CblasRowMajor, op_a, op_b, blasint(m), blasint(n), blasint(k), 1.0, a, blasint(lda), b,
                blasint(ldb), beta, c, blasint(ldc));
  if (team > 1) omp_set_num_threads(team);
}

// How many pieces a large product is cut into, handed to the threads first come first served (1: none).
//
// Why pieces: OpenBLAS splits a product across its threads in equal static shares, so when another process
// holds one core, the whole product waits for the share on that core: with one core held by a spinning
// process, products of the conv net's shapes took 2-8x their quiet time, where pieces take 1.7-1.9x (a
// thread that wakes late finds the pieces taken). Each piece is one single-threaded BLAS call, cut along the
// longer of C's two sides, so what every piece packs again is the smaller operand.
//
// The count depends on the sizes and the thread count work is cut for (omp_get_max_threads(), which --threads
// sets), never on how many threads run the pieces (parallel_threads), because where C is cut changes its
// rounding: fewer threads under load run the same pieces and get the same bits. Two pieces per thread, each
// at least kGemmPieceSide rows or columns and kGemmPieceFlops of work, cost nothing measurable on a quiet
// machine; four per thread, whose pieces were narrower, cost up to 1.4x on some shapes. The count is a
// multiple of the threads where it reaches them, so a quiet machine splits evenly.
//
// A product long enough for pieces of kGemmFinePieceSide rows or columns and kGemmFinePieceFlops each is cut
// finer, up to kGemmFinePiecesPerThread per thread: where another process holds a core, such a product runs
// on every thread (loops.h, plan_region), and the thread on the held core, which gets half of it, must find
// small pieces to take for the threads to finish together. Timed alone on a quiet machine, 16384 x 784 x 512
// took the same 38 ms in 4 pieces as in 16, and 16384 x 512 x 128 6.6 ms against 6.7.
constexpr int64_t kGemmPieceSide = 128;
constexpr double kGemmPieceFlops = 4e6;
constexpr int64_t kGemmPiecesPerThread = 2;
constexpr int64_t kGemmFinePieceSide = 512;
constexpr double kGemmFinePieceFlops = 1e8;
constexpr int64_t kGemmFinePiecesPerThread = 8;

int64_t gemm_pieces(int64_t m, int64_t n, int64_t k) {
  const int64_t threads = omp_get_max_threads();
  const double flops = 2.0 * double(m) * double(n) * double(k);
  const int64_t by_side = std::max(m, n) / kGemmPieceSide, by_work = int64_t(flops / kGemmPieceFlops);
  const int64_t fine = std::min({threads * kGemmFinePiecesPerThread, std::max(m, n) / kGemmFinePieceSide,
                                 int64_t(flops / kGemmFinePieceFlops)});
  const int64_t pieces =
      std::max<int64_t>({1, fine, std::min({threads * kGemmPiecesPerThread, by_side, by_work})});
  return pieces >= threads ? pieces - pieces % threads : pieces;
}
#endif

}  // namespace

template <class T>
void gemm(const T* a, const T* b, T* c, int64_t m, int64_t n, int64_t k, bool ta, bool tb) {
#ifdef EIGEN_USE_BLAS
  // Straight to the BLAS with beta = 0: Eigen's binding of `C = A * B` zeroes C first and then accumulates
  // into it (beta = 1), one wasted pass over C per product. Tiny products stay with Eigen, which computes
  // them inline (its own threshold for that, m + n + k < 20), cheaper than a BLAS call.
  if (m + n + k >= 20) {
    const int64_t lda = ta ? m : k, ldb = tb ? k : n;
    const int64_t pieces = gemm_pieces(m, n, k);
    if (pieces == 1) {
      blas_gemm<T>(a, b, c, m, n, k, ta, tb, lda, ldb, n);
      return;
    }
    const bool by_rows = m >= n;  // rows of C (and of op(A)), else columns of C (and of op(B))
    const int64_t side = by_rows ? m : n;
    parallel_tasks(pieces, 2.0 * double(m) * double(n) * double(k), [&](int64_t p, int64_t) {
      const int64_t lo = side * p / pieces, count = side * (p + 1) / pieces - lo;
      if (by_rows)  // op(A)'s rows lo.. start at row lo of A, or at its column lo when A is stored transposed
        blas_gemm<T>(a + (ta ? lo : lo * k), b, c + lo * n, count, n, k, ta, tb, lda, ldb, n);
      else  // op(B)'s columns lo.. start at column lo of B, or at its row lo when B is stored transposed
        blas_gemm<T>(a, b + (tb ? lo * k : lo), c + lo, m, count, k, ta, tb, lda, ldb, n);
    });
    return;
  }
#endif
  Eigen::Map<const MatrixR<T>> A(a, ta ? k : m, ta ? m : k);
  Eigen::Map<const MatrixR<T>> B(b, tb ? n : k, tb ? k : n);
  Eigen::Map<MatrixR<T>> C(c, m, n);
  if (!ta && !tb)
    C.noalias() = A * B;
  else if (ta && !tb)
    C.noalias() = A.transpose() * B;
  else if (!ta && tb)
    C.noalias() = A * B.transpose();
  else
    C.noalias() = A.transpose() * B.transpose();
}

template <class T>
void gemm_strided(const T* a, const T* b, T* c, int64_t m, int64_t n, int64_t k, bool ta, bool tb, int64_t lda,
                  int64_t ldb, int64_t ldc, T beta) {
#ifdef EIGEN_USE_BLAS
  blas_gemm<T>(a, b, c, m, n, k, ta, tb, lda, ldb, ldc, beta);
#else
  using Stride = Eigen::OuterStride<>;
  Eigen::Map<const MatrixR<T>, 0, Stride> A(a, ta ? k : m, ta ? m : k, Stride(lda));
  Eigen::Map<const MatrixR<T>, 0, Stride> B(b, tb ? n : k, tb ? k : n, Stride(ldb));
  Eigen::Map<MatrixR<T>, 0, Stride> C(c, m, n, Stride(ldc));
  if (beta == T(0))
    C.setZero();
  else if (beta != T(1))
    C *= beta;
  if (!ta && !tb)
    C.noalias() += A * B;
  else if (ta && !tb)
    C.noalias() += A.transpose() * B;
  else if (!ta && tb)
    C.noalias() += A * B.transpose();
  else
    C.noalias() += A.transpose() * B.transpose();
#endif
}

template void gemm<float>(const float*, const float*, float*, int64_t, int64_t, int64_t, bool, bool);
template void gemm<double>(const double*, const double*, double*, int64_t, int64_t, int64_t, bool, bool);
template void gemm_strided<float>(const float*, const float*, float*, int64_t, int64_t, int64_t, bool, bool,
                                  int64_t, int64_t, int64_t, float);
template void gemm_strided<double>(const double*, const double*, double*, int64_t, int64_t, int64_t, bool, bool,
                                   int64_t, int64_t, int64_t, double);

namespace {

template <class T>
void matmul_kernel(const MatmulGeometry& g, const T* a, const T* b, T* c) {
  const int64_t batch = shape_numel(g.batch);
  // A batch of row blocks times one shared matrix is a single tall product: fold the batch into the rows.
  bool b_shared = true;
  for (auto s : g.b_strides) b_shared &= s == 0;
  bool a_packed = !g.trans_a;
  Shape packed = contiguous_strides(g.batch);
  for (size_t i = 0; i < g.batch.size() && a_packed; ++i)
    a_packed = g.batch[i] == 1 || g.a_strides[i] == packed[i] * g.m * g.k;
  if (batch == 1 || (b_shared && a_packed)) {
    gemm<T>(a, b, c, g.m * batch, g.n, g.k, g.trans_a, g.trans_b);
    return;
  }
  const int64_t rank = g.batch.size();
  for (int64_t p = 0; p < batch; ++p) {
    int64_t rem = p, ao = 0, bo = 0;
    for (int64_t d = rank - 1; d >= 0; --d) {
      int64_t idx = rem % g.batch[d];
      rem /= g.batch[d];
      ao += idx * g.a_strides[d];
      bo += idx * g.b_strides[d];
    }
    gemm<T>(a + ao, b + bo, c + p * g.m * g.n, g.m, g.n, g.k, g.trans_a, g.trans_b);
  }
}

}  // namespace

void CpuBackend::matmul(DType t, const MatmulGeometry& g, const void* a, const void* b, void* c) {
  dispatch(t, [&](auto z) {
    using T = decltype(z);
    matmul_kernel<T>(g, static_cast<const T*>(a), static_cast<const T*>(b), static_cast<T*>(c));
  });
}

}  // namespace gg::cpu
