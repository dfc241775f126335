// The narrow interface a device implements: an allocator and one kernel entry per primitive family.
// Kernels see raw pointers (already offset to the first element), shapes and strides; they know nothing
// of autograd. Composite ops never reach a backend, so a new backend implements only what is listed here.
//
// The math of each elementwise op is not here but in functors.h, which every backend includes; a backend
// adds only launch, indexing, reductions, matrix products and its allocator. backend.cpp picks the backend
// of a device. The CPU backend is engine/backend/cpu/; the CUDA one (built with GG_WITH_CUDA) is in cuda/.
#pragma once

#include <cstddef>
#include <cstdint>

#include "engine/core.h"

namespace gg {

// The primitive op lists. Each X-macro drives the enum, the printable names (op_name), the op's declaration
// in engine/ops/ops.h and every backend's dispatch, which runs the functor of the same name in functors.h.
// So an elementwise primitive is one line here, one functor in functors.h, its forward and rule in
// engine/ops/ and one row in tests/test_op_table.cpp.
#define GG_UNARY_OPS(X) X(neg) X(exp) X(log) X(sqrt) X(abs) X(tanh) X(sigmoid) X(relu) X(sin) X(cos) X(erf) X(sinh)
#define GG_BINARY_OPS(X) \
  X(add) X(sub) X(mul) X(div) X(pow) X(maximum) X(eq) X(ne) X(lt) X(le) X(gt) X(ge)

#define GG_ENUM_ENTRY(name) name,
enum class UnaryOp : uint8_t { GG_UNARY_OPS(GG_ENUM_ENTRY) };
enum class BinaryOp : uint8_t { GG_BINARY_OPS(GG_ENUM_ENTRY) };
#undef GG_ENUM_ENTRY
enum class ReduceOp : uint8_t { sum, max };
enum class RandomKind : uint8_t { uniform, normal };

// Inline, so that the CUDA backend's plugin (engine/backend/cuda/plugin.cpp) names ops without the engine.
#define GG_NAME(name) #name,
inline constexpr const char* kUnaryOpNames[] = {GG_UNARY_OPS(GG_NAME)};
inline constexpr const char* kBinaryOpNames[] = {GG_BINARY_OPS(GG_NAME)};
#undef GG_NAME
inline const char* op_name(UnaryOp op) { return kUnaryOpNames[static_cast<size_t>(op)]; }
inline const char* op_name(BinaryOp op) { return kBinaryOpNames[static_cast<size_t>(op)]; }
inline bool is_comparison(BinaryOp op) { return op >= BinaryOp::eq; }

// C[b] = op(A[b]) @ op(B[b]) over a broadcast batch; A, B, C row-major; C contiguous.
struct MatmulGeometry {
  Shape batch;                  // the output's batch shape
  Shape a_strides, b_strides;   // per batch axis, in elements (0 where that operand is broadcast)
  int64_t m = 0, n = 0, k = 0;  // C[b] is m x n, the contraction is over k
  bool trans_a = false, trans_b = false;
};

// im2col layout: cols[n, (c*kh + i)*kw + j, oy*ow + ox] = x[n, c, oy*stride - pad + i, ox*stride - pad + j].
struct ConvGeometry {
  int64_t batch, channels, height, width;
  int64_t kernel_h, kernel_w, stride, padding;
  int64_t out_h() const { return (height + 2 * padding - kernel_h) / stride + 1; }
  int64_t out_w() const { return (width + 2 * padding - kernel_w) / stride + 1; }
};

// A batch of convolution problems for the fused kernels below: `lead` entries, each of g.batch samples. The
// image side x is [N, C, H, W], the weight w [O, C, kh, kw] (its columns view [O, R], R = C kh kw), the
// output side y [N, O, Ho, Wo]; each operand's entries lie `*_stride` elements apart, 0 where it is shared
// by every entry.
struct ConvBatch {
  ConvGeometry g;
  int64_t out_channels = 0;
  int64_t lead = 1;
  int64_t x_stride = 0, w_stride = 0, y_stride = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const char* name() const = 0;

  virtual void* allocate(size_t bytes) = 0;
  virtual void deallocate(void* ptr, size_t bytes) = 0;
  // Bytes held by the allocator's cache, bytes handed out now (the live tensors'), and the high-water mark
  // of bytes handed out.
  virtual size_t cached_bytes() const = 0;
  virtual size_t in_use_bytes() const = 0;
  virtual size_t peak_bytes() const = 0;
  virtual void reset_peak_bytes() = 0;

  // Host <-> device copies; on the CPU both are memcpy.
  virtual void copy_from_host(void* dst, const void* src, size_t bytes) = 0;
  virtual void copy_to_host(void* dst, const void* src, size_t bytes) = 0;
  // Waits until every kernel this backend has queued is done: a timer stopped after it measures the work,
  // not the launch. A no-op where kernels run synchronously (the CPU).
  virtual void synchronize() {}

  virtual void fill(DType t, int64_t n, double value, void* out) = 0;
  virtual void cast(DType from, DType to, int64_t n, const void* x, void* y) = 0;
  // dst[i] = src[i] for a multi-index i over `shape`, each side read or written with its own strides.
  virtual void copy_strided(DType t, const Shape& shape, const void* src, const Shape& src_strides, void* dst,
                            const Shape& dst_strides) = 0;

  virtual void unary(UnaryOp op, DType t, int64_t n, const void* x, void* y) = 0;
  // out (contiguous, shape `shape`) = a op b, with a and b read through broadcast strides.
  virtual void binary(BinaryOp op, DType t, const Shape& shape, const void* a, const Shape& a_strides,
                      const void* b, const Shape& b_strides, void* out) = 0;
  virtual void where(DType t, const Shape& shape, const void* cond, const Shape& c_strides, const void* a,
                     const Shape& a_strides, const void* b, const Shape& b_strides, void* out) = 0;
  // out holds x reduced over the axes flagged in `reduced` (kept as size 1, so out is contiguous).
  virtual void reduce(ReduceOp op, DType t, const Shape& shape, const std::vector<bool>& reduced, const void* x,
                      void* out) = 0;
  virtual void matmul(DType t, const MatmulGeometry& g, const void* a, const void* b, void* c) = 0;
  virtual void im2col(DType t, const ConvGeometry& g, const void* x, void* cols) = 0;
  virtual void col2im(DType t, const ConvGeometry& g, const void* cols, void* x) = 0;
  // Counter-based: element i of a draw is a pure function of (seed, offset + i), on every backend.
  virtual void random(RandomKind kind, DType t, int64_t n, uint64_t seed, uint64_t offset, void* out) = 0;

  // Optional fast paths. Each returns false when the backend has no such kernel, and the caller then runs
  // the same update composed of ordinary ops; so a backend that implements none of them still trains.
  //
  // In-place Adam/AdamW step of one contiguous parameter (models/optim.cpp has the composite and the
  // formula): g' = g + wd p unless decoupled; m = b1 m + (1 - b1) g'; v = b2 v + (1 - b2) g'^2;
  // p = (decoupled ? 1 - lr wd : 1) p - (lr / bias1) m / (sqrt(v) / sqrt(bias2) + eps).
  virtual bool adam_update(DType t, int64_t n, void* param, const void* grad, void* m, void* v, double lr,
                           double beta1, double beta2, double eps, double weight_decay, bool decoupled,
                           double bias1, double bias2) {
    return false;
  }
  // y = softmax of each of `rows` contiguous rows of n entries (max, exp, sum and divide in one pass over a
  // row in cache, where the composite in composite.cpp makes six passes over the whole tensor).
  virtual bool softmax_rows(DType t, int64_t rows, int64_t n, const void* x, void* y) { return false; }
  // The convolution and its two transposes without their im2col columns in memory (engine/ops/conv.cpp
  // has the composite of im2col, matmul and col2im that runs otherwise):
  //   conv2d:             y[n] = w @ im2col(x[n])
  //   conv_transpose2d:   x[n] = col2im(w^T @ y[n])            (conv2d's gradient for its input)
  //   conv2d_weight_grad: w = sum over n of y[n] @ im2col(x[n])^T   (conv2d's gradient for its weight)
  // In each, the operand written is the one not read; it is contiguous, with lead entries `*_stride` apart.
  virtual bool conv2d(DType t, const ConvBatch& b, const void* x, const void* w, void* y) { return false; }
  virtual bool conv_transpose2d(DType t, const ConvBatch& b, const void* y, const void* w, void* x) { return false; }
  virtual bool conv2d_weight_grad(DType t, const ConvBatch& b, const void* y, const void* x, void* w) {
    return false;
  }
  // conv2d of x into y and conv2d_weight_grad of (dy, x) into dw, from one im2col of x: the transposed
  // convolution's two gradients, which a double backward takes together at every layer. The same bits as
  // the two kernels; false where the backend does not fuse them (then the caller runs those two). y may be
  // dy itself: each chunk of samples of dy is read before that chunk of y is written.
  virtual bool conv2d_with_weight_grad(DType t, const ConvBatch& b, const void* x, const void* w,
                                       const void* dy, void* y, void* dw) {
    return false;
  }
};

// The kernel entries of Backend as a backend's class declares them: one list, so that an entry added to
// Backend is declared by every backend at once (each defines them by family in its own folder).
#define GG_BACKEND_KERNEL_OVERRIDES                                                                          \
  void fill(DType t, int64_t n, double value, void* out) override;                                           \
  void cast(DType from, DType to, int64_t n, const void* x, void* y) override;                               \
  void copy_strided(DType t, const Shape& shape, const void* src, const Shape& src_strides, void* dst,       \
                    const Shape& dst_strides) override;                                                      \
  void unary(UnaryOp op, DType t, int64_t n, const void* x, void* y) override;                               \
  void binary(BinaryOp op, DType t, const Shape& shape, const void* a, const Shape& a_strides, const void* b, \
              const Shape& b_strides, void* out) override;                                                   \
  void where(DType t, const Shape& shape, const void* cond, const Shape& c_strides, const void* a,          \
             const Shape& a_strides, const void* b, const Shape& b_strides, void* out) override;             \
  bool adam_update(DType t, int64_t n, void* param, const void* grad, void* m, void* v, double lr,          \
                   double beta1, double beta2, double eps, double weight_decay, bool decoupled, double bias1, \
                   double bias2) override;                                                                   \
  void reduce(ReduceOp op, DType t, const Shape& shape, const std::vector<bool>& reduced, const void* x,    \
              void* out) override;                                                                           \
  void matmul(DType t, const MatmulGeometry& g, const void* a, const void* b, void* c) override;             \
  void im2col(DType t, const ConvGeometry& g, const void* x, void* cols) override;                           \
  void col2im(DType t, const ConvGeometry& g, const void* cols, void* x) override;                           \
  void random(RandomKind kind, DType t, int64_t n, uint64_t seed, uint64_t offset, void* out) override;

// The backend for a device; for a device whose backend was not built, an Error naming the device
// ("device cuda:0: gradgrad was built without its CUDA backend").
Backend& backend_for(Device d);
// Whether this build has a backend for the device (backend_for(d) would not throw).
bool has_backend(Device d);
// Whether this build has its CUDA backend and the runtime sees a GPU; when not, `why` (if given) says which
// is missing, in words fit for a test's skip message.
bool cuda_available(std::string* why = nullptr);

}  // namespace gg
