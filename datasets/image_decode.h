// Decoding an image file's bytes, without the engine: what read_image and read_image_folder (images.h) do
// to each file, split out so that libFuzzer (fuzz/fuzz_image.cpp) reaches it with nothing else linked.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace gg {

// The most pixels (width * height) an image may claim. A PNG of a few kilobytes can claim 20,000 x 20,000
// pixels and so ask for gigabytes once decoded; such a header is refused before any pixel is allocated.
// 2^24 is 4096 x 4096 (a 12-megapixel photo fits), far beyond what an autoencoder of this project reads.
inline constexpr int64_t kMaxImagePixels = int64_t{1} << 24;

// Decodes `length` bytes of an image file (any format stb_image reads) to channels * size * size floats in
// [0, 1], planar (channel, row, column), with the conversions and resizing that images.h's read_image
// describes. Errors (gg::Error) start with "`op`: " and name `name` (the file): not an image stb decodes
// (with stb's reason), more than `max_pixels` (kMaxImagePixels unless a caller, such as fuzz_image, sets a
// smaller bound), or more bytes than stb takes (2 GiB).
std::vector<float> decode_image(const unsigned char* bytes, size_t length, int channels, int size,
                                const std::string& op, const std::string& name,
                                int64_t max_pixels = kMaxImagePixels);

}  // namespace gg
