// Movement primitives. reshape shares storage; the others write a contiguous result through the backend's
// strided copy. Each rule is the op's transpose: permute <-> inverse permute, slice <-> scatter_slice,
// expand <-> sum (done by the engine), concat <-> slices, cast <-> cast back, to_device <-> copy back.
#include <numeric>

#include "engine/ops/op_helpers.h"

namespace gg {

namespace {

// Copies `x` (contiguous) into `out` at element offset `dst_offset`, over `shape`, with the given strides.
void strided_copy(const Tensor& x, int64_t src_offset, const Shape& src_strides, Tensor& out, int64_t dst_offset,
                  const Shape& shape, const Shape& dst_strides) {
  const size_t es = dtype_size(x.dtype());
  detail::backend_of(x).copy_strided(x.dtype(), shape, static_cast<const char*>(x.raw()) + src_offset * es,
                                     src_strides, static_cast<char*>(out.raw()) + dst_offset * es, dst_strides);
}

Shape resolve_reshape(const Tensor& x, const Shape& shape) {
  Shape s = shape;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == -1) {
      GG_CHECK(infer < 0, "reshape: more than one -1 in " + shape_str(shape));
      infer = i;
    } else {
      GG_CHECK(s[i] >= 0, "reshape: negative size in " + shape_str(shape));
      known *= s[i];
    }
  }
  if (infer >= 0) {
    GG_CHECK(known > 0 && x.numel() % known == 0,
             "reshape: cannot reshape " + x.str() + " to " + shape_str(shape));
    s[infer] = x.numel() / known;
  }
  GG_CHECK(shape_numel(s) == x.numel(), "reshape: cannot reshape " + x.str() + " to " + shape_str(shape));
  return s;
}

}  // namespace

Tensor reshape(const Tensor& x, const Shape& shape) {
  Shape s = resolve_reshape(x, shape);
  if (s == x.shape()) return x;
  return record("reshape", alias_of(x, s), {x}, [](BackwardContext& c, const Tensor& g) {
    return std::vector{reshape(g, detail::with_lead(g, c.lead, c.input_shape(0)))};
  });
}

Tensor permute(const Tensor& x, const std::vector<int64_t>& perm) {
  const int64_t r = x.dim();
  GG_CHECK(static_cast<int64_t>(perm.size()) == r,
           "permute: " + std::to_string(perm.size()) + " axes given for tensor " + x.str());
  std::vector<int64_t> p(r), inverse(r, -1);
  for (int64_t i = 0; i < r; ++i) {
    p[i] = normalize_axis(perm[i], r, "permute");
    GG_CHECK(inverse[p[i]] < 0, "permute: axis " + std::to_string(perm[i]) + " repeated");
    inverse[p[i]] = i;
  }
  bool identity = true;
  for (int64_t i = 0; i < r; ++i) identity &= p[i] == i;
  if (identity) return x;
  Shape out_shape(r), src_strides(r), xs = contiguous_strides(x.shape());
  for (int64_t i = 0; i < r; ++i) {
    out_shape[i] = x.shape()[p[i]];
    src_strides[i] = xs[p[i]];
  }
  Tensor out = detail::empty_like_shape(x, out_shape);
  strided_copy(x, 0, src_strides, out, 0, out_shape, contiguous_strides(out_shape));
  return record("permute", out, {x}, [inverse](BackwardContext& c, const Tensor& g) {
    std::vector<int64_t> q(c.lead + inverse.size());
    std::iota(q.begin(), q.begin() + c.lead, 0);
    for (size_t i = 0; i < inverse.size(); ++i) q[c.lead + i] = c.lead + inverse[i];
    return std::vector{permute(g, q)};
  });
}

Tensor expand(const Tensor& x, const Shape& shape) {
  GG_CHECK(shape.size() >= x.shape().size(), "expand: cannot expand " + x.str() + " to " + shape_str(shape));
  GG_CHECK(broadcast_shapes(x.shape(), shape, "expand") == shape,
           "expand: cannot expand " + x.str() + " to " + shape_str(shape));
  if (shape == x.shape()) return x;
  Tensor out = detail::empty_like_shape(x, shape);
  strided_copy(x, 0, broadcast_strides(x.shape(), shape), out, 0, shape, contiguous_strides(shape));
  // The engine sums the broadcast gradient back to the input's shape.
  return record("expand", out, {x}, [](BackwardContext&, const Tensor& g) { return std::vector{g}; });
}

Tensor slice(const Tensor& x, int64_t axis, int64_t start, int64_t stop, int64_t step) {
  axis = normalize_axis(axis, x.dim(), "slice");
  GG_CHECK(step > 0, "slice: step must be positive, got " + std::to_string(step));
  const int64_t len = x.shape()[axis];
  if (start < 0) start += len;
  if (stop < 0) stop += len;
  start = std::clamp<int64_t>(start, 0, len);
  stop = std::clamp<int64_t>(stop, start, len);
  Shape out_shape = x.shape();
  out_shape[axis] = (stop - start + step - 1) / step;
  Shape src_strides = contiguous_strides(x.shape());
  const int64_t offset = start * src_strides[axis];
  src_strides[axis] *= step;
  Tensor out = detail::empty_like_shape(x, out_shape);
  strided_copy(x, offset, src_strides, out, 0, out_shape, contiguous_strides(out_shape));
  return record("slice", out, {x}, [axis, len, start, step](BackwardContext& c, const Tensor& g) {
    return std::vector{scatter_slice(g, axis + c.lead, len, start, step)};
  });
}

Tensor scatter_slice(const Tensor& x, int64_t axis, int64_t length, int64_t start, int64_t step) {
  axis = normalize_axis(axis, x.dim(), "scatter_slice");
  const int64_t n = x.shape()[axis];
  GG_CHECK(step > 0 && start >= 0 && (n == 0 || start + (n - 1) * step < length),
           "scatter_slice: " + std::to_string(n) + " entries from " + std::to_string(start) + " by " +
               std::to_string(step) + " do not fit an axis of length " + std::to_string(length));
  Shape out_shape = x.shape();
  out_shape[axis] = length;
  Tensor out = Tensor::zeros(out_shape, x.dtype(), x.device());
  Shape dst_strides = contiguous_strides(out_shape);
  const int64_t offset = start * dst_strides[axis];
  dst_strides[axis] *= step;
  strided_copy(x, 0, contiguous_strides(x.shape()), out, offset, x.shape(), dst_strides);
  return record("scatter_slice", out, {x}, [axis, n, start, step](BackwardContext& c, const Tensor& g) {
    return std::vector{slice(g, axis + c.lead, start, start + (n - 1) * step + 1, step)};
  });
}

Tensor concat(const std::vector<Tensor>& xs, int64_t axis) {
  GG_CHECK(!xs.empty(), "concat: no tensors given");
  axis = normalize_axis(axis, xs[0].dim(), "concat");
  Shape out_shape = xs[0].shape();
  out_shape[axis] = 0;
  for (const Tensor& x : xs) {
    detail::check_compatible("concat", xs[0], x);
    Shape a = x.shape(), b = xs[0].shape();
    GG_CHECK(a.size() == b.size(), "concat: ranks differ: " + xs[0].str() + " and " + x.str());
    a[axis] = b[axis] = 0;
    GG_CHECK(a == b, "concat: shapes " + shape_str(xs[0].shape()) + " and " + shape_str(x.shape()) +
                         " differ off axis " + std::to_string(axis));
    out_shape[axis] += x.shape()[axis];
  }
  Tensor out = detail::empty_like_shape(xs[0], out_shape);
  Shape out_strides = contiguous_strides(out_shape);
  std::vector<int64_t> starts;
  int64_t at = 0;
  for (const Tensor& x : xs) {
    starts.push_back(at);
    strided_copy(x, 0, contiguous_strides(x.shape()), out, at * out_strides[axis], x.shape(), out_strides);
    at += x.shape()[axis];
  }
  starts.push_back(at);
  return record("concat", out, xs, [axis, starts](BackwardContext& c, const Tensor& g) {
    std::vector<Tensor> r(starts.size() - 1);
    for (size_t i = 0; i + 1 < starts.size(); ++i)
      if (c.needs(i)) r[i] = slice(g, axis + c.lead, starts[i], starts[i + 1]);
    return r;
  });
}

Tensor cast(const Tensor& x, DType t) {
  GG_CHECK(x.defined(), "cast: undefined tensor argument");
  Tensor out = Tensor::empty(x.shape(), t, x.device());
  detail::backend_of(x).cast(x.dtype(), t, x.numel(), x.raw(), out.raw());
  return record("cast", out, {x}, [from = x.dtype()](BackwardContext&, const Tensor& g) {
    return std::vector{cast(g, from)};
  });
}

Tensor to_device(const Tensor& x, Device d) {
  GG_CHECK(x.defined(), "to_device: undefined tensor argument");
  if (x.device() == d) return x;
  Backend& to = backend_for(d);  // before any copy: names a device this build lacks
  const size_t bytes = x.numel() * dtype_size(x.dtype());
  Tensor host = x;  // the elements in host memory: x itself when it is on the CPU
  if (x.device() != Device::cpu()) {
    host = Tensor::empty(x.shape(), x.dtype(), Device::cpu());
    detail::backend_of(x).copy_to_host(host.raw(), x.raw(), bytes);
  }
  Tensor out = host;
  if (d != Device::cpu()) {
    out = Tensor::empty(x.shape(), x.dtype(), d);
    to.copy_from_host(out.raw(), host.raw(), bytes);
  }
  return record("to_device", out, {x}, [from = x.device()](BackwardContext&, const Tensor& g) {
    return std::vector{to_device(g, from)};
  });
}

}  // namespace gg
