// The host-side logic of the CUDA backend, checked without a GPU (in every build with the backend): the
// cuBLAS plan (gemm_plan.h), each planned call run through a column-major reference GEMM with cuBLAS's
// argument conventions, must give the CPU's product (operand swap, leading dimensions, the tall-product
// fold, strided batches, the per-matrix fallback); the strided index of every strided kernel
// (strided_index.h) and the im2col/col2im element formulas (conv_index.h) run on the host against the CPU.
#ifdef GG_WITH_CUDA

#include "engine/backend/cuda/conv_index.h"
#include "engine/backend/cuda/gemm_plan.h"
#include "engine/backend/cuda/strided_index.h"
#include "tests/device_helpers.h"
#include "tests/helpers.h"

using namespace gg;

namespace {

// cublasDgemmStridedBatched's semantics: for each i < count, C_i = op(F_i) op(S_i), every matrix column-
// major with its leading dimension (X(r, c) at X[r + c * ld]).
void reference_gemm(const cuda::GemmCall& c, const double* a, const double* b, double* out) {
  for (int64_t i = 0; i < c.count; ++i) {
    const double* f = b + c.offset_b + i * c.stride_first;
    const double* s = a + c.offset_a + i * c.stride_second;
    double* dst = out + c.offset_c + i * c.stride_c;
    for (int64_t row = 0; row < c.m; ++row)
      for (int64_t col = 0; col < c.n; ++col) {
        double acc = 0;
        for (int64_t p = 0; p < c.k; ++p) {
          const double fv = c.trans_first ? f[p + row * c.ld_first] : f[row + p * c.ld_first];
          const double sv = c.trans_second ? s[col + p * c.ld_second] : s[p + col * c.ld_second];
          acc += fv * sv;
        }
        dst[row + col * c.ldc] = acc;
      }
  }
}

// The geometry engine/ops/matmul.cpp builds for a (..., m, k) @ b (..., k, n) with the flags.
MatmulGeometry geometry(const Shape& a, const Shape& b, bool ta, bool tb) {
  MatmulGeometry g;
  g.m = ta ? a.end()[-1] : a.end()[-2];
  g.k = ta ? a.end()[-2] : a.end()[-1];
  g.n = tb ? b.end()[-2] : b.end()[-1];
  const Shape a_batch(a.begin(), a.end() - 2), b_batch(b.begin(), b.end() - 2);
  g.batch = broadcast_shapes(a_batch, b_batch, "matmul");
  g.a_strides = broadcast_strides(a_batch, g.batch);
  g.b_strides = broadcast_strides(b_batch, g.batch);
  for (auto& s : g.a_strides) s *= g.m * g.k;
  for (auto& s : g.b_strides) s *= g.k * g.n;
  g.trans_a = ta, g.trans_b = tb;
  return g;
}

}  // namespace

TEST_CASE("cuda gemm plan: every planned cuBLAS call, run by a column-major reference, gives the CPU's product") {
  struct Case {
    Shape a, b;
    bool ta, tb;
    size_t calls;  // how many cuBLAS calls the plan should make
  };
  const std::vector<Case> cases = {
      {{3, 4}, {4, 5}, false, false, 1},       {{4, 3}, {4, 5}, true, false, 1},
      {{3, 4}, {5, 4}, false, true, 1},        {{4, 3}, {5, 4}, true, true, 1},
      {{4, 3, 5}, {5, 6}, false, false, 1},    // tall product
      {{4, 5, 3}, {6, 5}, true, true, 1},      // strided batch, B's stride 0
      {{4, 3, 5}, {4, 5, 6}, false, true, 1},  // strided batch (B^T read with its own leading dimension)
      {{3, 5}, {4, 5, 6}, false, false, 1},    // A's stride 0
      {{2, 3, 3, 4}, {2, 3, 4, 2}, false, false, 1},  // two batch axes that collapse
      {{2, 1, 3, 4}, {3, 4, 2}, false, false, 6},     // broadcast batches that do not: one call per matrix
      {{1, 3, 4}, {4, 5}, false, false, 1},
  };
  for (const Case& c : cases) {
    const std::string what = shape_str(c.a) + (c.ta ? "^T" : "") + " @ " + shape_str(c.b) + (c.tb ? "^T" : "");
    CAPTURE(what);
    const MatmulGeometry g = geometry(c.a, c.b, c.ta, c.tb);
    const Tensor a = test::input(c.a, 1).detach(), b = test::input(c.b, 2).detach();
    Shape out_shape = g.batch;
    out_shape.push_back(g.m);
    out_shape.push_back(g.n);
    Tensor want = Tensor::empty(out_shape, DType::f64), got = Tensor::full(out_shape, NAN, DType::f64);
    backend_for(Device::cpu()).matmul(DType::f64, g, a.raw(), b.raw(), want.raw());
    const std::vector<cuda::GemmCall> calls = cuda::plan_gemm(g);
    CHECK(calls.size() == c.calls);
    for (const cuda::GemmCall& call : calls) {
      // cuBLAS's own argument checks: each leading dimension covers its stored matrix's rows.
      CHECK(call.ld_first >= std::max<int64_t>(1, call.trans_first ? call.k : call.m));
      CHECK(call.ld_second >= std::max<int64_t>(1, call.trans_second ? call.n : call.k));
      CHECK(call.ldc >= std::max<int64_t>(1, call.m));
      reference_gemm(call, static_cast<const double*>(a.raw()), static_cast<const double*>(b.raw()),
                     static_cast<double*>(got.raw()));
    }
    test::check_near(got, want, 1e-12, 1e-12, what);
  }
}

TEST_CASE("cuda strided index: merged axes address what the CPU's strided copy reads and writes") {
  // A permuted read (no merging), a broadcast read (zero strides merge with their neighbours), a slice.
  struct Case {
    Shape shape, src;
    int rank;  // after merging
  };
  const Shape x_shape{2, 3, 4, 5};
  const std::vector<Case> cases = {
      {{5, 4, 3, 2}, {1, 5, 20, 60}, 4},   // reversed axes
      {{2, 3, 4, 5}, {60, 20, 5, 1}, 1},   // contiguous: one axis
      {{2, 3, 4, 5}, {60, 0, 0, 1}, 3},    // broadcast middle axes merge into one
      {{2, 1, 2, 5}, {60, 20, 10, 1}, 3},  // a slice with step 2 over axis 2, size-1 axis dropped
      {{}, {}, 0},
  };
  const Tensor x = test::input(x_shape, 3).detach();
  for (const Case& c : cases) {
    CAPTURE(shape_str(c.shape));
    const Shape dst = contiguous_strides(c.shape);
    const cuda::StridedIndex<2> ix = cuda::strided_index<2>("test", c.shape, {&c.src, &dst});
    CHECK(ix.rank == c.rank);
    Tensor want = Tensor::empty(c.shape, DType::f64), got = Tensor::full(c.shape, NAN, DType::f64);
    backend_for(Device::cpu()).copy_strided(DType::f64, c.shape, x.raw(), c.src, want.raw(), dst);
    const double* xs = static_cast<const double*>(x.raw());
    double* out = static_cast<double*>(got.raw());
    for (int64_t i = 0; i < shape_numel(c.shape); ++i) {
      int64_t off[2];
      ix.offsets(i, off);
      out[off[1]] = xs[off[0]];
    }
    test::check_near(got, want, 0, 0, "strided copy " + shape_str(c.shape));
  }
  const Shape ten(10, 2), reversed = {512, 256, 128, 64, 32, 16, 8, 4, 2, 1};
  Shape backwards(reversed.rbegin(), reversed.rend());
  CHECK_THROWS_WITH_AS(cuda::strided_index<1>("copy_strided", ten, {&backwards}),
                       doctest::Contains("more than 8 axes"), Error);
}

TEST_CASE("cuda reduce rows: output o reduces the elements the CPU's sum gives it") {
  const Shape shape{3, 4, 5, 6};
  const Tensor x = test::input(shape, 6).detach();
  const double* xs = static_cast<const double*>(x.raw());
  for (const std::vector<bool>& reduced : std::vector<std::vector<bool>>{{false, false, false, false},
                                                                          {true, false, false, false},
                                                                          {false, true, false, true},
                                                                          {true, false, true, false},
                                                                          {false, false, false, true},
                                                                          {true, true, true, true}}) {
    Shape out_shape = shape;
    for (size_t i = 0; i < shape.size(); ++i)
      if (reduced[i]) out_shape[i] = 1;
    Tensor want = Tensor::empty(out_shape, DType::f64), got = Tensor::empty(out_shape, DType::f64);
    backend_for(Device::cpu()).reduce(ReduceOp::sum, DType::f64, shape, reduced, x.raw(), want.raw());
    const cuda::ReduceRows rows = cuda::reduce_rows_of(shape, reduced);
    REQUIRE(rows.outputs == want.numel());
    for (int64_t o = 0; o < rows.outputs; ++o) {
      int64_t base[1], off[1];
      rows.kept.offsets(o, base);
      double acc = 0;
      for (int64_t r = 0; r < rows.row; ++r) {
        rows.red.offsets(r, off);
        acc += xs[base[0] + off[0]];
      }
      static_cast<double*>(got.raw())[o] = acc;
    }
    test::check_near(got, want, 1e-12, 1e-12, "reduce rows of " + shape_str(out_shape));
  }
}

TEST_CASE("cuda conv formulas: im2col and col2im element by element equal the CPU's, col2im bit for bit") {
  for (auto [k, s, p] : {std::tuple{3, 1, 1}, {3, 2, 1}, {2, 2, 0}, {5, 3, 2}, {1, 1, 0}}) {
    const std::string what = "k" + std::to_string(k) + " s" + std::to_string(s) + " p" + std::to_string(p);
    const ConvGeometry g{2, 3, 7, 6, k, k, s, p};
    const cuda::Conv c = cuda::conv_of(g);
    const Tensor x = test::input({2, 3, 7, 6}, 4).detach();
    const Shape cols_shape{2, 3 * k * k, g.out_h() * g.out_w()};
    Tensor want = Tensor::empty(cols_shape, DType::f64), got = Tensor::empty(cols_shape, DType::f64);
    backend_for(Device::cpu()).im2col(DType::f64, g, x.raw(), want.raw());
    for (int64_t e = 0; e < want.numel(); ++e)
      static_cast<double*>(got.raw())[e] = cuda::im2col_at(c, e, static_cast<const double*>(x.raw()));
    test::check_near(got, want, 0, 0, "im2col " + what);

    const Tensor cols = test::input(cols_shape, 5).detach();
    Tensor img_want = Tensor::empty(x.shape(), DType::f64), img_got = Tensor::empty(x.shape(), DType::f64);
    backend_for(Device::cpu()).col2im(DType::f64, g, cols.raw(), img_want.raw());
    for (int64_t e = 0; e < img_want.numel(); ++e)
      static_cast<double*>(img_got.raw())[e] = cuda::col2im_at(c, e, static_cast<const double*>(cols.raw()));
    test::check_near(img_got, img_want, 0, 0, "col2im " + what);
  }
}

#endif  // GG_WITH_CUDA
