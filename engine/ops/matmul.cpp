// Batched matrix multiply with transpose flags. Its rules are matrix multiplies again, with the flags
// chosen so that no transpose is ever materialised.
#include "engine/ops/op_helpers.h"

namespace gg {

namespace {

// d(op(A) op(B))/dB when B is a single matrix and A is not transposed: the op's batch folds into the
// contraction, one GEMM instead of a batch of products summed afterwards. The `lead` cotangent axes of g
// are separate gradients and stay.
Tensor grad_of_shared_right(const Tensor& a, const Tensor& g, bool trans_b, int64_t lead) {
  const int64_t batch_rank = g.dim() - 2 - lead;
  if (a.dim() == 2) {
    // A is shared by every batch entry too: sum the gradient over the batch first.
    std::vector<int64_t> axes(batch_rank);
    for (int64_t i = 0; i < batch_rank; ++i) axes[i] = lead + i;
    Tensor gs = sum(g, axes);
    return trans_b ? matmul(gs, a, true, false) : matmul(a, gs, true, false);
  }
  Shape want(g.shape().begin() + lead, g.shape().end() - 2);
  want.push_back(a.size(-2));
  want.push_back(a.size(-1));
  Tensor af = reshape(a.shape() == want ? a : expand(a, want), {-1, a.size(-1)});
  Shape gs = detail::with_lead(g, lead, {-1, g.size(-1)});
  Tensor gf = reshape(g, gs);
  return trans_b ? matmul(gf, af, true, false) : matmul(af, gf, true, false);
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b, bool ta, bool tb) {
  detail::check_compatible("matmul", a, b);
  GG_CHECK(a.dim() >= 2 && b.dim() >= 2,
           "matmul: operands need at least 2 axes, got " + shape_str(a.shape()) + " and " + shape_str(b.shape()));
  const int64_t m = ta ? a.size(-1) : a.size(-2), k = ta ? a.size(-2) : a.size(-1);
  const int64_t kb = tb ? b.size(-1) : b.size(-2), n = tb ? b.size(-2) : b.size(-1);
  GG_CHECK(k == kb, "matmul: inner dimensions differ: " + shape_str(a.shape()) + (ta ? "^T" : "") + " @ " +
                        shape_str(b.shape()) + (tb ? "^T" : ""));
  Shape a_batch(a.shape().begin(), a.shape().end() - 2), b_batch(b.shape().begin(), b.shape().end() - 2);
  MatmulGeometry geo;
  geo.batch = broadcast_shapes(a_batch, b_batch, "matmul");
  geo.a_strides = broadcast_strides(a_batch, geo.batch);
  geo.b_strides = broadcast_strides(b_batch, geo.batch);
  for (auto& s : geo.a_strides) s *= m * k;
  for (auto& s : geo.b_strides) s *= k * n;
  geo.m = m, geo.n = n, geo.k = k, geo.trans_a = ta, geo.trans_b = tb;
  Shape out_shape = geo.batch;
  out_shape.push_back(m);
  out_shape.push_back(n);
  Tensor out = detail::empty_like_shape(a, out_shape);
  if (k == 0)
    detail::backend_of(a).fill(a.dtype(), out.numel(), 0.0, out.raw());
  else if (out.numel() > 0)
    detail::backend_of(a).matmul(a.dtype(), geo, a.raw(), b.raw(), out.raw());

  return record(
      "matmul", out, {a, b},
      [ta, tb](BackwardContext& c, const Tensor& g) {
        const Tensor &A = c.saved(0), &B = c.saved(1);
        std::vector<Tensor> r(2);
        if (c.needs(0)) {
          if (!ta)
            r[0] = matmul(g, B, false, !tb);  // dA = g op(B)^T
          else
            r[0] = matmul(B, g, tb, true);  // dA^T = op(B) g^T
        }
        if (c.needs(1)) {
          if (B.dim() == 2 && g.dim() - c.lead > 2 && !ta)
            r[1] = grad_of_shared_right(A, g, tb, c.lead);
          else if (!tb)
            r[1] = matmul(A, g, !ta, false);  // dB = op(A)^T g
          else
            r[1] = matmul(g, A, true, ta);  // dB^T = g^T op(A)
        }
        return r;
      },
      {a, b});
}

}  // namespace gg

namespace gg {

Tensor gram(const Tensor& a) {
  GG_CHECK(a.defined() && a.dim() >= 2, "gram: needs a matrix (or a batch of them), got " + (a.defined() ? a.str() : "undefined"));
  Tensor out = matmul(a.detach(), a.detach(), true, false);
  // G = A^T A is symmetric, so d<G, g>/dA = A (g + g^T): one product instead of the two of matmul's rule.
  return record("gram", out, {a}, [](BackwardContext& c, const Tensor& g) {
    return std::vector{matmul(c.saved(0), g + transpose(g))};
  }, {a});
}

Tensor rowwise_quadratic_form(const Tensor& a, const Tensor& m) {
  GG_CHECK(a.defined() && m.defined() && a.dim() == 2 && m.dim() == 2 && m.size(0) == m.size(1) &&
               m.size(0) == a.size(1),
           "rowwise_quadratic_form: needs a [N, H] and m [H, H], got " + (a.defined() ? a.str() : "undefined") +
               " and " + (m.defined() ? m.str() : "undefined"));
  // a M a^T = a M_s a^T with M_s the symmetric part, whose derivative 2 a M_s the rule uses: exact for any M.
  const Tensor ms = (m + transpose(m)) * 0.5;
  const Tensor p = matmul(a, ms);  // recorded when a or m require grad: the rule's gradients go through it
  const Tensor q = sum(a.detach() * p.detach(), {1});
  return record("rowwise_quadratic_form", q, {a, m}, [](BackwardContext& c, const Tensor& g) {
    const Tensor& a = c.saved(0);
    const Tensor& p = c.saved(1);
    Shape gs = g.shape();
    gs.push_back(1);
    const Tensor gc = reshape(g, gs);  // [lead..., N, 1]
    std::vector<Tensor> out(2);
    if (c.needs(0)) out[0] = 2.0 * gc * p;                       // d/da_i = 2 g_i a_i M_s
    if (c.needs(1)) out[1] = matmul(a, gc * a, true, false);     // d/dM = A^T diag(g) A
    return out;
  }, {a, p});
}

}  // namespace gg
