// The device a test runs on, and the skip CTest reports: a test that needs a GPU where none is visible
// prints "GPU test skipped: <reason>", which the SKIP_REGULAR_EXPRESSION of tests/ (CMakeLists.txt) turns
// into a skipped test, never a silent pass.
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <string>

#include "engine/backend/backend.h"
#include "engine/gradgrad.h"

namespace gg::test {

// The GPU the CUDA tests run on.
inline const Device kGpu = Device::cuda(0);

// GG_TEST_DEVICE ("cpu", "cuda", "cuda:0"), the CPU when unset: the device the op table runs on.
inline Device test_device() {
  const char* name = std::getenv("GG_TEST_DEVICE");
  return name && *name ? parse_device(name) : Device::cpu();
}

// Whether `d` can run here; when not, prints the skip message and the caller returns.
inline bool device_or_skip(Device d) {
  if (has_backend(d)) return true;
  std::string why;
  if (cuda_available(&why)) why = "this build's CUDA backend serves cuda:0 only";
  MESSAGE("GPU test skipped: " << d.str() << ": " << why);
  return false;
}

// Checks that `got` (any device) equals `want` elementwise to atol + rtol |want|, NaN matching NaN and
// infinities matching exactly; reports the first element that differs, under `what`.
inline void check_near(const Tensor& got, const Tensor& want, double rtol, double atol, const std::string& what) {
  REQUIRE_MESSAGE(got.shape() == want.shape(), what << ": shape " << shape_str(got.shape()) << " vs "
                                                    << shape_str(want.shape()));
  const std::vector<double> g = got.to_vector(), w = want.to_vector();
  for (size_t i = 0; i < g.size(); ++i) {
    const bool same = g[i] == w[i] || (std::isnan(g[i]) && std::isnan(w[i])) ||
                      std::abs(g[i] - w[i]) <= atol + rtol * std::abs(w[i]);
    if (!same) {
      FAIL_CHECK(what << " [" << i << "]: " << g[i] << " vs " << w[i]);
      return;
    }
  }
}

// The tolerance of a GPU result against the CPU's in dtype t: rounding differences of a few ulp.
inline double rtol_of(DType t) { return t == DType::f64 ? 1e-12 : 1e-5; }

}  // namespace gg::test
