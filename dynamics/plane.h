// The picture plane of a latent field (paper 002, Figures 1, 3a): where every 2-D picture of codes is drawn.
// The codes themselves when k <= 2, else the plane of the first two principal components of the training
// codes, so that every file of a run draws in the same coordinates; the frame of a picture around a cloud of
// points, the field f(z) - z sampled on a grid of that plane, and the thinning of a recorded path.
#pragma once

#include <cstdint>
#include <vector>

#include "datasets/pca.h"
#include "dynamics/field.h"

namespace gg {

class Plane {
 public:
  Plane() = default;
  // Fitted on the training codes [N, k] (PCA for k > 2; N >= 2 then).
  Plane(const Tensor& codes, int64_t code_dim);
  int64_t code_dim() const { return k_; }
  bool is_pca() const { return pca_; }
  // Rows of z [N, k] as (p0, p1) pairs, row-major; p1 = 0 when k = 1. Empty for an undefined or empty z.
  std::vector<double> project(const Tensor& z) const;
  // The in-plane components of vectors d [N, k] (no centring: directions, not points).
  std::vector<double> project_vectors(const Tensor& d) const;
  // The codes of the plane's points ab [N, 2]: mean + a c0 + b c1, [N, k] f64 (PCA planes only).
  Tensor lift(const Tensor& ab) const;

 private:
  int64_t k_ = 0;
  bool pca_ = false;
  Pca fit_;
};

// The field on a grid of the picture plane (k = 2: the codes themselves; k > 2: the PCA plane, the field
// projected onto it; k = 1: the line p1 = 0 sampled through the first coordinate).
struct PlaneField {
  Tensor points;                // [n, 2] f64, the cell centres (Grid2d's order)
  std::vector<double> vectors;  // n (v0, v1) pairs: the in-plane components of f(z) - z
  std::vector<double> norms;    // n: the full norm ||f(z) - z||
};
PlaneField field_in_plane(Autoencoder& model, const Plane& plane, const Grid2d& grid);

// ---- A frame around 2-D points ----------------------------------------------------------------------------
// The bounding box of the points (x, y pairs, row-major [N, 2]) widened by `margin` times the larger of the
// two spans on every side, so the frame keeps the cloud's proportions and a degenerate cloud (one point, a
// line) still gets an area; n x n cells. An empty or non-finite cloud gives [-1, 1]^2.
Grid2d frame_around(const std::vector<double>& xy, int64_t n, double margin);

// ---- Thinning a recorded path for a file ------------------------------------------------------------------
// Keeps every one of the first `dense` steps (where the path bends), then every `stride`-th, and the last.
inline bool keep_path_step(int64_t t, int64_t last, int64_t dense = 64, int64_t stride = 8) {
  return t < dense || t % stride == 0 || t == last;
}

}  // namespace gg
