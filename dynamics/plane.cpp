#include "dynamics/plane.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/gradgrad.h"

namespace gg {

Plane::Plane(const Tensor& codes, int64_t code_dim) : k_(code_dim), pca_(code_dim > 2) {
  if (pca_) fit_ = Pca::fit(codes.to(DType::f64), 2);
}

std::vector<double> Plane::project(const Tensor& z) const {
  if (!z.defined() || z.size(0) == 0) return {};
  const int64_t n = z.size(0);
  const std::vector<double> v = (pca_ ? fit_.project(z) : z.to(DType::f64)).to_vector();
  const int64_t c = pca_ ? 2 : k_;
  std::vector<double> out(static_cast<size_t>(2 * n), 0.0);
  for (int64_t i = 0; i < n; ++i) {
    out[size_t(2 * i)] = v[size_t(i * c)];
    out[size_t(2 * i + 1)] = c > 1 ? v[size_t(i * c + 1)] : 0.0;
  }
  return out;
}

std::vector<double> Plane::project_vectors(const Tensor& d) const {
  if (!pca_) return project(d);
  const int64_t n = d.size(0);
  const std::vector<double> v = d.to(DType::f64).to_vector();
  std::vector<double> out(static_cast<size_t>(2 * n), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t c = 0; c < 2; ++c) {
      double s = 0;
      for (int64_t j = 0; j < k_; ++j) s += v[size_t(i * k_ + j)] * fit_.components[size_t(c)][size_t(j)];
      out[size_t(2 * i + c)] = s;
    }
  return out;
}

Tensor Plane::lift(const Tensor& ab) const {
  GG_CHECK(pca_, "Plane::lift: only a PCA plane (k > 2) lifts points back to codes");
  const int64_t n = ab.size(0);
  const std::vector<double> p = ab.to_vector();
  std::vector<double> z(static_cast<size_t>(n * k_));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < k_; ++j)
      z[size_t(i * k_ + j)] = fit_.mean[size_t(j)] + p[size_t(2 * i)] * fit_.components[0][size_t(j)] +
                              p[size_t(2 * i + 1)] * fit_.components[1][size_t(j)];
  return Tensor::from_data(z, {n, k_}, DType::f64);
}

PlaneField field_in_plane(Autoencoder& model, const Plane& plane, const Grid2d& grid) {
  PlaneField out;
  out.points = grid.points();
  if (!plane.is_pca() && plane.code_dim() == 2) {
    const FieldSample fs = sample_field(model, grid);
    out.vectors = fs.vectors.to_vector();
    out.norms = fs.norms;
    return out;
  }
  // k > 2: the plane's points lifted to codes; k = 1: the first coordinate of each point.
  const Tensor z = plane.is_pca() ? plane.lift(out.points) : slice(out.points, 1, 0, 1);
  const Tensor d = vector_field(model, z).to(DType::f64);
  const std::vector<double> dv = d.to_vector();
  const int64_t k = d.size(1);
  out.norms.resize(static_cast<size_t>(d.size(0)));
  for (int64_t i = 0; i < d.size(0); ++i) {
    double s = 0;
    for (int64_t j = 0; j < k; ++j) s += dv[size_t(i * k + j)] * dv[size_t(i * k + j)];
    out.norms[size_t(i)] = std::sqrt(s);
  }
  out.vectors = plane.project_vectors(d);
  return out;
}

Grid2d frame_around(const std::vector<double>& xy, int64_t n, double margin) {
  GG_CHECK(n >= 1, "frame_around: needs n >= 1 cells per side");
  double x0 = std::numeric_limits<double>::infinity(), x1 = -x0, y0 = x0, y1 = -x0;
  for (size_t i = 0; i + 1 < xy.size(); i += 2) {
    if (!std::isfinite(xy[i]) || !std::isfinite(xy[i + 1])) continue;
    x0 = std::min(x0, xy[i]), x1 = std::max(x1, xy[i]);
    y0 = std::min(y0, xy[i + 1]), y1 = std::max(y1, xy[i + 1]);
  }
  Grid2d g;
  g.nx = g.ny = n;
  if (!(x0 <= x1)) return g;  // nothing finite: the default [-1, 1]^2
  double span = std::max(x1 - x0, y1 - y0);
  if (!(span > 0)) span = std::max({std::abs(x0), std::abs(y0), 1.0}) * 0.1;
  const double pad = margin * span;
  g.x_min = x0 - pad, g.x_max = x1 + pad, g.y_min = y0 - pad, g.y_max = y1 + pad;
  // A line-shaped cloud: give the flat axis at least a fifth of the other's extent.
  const double w = g.x_max - g.x_min, h = g.y_max - g.y_min;
  if (h < 0.2 * w) {
    const double c = 0.5 * (y0 + y1);
    g.y_min = c - 0.1 * w, g.y_max = c + 0.1 * w;
  } else if (w < 0.2 * h) {
    const double c = 0.5 * (x0 + x1);
    g.x_min = c - 0.1 * h, g.x_max = c + 0.1 * h;
  }
  return g;
}

}  // namespace gg
