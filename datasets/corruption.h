// Corruption operators: random perturbations of a batch of samples, used as data augmentation and by the
// Poisson regularizer, which needs how far each corrupted sample moved from its clean one.
//
// Contract shared by every operator here:
//   - Input x is a batch of points (N, D) or of images (N, C, H, W), f32 or f64. Any other rank throws
//     gg::Error naming the op and the shape. Rotation and zoom of points need D == 2. Noise and masks run as
//     engine ops on x's device; rotation and zoom of images resample on the host and need a CPU tensor.
//   - The result has x's shape and dtype, `displacement` is exactly x_corrupted - x (computed in x's dtype).
//   - Randomness comes only from the Generator (drawn with Tensor::rand / Tensor::randn), so a seed fixes
//     the result; each sample (one row of the points, one image) gets its own random parameter.
//   - Corruption acts on data, not on a graph: x is detached, the outputs carry no gradient history.
#pragma once

#include <string>
#include <vector>

#include "engine/registry.h"
#include "engine/tensor.h"

namespace gg {

struct Corrupted {
  Tensor x;             // the corrupted batch
  Tensor displacement;  // x - the clean batch
};

// Adds independent N(0, sigma^2) noise to every element. sigma >= 0.
Corrupted gaussian_noise(const Tensor& x, double sigma, Generator& gen);

// Sets elements to 0, each drop independent with probability drop_probability in [0, 1]. Images drop whole
// pixels across channels (one draw per (n, h, w), i.e. a mask of shape (N, 1, H, W)); points drop single
// coordinates (a mask of shape (N, D)).
Corrupted random_mask(const Tensor& x, double drop_probability, Generator& gen);

// Rotates each sample by its own angle, uniform in [-max_degrees, max_degrees] (max_degrees >= 0).
// Images: about the image centre, see rotate_images (`center` must then be empty). Points: about `center`
// (2 numbers), or, when it is empty, about the batch mean, so each point moves along its circle round the
// centre: the shape is perturbed locally, not translated.
Corrupted random_rotation(const Tensor& x, double max_degrees, Generator& gen,
                          const std::vector<double>& center = {});

// Scales each sample by its own factor, uniform in [1 - max_scale_change, 1 + max_scale_change]
// (0 <= max_scale_change < 1). Images: about the image centre, see zoom_images (a factor > 1 zooms in and
// crops, < 1 zooms out and pads with 0; `center` must be empty). Points: about `center`, or the batch mean
// when it is empty (as for rotation), so points move radially.
Corrupted random_zoom(const Tensor& x, double max_scale_change, Generator& gen,
                      const std::vector<double>& center = {});

// ---- The deterministic primitives the random geometric operators call (one parameter per sample) --------
// Images (N, C, H, W) are resampled through one affine-map bilinear sampler: output pixel (i, j) reads the
// input at the position the inverse map sends it to, about the centre ((H-1)/2, (W-1)/2) in pixel-centre
// coordinates; neighbours outside the image count as 0. A source position within 1e-9 pixels of a pixel
// centre reads that pixel exactly, so 90-degree turns of odd-sized images and factor 1 are exact.

// Rotates image n counter-clockwise as displayed by degrees[n] (90 degrees is NumPy's rot90:
// out[i][j] = in[j][W-1-i] for a square odd-sized image).
Tensor rotate_images(const Tensor& x, const std::vector<double>& degrees);
// Scales image n's content by factors[n] > 0 about the image centre: out(p) = in(c + (p - c) / factor).
Tensor zoom_images(const Tensor& x, const std::vector<double>& factors);
// Rotates point n (a row of x (N, 2)) counter-clockwise by degrees[n] about `center` (the batch mean when empty).
Tensor rotate_points(const Tensor& x, const std::vector<double>& degrees, const std::vector<double>& center = {});
// Scales point n about `center` (the batch mean when empty): c + factors[n] (p - c).
Tensor zoom_points(const Tensor& x, const std::vector<double>& factors, const std::vector<double>& center = {});

// ---- By name, for configs and the command line ------------------------------------------------------------
// kind is one of corruption_kinds(): "noise" (amount = sigma), "mask" (drop probability), "rotation" (max
// degrees), "zoom" (max scale change).
struct CorruptionSpec {
  std::string kind;
  double amount = 0;
};

// One corruption kind of the registry: what its amount means, the amount's valid range ([0, upper) or
// [0, upper]) and its random operator (points turn and scale about the batch mean).
struct CorruptionKind {
  const char* amount_meaning;
  double upper;
  bool upper_included;
  Corrupted (*apply)(const Tensor& x, double amount, Generator& gen);
};
// Every corruption kind by name (`gradgrad help` lists them); a new kind is one entry there.
const Registry<CorruptionKind>& corruption_registry();
const std::vector<std::string>& corruption_kinds();  // the registry's names, in order
// Throws an Error unless `amount` is in the kind's range; `op` names the caller.
void check_corruption_amount(const char* op, const std::string& kind, double amount);

// Parses "kind:amount", e.g. "noise:0.1", "mask:0.3", "rotation:30", "zoom:0.2". An unknown kind (the error
// lists the valid ones), a missing or malformed amount, or an amount out of the kind's range throws gg::Error.
CorruptionSpec parse_corruption(const std::string& text);

// Applies the named corruption (random_rotation / random_zoom of points use the batch mean as centre).
Corrupted corrupt(const Tensor& x, const CorruptionSpec& spec, Generator& gen);

}  // namespace gg
