// Corruption operators (see corruption.h for the contracts). Noise and masks are engine ops on x's device;
// rotations and zooms run on the host: images through one affine-map bilinear sampler, points in closed form.
#include "datasets/corruption.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <sstream>

#include "engine/ops/ops.h"

namespace gg {
namespace {

enum class BatchKind { points, images };

// Checks x is a batch of points (N, D) or images (N, C, H, W) and says which; `op` names the caller.
BatchKind batch_kind(const char* op, const Tensor& x) {
  GG_CHECK(x.defined(), std::string(op) + ": undefined input");
  GG_CHECK(x.dim() == 2 || x.dim() == 4,
           std::string(op) + ": input " + x.str() + " must be points (N, D) or images (N, C, H, W)");
  return x.dim() == 2 ? BatchKind::points : BatchKind::images;
}

void check_on_cpu(const char* op, const Tensor& x) {
  GG_CHECK(x.device() == Device::cpu(),
           std::string(op) + ": input " + x.str() + " is on " + x.device().str() + "; this op runs on the CPU");
}

// Images turn and scale about their own centre; a centre is only for points.
void check_images_without_center(const char* op, const Tensor& x, const std::vector<double>& center) {
  check_on_cpu(op, x);
  GG_CHECK(center.empty(), std::string(op) + ": a center applies to points only, not to images " + x.str() +
                               " (they turn and scale about the image centre)");
}

void check_points_2d(const char* op, const Tensor& x) {
  GG_CHECK(x.dim() == 2 && x.size(1) == 2,
           std::string(op) + ": points " + x.str() + " must be 2-D, shape (N, 2)");
}

void check_per_sample(const char* op, const Tensor& x, const std::vector<double>& parameters, const char* what) {
  GG_CHECK(static_cast<int64_t>(parameters.size()) == x.size(0),
           std::string(op) + ": " + std::to_string(parameters.size()) + " " + what + " for a batch " + x.str() +
               " of " + std::to_string(x.size(0)) + " samples");
  for (double p : parameters) GG_CHECK(std::isfinite(p), std::string(op) + ": " + what + " must be finite");
}

// One uniform draw per sample in [lo, hi], in double whatever x's dtype.
std::vector<double> uniform_per_sample(int64_t count, double lo, double hi, Generator& gen) {
  if (count == 0) return {};
  std::vector<double> u = Tensor::rand({count}, gen, DType::f64).to_vector();
  for (double& v : u) v = lo + (hi - lo) * v;
  return u;
}

Corrupted with_displacement(const Tensor& clean, const Tensor& corrupted) {
  return {corrupted, sub(corrupted, clean)};
}

// cos and sin of an angle in degrees, exact at multiples of 90 degrees (where std::cos(pi/2) is not 0).
void cos_sin_degrees(double degrees, double& c, double& s) {
  const double turn = std::fmod(degrees, 360.0);
  if (std::fmod(turn, 90.0) == 0.0) {
    const int quarter = (static_cast<int>(turn / 90.0) + 4) % 4;
    static const double kCos[] = {1, 0, -1, 0}, kSin[] = {0, 1, 0, -1};
    c = kCos[quarter], s = kSin[quarter];
    return;
  }
  const double radians = degrees * std::numbers::pi / 180.0;
  c = std::cos(radians), s = std::sin(radians);
}

// ---- Images: one affine-map bilinear sampler -------------------------------------------------------------

// The inverse map of one image, about its centre: output pixel at offset (dx, dy) from the centre reads the
// input at offset (xx dx + xy dy, yx dx + yy dy). x runs along W (right), y along H (down).
struct InverseMap {
  double xx, xy, yx, yy;
};

// Pulls a coordinate within 1e-9 pixels of a pixel centre onto it, so exact maps stay exact.
inline double snap_to_pixel(double v) {
  const double nearest = std::round(v);
  return std::abs(v - nearest) < 1e-9 ? nearest : v;
}

template <class T>
void sample_affine(const T* in, T* out, int64_t count, int64_t channels, int64_t height, int64_t width,
                   const std::vector<InverseMap>& maps) {
  const double cx = (width - 1) / 2.0, cy = (height - 1) / 2.0;
  const int64_t plane = height * width;
  const bool large = count * channels * plane >= (int64_t(1) << 16);
#pragma omp parallel for collapse(2) schedule(static) if (large)
  for (int64_t n = 0; n < count; ++n)
    for (int64_t i = 0; i < height; ++i) {
      const InverseMap& m = maps[n];
      const T* src = in + n * channels * plane;
      T* dst = out + n * channels * plane;
      const double dy = i - cy;
      for (int64_t j = 0; j < width; ++j) {
        const double dx = j - cx;
        const double sx = snap_to_pixel(cx + m.xx * dx + m.xy * dy);
        const double sy = snap_to_pixel(cy + m.yx * dx + m.yy * dy);
        const double fx0 = std::floor(sx), fy0 = std::floor(sy);
        const double wx1 = sx - fx0, wy1 = sy - fy0;
        // The four neighbours and their weights; those outside the image are skipped (they read as 0).
        int64_t index[4];
        double weight[4];
        int taps = 0;
        if (fx0 >= -1 && fx0 < width && fy0 >= -1 && fy0 < height) {
          const int64_t x0 = static_cast<int64_t>(fx0), y0 = static_cast<int64_t>(fy0);
          const double wx[2] = {1 - wx1, wx1}, wy[2] = {1 - wy1, wy1};
          for (int a = 0; a < 2; ++a)
            for (int b = 0; b < 2; ++b) {
              const int64_t y = y0 + a, x = x0 + b;
              const double w = wy[a] * wx[b];
              if (w == 0 || y < 0 || y >= height || x < 0 || x >= width) continue;
              index[taps] = y * width + x, weight[taps] = w, ++taps;
            }
        }
        for (int64_t c = 0; c < channels; ++c) {
          const T* src_plane = src + c * plane;
          double v = 0;
          for (int t = 0; t < taps; ++t) v += weight[t] * double(src_plane[index[t]]);
          dst[c * plane + i * width + j] = static_cast<T>(v);
        }
      }
    }
}

Tensor warp_images(const char* op, const Tensor& x, const std::vector<InverseMap>& maps) {
  check_on_cpu(op, x);
  Tensor input = x.detach();
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  const Shape& s = x.shape();
  if (x.dtype() == DType::f32)
    sample_affine(input.data<float>(), out.data<float>(), s[0], s[1], s[2], s[3], maps);
  else
    sample_affine(input.data<double>(), out.data<double>(), s[0], s[1], s[2], s[3], maps);
  return out;
}

// ---- Points: closed-form maps about a centre ---------------------------------------------------------------

// `center` when given (2 numbers), else the mean of the batch's points.
std::vector<double> points_center(const char* op, const std::vector<double>& xs, int64_t count,
                                  const std::vector<double>& center) {
  if (!center.empty()) {
    GG_CHECK(center.size() == 2 && std::isfinite(center[0]) && std::isfinite(center[1]),
             std::string(op) + ": center must be 2 finite numbers, got " + std::to_string(center.size()));
    return center;
  }
  std::vector<double> mean(2, 0.0);
  for (int64_t n = 0; n < count; ++n) mean[0] += xs[2 * n], mean[1] += xs[2 * n + 1];
  if (count > 0) mean[0] /= double(count), mean[1] /= double(count);
  return mean;
}

// Applies the 2x2 matrix (a b; c d) of point n to its offset from the centre.
template <class MatrixOf>
Tensor map_points(const char* op, const Tensor& x, const std::vector<double>& center, MatrixOf matrix_of) {
  check_points_2d(op, x);
  const int64_t count = x.size(0);
  const std::vector<double> xs = x.to_vector();
  const std::vector<double> c = points_center(op, xs, count, center);
  std::vector<double> out(xs.size());
  for (int64_t n = 0; n < count; ++n) {
    double a, b, cc, d;
    matrix_of(n, a, b, cc, d);
    const double dx = xs[2 * n] - c[0], dy = xs[2 * n + 1] - c[1];
    out[2 * n] = c[0] + a * dx + b * dy;
    out[2 * n + 1] = c[1] + cc * dx + d * dy;
  }
  return Tensor::from_data(out, x.shape(), x.dtype(), x.device());
}

}  // namespace

// ---- Deterministic primitives --------------------------------------------------------------------------------

namespace {

// Images warped one by one, sample n by the inverse map that map_of(parameters[n]) gives.
template <class MapOf>
Tensor warp_each_image(const char* op, const Tensor& x, const std::vector<double>& parameters, const char* what,
                       MapOf map_of) {
  GG_CHECK(batch_kind(op, x) == BatchKind::images, std::string(op) + ": input " + x.str() + " must be images (N, C, H, W)");
  check_per_sample(op, x, parameters, what);
  std::vector<InverseMap> maps;
  for (double p : parameters) maps.push_back(map_of(p));
  return warp_images(op, x, maps);
}

}  // namespace

Tensor rotate_images(const Tensor& x, const std::vector<double>& degrees) {
  return warp_each_image("rotate_images", x, degrees, "angles", [](double deg) {
    // Counter-clockwise on screen (y down) by theta: the output at offset (dx, dy) reads the input at
    // (cos dx - sin dy, sin dx + cos dy).
    double c, s;
    cos_sin_degrees(deg, c, s);
    return InverseMap{c, -s, s, c};
  });
}

Tensor zoom_images(const Tensor& x, const std::vector<double>& factors) {
  return warp_each_image("zoom_images", x, factors, "factors", [](double factor) {
    GG_CHECK(factor > 0, "zoom_images: factors must be positive, got " + number_text(factor));
    return InverseMap{1.0 / factor, 0.0, 0.0, 1.0 / factor};
  });
}

Tensor rotate_points(const Tensor& x, const std::vector<double>& degrees, const std::vector<double>& center) {
  batch_kind("rotate_points", x);
  check_per_sample("rotate_points", x, degrees, "angles");
  return map_points("rotate_points", x, center, [&](int64_t n, double& a, double& b, double& c, double& d) {
    double cs, sn;
    cos_sin_degrees(degrees[n], cs, sn);
    a = cs, b = -sn, c = sn, d = cs;
  });
}

Tensor zoom_points(const Tensor& x, const std::vector<double>& factors, const std::vector<double>& center) {
  batch_kind("zoom_points", x);
  check_per_sample("zoom_points", x, factors, "factors");
  for (double factor : factors)
    GG_CHECK(factor > 0, "zoom_points: factors must be positive, got " + number_text(factor));
  return map_points("zoom_points", x, center, [&](int64_t n, double& a, double& b, double& c, double& d) {
    a = d = factors[n], b = c = 0;
  });
}

// ---- Random operators ----------------------------------------------------------------------------------------

Corrupted gaussian_noise(const Tensor& x, double sigma, Generator& gen) {
  batch_kind("gaussian_noise", x);
  check_corruption_amount("gaussian_noise", "noise", sigma);
  Tensor clean = x.detach();
  Tensor noise = Tensor::randn(x.shape(), gen, x.dtype(), x.device());
  return with_displacement(clean, clean + noise * sigma);
}

Corrupted random_mask(const Tensor& x, double drop_probability, Generator& gen) {
  const BatchKind kind = batch_kind("random_mask", x);
  check_corruption_amount("random_mask", "mask", drop_probability);
  Tensor clean = x.detach();
  const Shape& s = x.shape();
  const Shape mask_shape = kind == BatchKind::images ? Shape{s[0], 1, s[2], s[3]} : s;
  // u uniform in [0, 1): kept where u >= p, so P(drop) = p. Drawn in f64 whatever x's dtype, since an f32
  // draw can round up to exactly 1 and would then survive p = 1.
  Tensor u = Tensor::rand(mask_shape, gen, DType::f64, x.device());
  Tensor keep = cast(ge(u, scalar_like(drop_probability, u)), x.dtype());
  return with_displacement(clean, where(keep, clean, scalar_like(0.0, clean)));
}

Corrupted random_rotation(const Tensor& x, double max_degrees, Generator& gen, const std::vector<double>& center) {
  const BatchKind kind = batch_kind("random_rotation", x);
  check_corruption_amount("random_rotation", "rotation", max_degrees);
  if (kind == BatchKind::points) check_points_2d("random_rotation", x);
  else check_images_without_center("random_rotation", x, center);
  const std::vector<double> degrees = uniform_per_sample(x.size(0), -max_degrees, max_degrees, gen);
  Tensor clean = x.detach();
  return with_displacement(clean, kind == BatchKind::images ? rotate_images(clean, degrees)
                                                            : rotate_points(clean, degrees, center));
}

Corrupted random_zoom(const Tensor& x, double max_scale_change, Generator& gen, const std::vector<double>& center) {
  const BatchKind kind = batch_kind("random_zoom", x);
  check_corruption_amount("random_zoom", "zoom", max_scale_change);
  if (kind == BatchKind::points) check_points_2d("random_zoom", x);
  else check_images_without_center("random_zoom", x, center);
  const std::vector<double> factors = uniform_per_sample(x.size(0), 1 - max_scale_change, 1 + max_scale_change, gen);
  Tensor clean = x.detach();
  return with_displacement(clean, kind == BatchKind::images ? zoom_images(clean, factors)
                                                            : zoom_points(clean, factors, center));
}

}  // namespace gg
