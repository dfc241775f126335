#include "dynamics/field.h"

#include <cmath>
#include <cstring>

#include "engine/gradgrad.h"

namespace gg {

namespace {

void check_codes(const Tensor& z, const char* op) {
  GG_CHECK(z.defined() && z.dim() == 2, std::string(op) + ": expected codes [N, k], got " +
                                            (z.defined() ? z.str() : std::string("undefined")));
}

// Applies g to consecutive row blocks of x under NoGradGuard and concatenates the results.
Tensor batched(const Tensor& x, int64_t batch_size, const char* op,
               const std::function<Tensor(const Tensor&)>& g) {
  GG_CHECK(batch_size >= 1, std::string(op) + ": batch_size must be >= 1");
  NoGradGuard no_grad;
  const int64_t n = x.size(0);
  if (n <= batch_size) return g(x);
  std::vector<Tensor> parts;
  for (int64_t a = 0; a < n; a += batch_size)
    parts.push_back(g(row_block(x, a, std::min(n, a + batch_size))));
  return concat(parts, 0);
}

Tensor as_dtype(const Tensor& x, DType t) { return x.dtype() == t ? x : x.to(t); }

}  // namespace

LatentMap latent_map_of(Autoencoder& model) {
  return [&model](const Tensor& z) { return model.latent_map(as_dtype(z, model.config().dtype)); };
}

Tensor vector_field(const LatentMap& f, const Tensor& z, int64_t batch_size) {
  check_codes(z, "vector_field");
  return batched(z, batch_size, "vector_field", [&](const Tensor& b) {
    Tensor fz = f(b);
    GG_CHECK(fz.shape() == b.shape(), "vector_field: the map returned " + fz.str() + " for " + b.str());
    return as_dtype(fz, b.dtype()) - b;  // eq. 4: dz/dt = f(z) - z
  });
}

Tensor vector_field(Autoencoder& model, const Tensor& z, int64_t batch_size) {
  return vector_field(latent_map_of(model), as_dtype(z, model.config().dtype), batch_size);
}

Tensor encode_batched(Autoencoder& model, const Tensor& x, int64_t batch_size) {
  GG_CHECK(x.defined() && x.dim() >= 1, "encode_batched: undefined input");
  return batched(as_dtype(x, model.config().dtype), batch_size, "encode_batched",
                 [&](const Tensor& b) { return model.encode(b); });
}

Tensor decode_batched(Autoencoder& model, const Tensor& z, int64_t batch_size) {
  check_codes(z, "decode_batched");
  return batched(as_dtype(z, model.config().dtype), batch_size, "decode_batched",
                 [&](const Tensor& b) { return model.decode(b); });
}

Tensor Grid2d::points() const {
  GG_CHECK(nx >= 1 && ny >= 1, "Grid2d: resolution must be at least 1 x 1, got " + std::to_string(nx) +
                                   " x " + std::to_string(ny));
  GG_CHECK(x_max > x_min && y_max > y_min, "Grid2d: bounds must be increasing");
  const double dx = (x_max - x_min) / double(nx), dy = (y_max - y_min) / double(ny);
  std::vector<double> v;
  v.reserve(static_cast<size_t>(2 * nx * ny));
  for (int64_t j = 0; j < ny; ++j)
    for (int64_t i = 0; i < nx; ++i) {
      v.push_back(x_min + (double(i) + 0.5) * dx);
      v.push_back(y_min + (double(j) + 0.5) * dy);
    }
  return Tensor::from_data(v, {nx * ny, 2}, DType::f64, Device::cpu());
}

FieldSample sample_field(const LatentMap& f, const Grid2d& grid, DType dtype) {
  FieldSample s;
  s.points = grid.points();
  s.vectors = vector_field(f, s.points.to(dtype)).to(DType::f64);
  const std::vector<double> v = s.vectors.to_vector();
  for (size_t i = 0; i < v.size(); i += 2) s.norms.push_back(std::hypot(v[i], v[i + 1]));
  return s;
}

FieldSample sample_field(Autoencoder& model, const Grid2d& grid) {
  GG_CHECK(model.config().code_dim == 2,
           "sample_field: needs 2-D codes, the model has k = " + std::to_string(model.config().code_dim));
  return sample_field(latent_map_of(model), grid, model.config().dtype);
}

int64_t Trajectories::num_converged() const {
  int64_t c = 0;
  for (IterOutcome o : outcome) c += o == IterOutcome::converged;
  return c;
}

Tensor Trajectories::path(int64_t i) const {
  GG_CHECK(i >= 0 && i < static_cast<int64_t>(paths.size()),
           "Trajectories::path: no recorded path " + std::to_string(i) + " (record_every was 0?)");
  const TrajectoryPath& p = paths[static_cast<size_t>(i)];
  return Tensor::from_data(p.z, {static_cast<int64_t>(p.steps.size()), dim()}, DType::f64, Device::cpu());
}

Trajectories iterate(const LatentMap& f, const Tensor& z0, const IterateOptions& options,
                     const VisitFn& visit) {
  check_codes(z0, "iterate");
  GG_CHECK(options.tol >= 0 && options.max_iters >= 0 && options.batch_size >= 1 && options.record_every >= 0,
           "iterate: need tol >= 0, max_iters >= 0, batch_size >= 1, record_every >= 0");
  NoGradGuard no_grad;
  const int64_t n = z0.size(0), k = z0.size(1);
  const DType dtype = z0.dtype();
  const Device device = z0.device();
  const size_t ku = static_cast<size_t>(k);
  std::vector<double> z = z0.to_vector();  // the state of every sample, row-major [N, k]

  Trajectories r;
  r.start = z0.detach().clone();
  r.options = options;
  r.options.progress = nullptr;  // the caller's callback, which may not outlive this call, is no result
  r.iterations.assign(static_cast<size_t>(n), 0);
  r.outcome.assign(static_cast<size_t>(n), IterOutcome::max_iters);
  r.last_step_sq.assign(static_cast<size_t>(n), 0.0);
  const bool record = options.record_every > 0;
  if (record) r.paths.resize(static_cast<size_t>(n));
  auto row = [&](int64_t i) { return z.data() + static_cast<size_t>(i) * ku; };
  auto keep = [&](int64_t i, int64_t t) {
    TrajectoryPath& p = r.paths[static_cast<size_t>(i)];
    p.steps.push_back(t);
    p.z.insert(p.z.end(), row(i), row(i) + k);
  };

  std::vector<double> in;
  int64_t finished = 0;  // samples of earlier batches, and those of this batch that left it
  for (int64_t b0 = 0; b0 < n; b0 += options.batch_size) {
    std::vector<int64_t> active;
    for (int64_t i = b0; i < std::min(n, b0 + options.batch_size); ++i) {
      active.push_back(i);
      if (record) keep(i, 0);
    }
    if (visit) {
      std::vector<double> rows0(z.begin() + b0 * k, z.begin() + (b0 + int64_t(active.size())) * k);
      visit(active, 0, rows0);
    }
    for (int64_t t = 1; t <= options.max_iters && !active.empty(); ++t) {
      const int64_t m = static_cast<int64_t>(active.size());
      in.resize(static_cast<size_t>(m) * ku);
      for (int64_t j = 0; j < m; ++j) std::memcpy(in.data() + j * k, row(active[j]), ku * sizeof(double));
      const Tensor fz = f(Tensor::from_data(in, {m, k}, dtype, device));  // eq. 3: z_{t+1} = f(z_t)
      GG_CHECK(fz.defined() && fz.shape() == Shape({m, k}),
               "iterate: the map returned " + (fz.defined() ? fz.str() : std::string("undefined")) +
                   " for [" + std::to_string(m) + "," + std::to_string(k) + "]");
      const std::vector<double> out = fz.to_vector();
      std::vector<int64_t> still, visited;
      std::vector<double> visited_rows;
      for (int64_t j = 0; j < m; ++j) {
        const int64_t i = active[j];
        const double* next = out.data() + j * k;
        double step = 0;
        for (int64_t c = 0; c < k; ++c) step += (next[c] - row(i)[c]) * (next[c] - row(i)[c]);
        const size_t iu = static_cast<size_t>(i);
        r.iterations[iu] = t;
        if (!std::isfinite(step)) {  // the last finite iterate stays as the sample's final point
          r.outcome[iu] = IterOutcome::diverged;
          r.last_step_sq[iu] = step;
          if (record && r.paths[iu].steps.back() != t - 1) keep(i, t - 1);
          continue;
        }
        std::memcpy(row(i), next, ku * sizeof(double));
        r.last_step_sq[iu] = step;
        if (visit) {
          visited.push_back(i);
          visited_rows.insert(visited_rows.end(), next, next + k);
        }
        const bool done = step < options.tol;  // appendix D: ||f(z_{t+1}) - f(z_t)||^2 < tol
        if (done) r.outcome[iu] = IterOutcome::converged;
        if (record && (done || t == options.max_iters || t % options.record_every == 0)) keep(i, t);
        if (!done) still.push_back(i);
      }
      if (visit && !visited.empty()) visit(visited, t, visited_rows);
      finished += m - static_cast<int64_t>(still.size());
      active.swap(still);
      if (options.progress) options.progress(finished, n, t);
    }
    if (!active.empty()) {  // the samples that reached max_iters
      finished += static_cast<int64_t>(active.size());
      if (options.progress) options.progress(finished, n, options.max_iters);
    }
  }
  r.final = Tensor::from_data(z, {n, k}, dtype, device);
  return r;
}

Trajectories iterate(Autoencoder& model, const Tensor& z0, const IterateOptions& options,
                     const VisitFn& visit) {
  check_codes(z0, "iterate");
  GG_CHECK(z0.size(1) == model.config().code_dim,
           "iterate: codes " + z0.str() + " for a model with k = " + std::to_string(model.config().code_dim));
  return iterate(latent_map_of(model), as_dtype(z0, model.config().dtype), options, visit);
}

Tensor row_block(const Tensor& x, int64_t start, int64_t stop) {
  GG_CHECK(x.defined() && x.dim() >= 1 && 0 <= start && start <= stop && stop <= x.size(0),
           "row_block: rows [" + std::to_string(start) + ", " + std::to_string(stop) + ") of " +
               (x.defined() ? x.str() : std::string("undefined")));
  NoGradGuard no_grad;
  return slice(x.detach(), 0, start, stop);
}

Tensor select_rows(const Tensor& x, const std::vector<int64_t>& indices) {
  GG_CHECK(x.defined() && x.dim() >= 1, "select_rows: undefined or scalar input");
  GG_CHECK(x.device() == Device::cpu(), "select_rows: needs a CPU tensor, got " + x.device().str());
  Shape shape = x.shape();
  const int64_t n = shape[0];
  shape[0] = static_cast<int64_t>(indices.size());
  Tensor out = Tensor::empty(shape, x.dtype(), x.device());
  const size_t bytes = n == 0 ? 0 : static_cast<size_t>(x.numel() / n) * dtype_size(x.dtype());
  const char* src = static_cast<const char*>(x.raw());
  char* dst = static_cast<char*>(out.raw());
  for (size_t j = 0; j < indices.size(); ++j) {
    GG_CHECK(indices[j] >= 0 && indices[j] < n,
             "select_rows: row " + std::to_string(indices[j]) + " of " + std::to_string(n));
    std::memcpy(dst + j * bytes, src + static_cast<size_t>(indices[j]) * bytes, bytes);
  }
  return out;
}

std::vector<double> rows_as_doubles(const Tensor& x, int64_t& n, int64_t& d) {
  GG_CHECK(x.defined() && x.dim() >= 1, "rows_as_doubles: undefined or scalar input");
  n = x.size(0);
  d = n == 0 ? 0 : x.numel() / n;
  return x.to_vector();
}

}  // namespace gg
