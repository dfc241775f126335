// libFuzzer target for the image reader (datasets/image_decode.h: stb_image under our wrapper). The first
// byte picks the channels (1 or 3), the second the size (1 to 64); the rest are the file's bytes. Any input
// must either decode to channels * size * size values in [0, 1] or raise a gg::Error that names the file.
// Any other exception, a crash, a sanitizer report, a leak or more than the RSS limit is a bug. Run by
// scripts/fuzz.
//
// The pixel bound is 2^16 here rather than the reader's 2^24: the check is the same code, and the fuzzer spends
// its time on decoding paths instead of seconds per input allocating and resizing 16-megapixel images (with
// the reader's bound it ran at about 10 inputs a second).
#include <cstdint>
#include <string>

#include "datasets/image_decode.h"
#include "engine/core.h"

namespace {
constexpr int64_t kFuzzMaxPixels = int64_t{1} << 16;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string name = "fuzz-input.png";
  if (size < 2) return -1;  // not kept in the corpus
  const int channels = data[0] % 2 ? 3 : 1;
  const int side = 1 + data[1] % 64;
  try {
    const std::vector<float> image =
        gg::decode_image(data + 2, size - 2, channels, side, "read_image", name, kFuzzMaxPixels);
    if (image.size() != size_t(channels) * side * side) __builtin_trap();
    for (float v : image)
      if (!(v >= 0.0f && v <= 1.0f)) __builtin_trap();
  } catch (const gg::Error& e) {
    if (std::string(e.what()).find("'" + name + "'") == std::string::npos) __builtin_trap();
  }
  return 0;
}
