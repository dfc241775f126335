// Image bytes to planar floats through stb_image and stb_image_resize (see image_decode.h).
#include "datasets/image_decode.h"

#include <stb_image.h>
#include <stb_image_resize.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <cstring>
#include <memory>

#include "datasets/files.h"
#include "engine/core.h"

namespace gg {

namespace {

// Converts decoded 8-bit pixels (interleaved, `source_channels` per pixel: 1 grey, 2 grey+alpha, 3 RGB,
// 4 RGBA) to `channels` (1 or 3) interleaved floats in [0, 1], alpha composited on black.
std::vector<float> to_float_channels(const unsigned char* pixels, int64_t pixel_count, int source_channels,
                                     int channels) {
  std::vector<float> out(pixel_count * channels);
  const bool has_alpha = source_channels == 2 || source_channels == 4;
  const bool source_is_grey = source_channels <= 2;
  for (int64_t p = 0; p < pixel_count; ++p) {
    const unsigned char* px = pixels + p * source_channels;
    float alpha = has_alpha ? px[source_channels - 1] / 255.0f : 1.0f;
    float r, g, b;
    if (source_is_grey) {
      r = g = b = px[0] / 255.0f;
    } else {
      r = px[0] / 255.0f, g = px[1] / 255.0f, b = px[2] / 255.0f;
    }
    if (channels == 1) {
      // Luminance in double, so a grey pixel stored as RGB (r == g == b) reads back as its grey value.
      const float grey = source_is_grey ? r : static_cast<float>(0.299 * r + 0.587 * g + 0.114 * b);
      out[p] = alpha * grey;
    } else {
      out[p * 3 + 0] = alpha * r;
      out[p * 3 + 1] = alpha * g;
      out[p * 3 + 2] = alpha * b;
    }
  }
  return out;
}

// Debian's stb_image (2.27) writes past its Huffman tables when a JPEG's DHT segment declares more than
// 256 codes (fixed in stb 2.28; found here by fuzz_image). Walks the JPEG's marker segments as stb does and
// returns the offset of the first such table, or -1 when there is none (or the bytes are not a JPEG).
int64_t oversized_jpeg_huffman_table(const unsigned char* bytes, size_t length) {
  // The start-of-image marker, after any number of 0xFF fill bytes, which stb skips (found by fuzz_image).
  if (length < 2 || bytes[0] != 0xFF) return -1;
  size_t pos = 1;
  while (pos < length && bytes[pos] == 0xFF) ++pos;
  if (pos >= length || bytes[pos] != 0xD8) return -1;
  ++pos;
  while (pos + 1 < length) {
    if (bytes[pos] != 0xFF) {  // entropy-coded data of a scan: markers are found by their 0xFF
      ++pos;
      continue;
    }
    const unsigned char marker = bytes[pos + 1];
    if (marker == 0xD9) return -1;  // end of image
    // Stuffed zero, fill byte, restart markers, TEM and SOI stand alone, without a length.
    if (marker == 0x00 || marker == 0xFF || (marker >= 0xD0 && marker <= 0xD8) || marker == 0x01) {
      pos += marker == 0xFF ? 1 : 2;
      continue;
    }
    if (pos + 4 > length) return -1;
    const size_t segment = size_t(bytes[pos + 2]) << 8 | bytes[pos + 3];  // counts its own two bytes
    if (marker == 0xC4) {  // DHT: tables of 1 class/id byte, 16 code counts, then that many symbols
      int64_t left = int64_t(segment) - 2;
      size_t table = pos + 4;
      while (left > 0 && table < length) {
        int codes = 0;  // stb reads bytes past the end as zeros, and so does this count
        for (size_t i = 1; i <= 16; ++i) codes += table + i < length ? bytes[table + i] : 0;
        if (codes > 256) return int64_t(table);
        table += 17 + size_t(codes);
        left -= 17 + codes;
      }
    }
    pos += 2 + segment;
  }
  return -1;
}

// stb_image grows its buffer for a PNG's IDAT data to a chunk's declared length before it reads the chunk,
// so a small file whose chunk claims 2 GiB allocates 2 GiB and only then runs out of data (fuzz_image found
// it). Every chunk of a PNG lies inside the file, so one that declares more bytes than are left is corrupt.
// Returns the byte offset of the first such chunk, or -1.
int64_t png_chunk_beyond_file(const unsigned char* bytes, size_t length) {
  static const unsigned char signature[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
  if (length < 8 || std::memcmp(bytes, signature, 8) != 0) return -1;
  for (size_t pos = 8; pos + 8 <= length;) {
    const uint64_t declared = read_be32(bytes + pos);
    if (declared > length - pos - 8) return int64_t(pos);  // its data, after length and type, must fit
    if (std::memcmp(bytes + pos + 4, "IEND", 4) == 0) return -1;
    pos += 12 + size_t(declared);
  }
  return -1;
}

// Debian's stb_image (2.27) reads a PNM header's numbers into an int without an overflow check (fixed in
// stb 2.28; found by fuzz_image). Returns whether a P5/P6 header holds a number of more than 9 digits.
bool oversized_pnm_number(const unsigned char* bytes, size_t length) {
  if (length < 2 || bytes[0] != 'P' || (bytes[1] != '5' && bytes[1] != '6')) return false;
  size_t pos = 2;
  for (int number = 0; number < 3; ++number) {  // width, height, maximum value
    while (pos < length && (std::isspace(bytes[pos]) || bytes[pos] == '#')) {
      if (bytes[pos] == '#')
        while (pos < length && bytes[pos] != '\n' && bytes[pos] != '\r') ++pos;
      else
        ++pos;
    }
    size_t digits = 0;
    while (pos < length && std::isdigit(bytes[pos])) ++pos, ++digits;
    if (digits > 9) return true;
  }
  return false;
}

}  // namespace

std::vector<float> decode_image(const unsigned char* bytes, size_t length, int channels, int size,
                                const std::string& op, const std::string& name, int64_t max_pixels) {
  const std::string where = op + ": cannot read image '" + name + "': ";
  GG_CHECK(length <= size_t(INT_MAX), where + "the file holds " + std::to_string(length) +
                                          " bytes, more than the 2 GiB stb_image reads");
  const int stb_length = static_cast<int>(length);
  const int64_t bad_table = oversized_jpeg_huffman_table(bytes, length);
  GG_CHECK(bad_table < 0, where + "corrupt JPEG: the Huffman table at byte " + std::to_string(bad_table) +
                              " declares more than 256 codes");
  GG_CHECK(!oversized_pnm_number(bytes, length), where + "corrupt PNM: a number in its header has more than 9 digits");
  const int64_t bad_chunk = png_chunk_beyond_file(bytes, length);
  GG_CHECK(bad_chunk < 0, where + "corrupt PNG: the chunk at byte " + std::to_string(bad_chunk) +
                              " declares more bytes than the file has left");
  int width = 0, height = 0, source_channels = 0;
  // The header alone first, so a small file that claims a huge image asks for nothing.
  if (stbi_info_from_memory(bytes, stb_length, &width, &height, &source_channels)) {
    const int64_t pixels = int64_t(width) * height;
    GG_CHECK(pixels <= max_pixels, where + "it claims " + std::to_string(width) + " x " +
                                       std::to_string(height) + " pixels, more than the " +
                                       std::to_string(max_pixels) + " this reader accepts");
  }
  std::unique_ptr<unsigned char, void (*)(void*)> pixels(
      stbi_load_from_memory(bytes, stb_length, &width, &height, &source_channels, 0), stbi_image_free);
  if (!pixels) {
    const char* reason = stbi_failure_reason();
    fail(where + (reason ? reason : "unknown reason"));
  }
  // A PNM header may say 55 x 0, and stb then returns an image with no pixels, which stb_image_resize
  // divides by (found by fuzz_image).
  GG_CHECK(width > 0 && height > 0, where + "it is " + std::to_string(width) + " x " + std::to_string(height) +
                                        " pixels; an image needs at least one");
  // The header check above is skipped for formats whose info call fails but whose load succeeds; check again.
  GG_CHECK(int64_t(width) * height <= max_pixels,
           where + "it is " + std::to_string(width) + " x " + std::to_string(height) + " pixels, more than the " +
               std::to_string(max_pixels) + " this reader accepts");
  std::vector<float> interleaved =
      to_float_channels(pixels.get(), int64_t(width) * height, source_channels, channels);
  pixels.reset();

  if (width != size || height != size) {
    std::vector<float> resized(int64_t(size) * size * channels);
    const int ok =
        stbir_resize_float(interleaved.data(), width, height, 0, resized.data(), size, size, 0, channels);
    GG_CHECK(ok, op + ": resizing '" + name + "' from " + std::to_string(width) + "x" + std::to_string(height) +
                     " to " + std::to_string(size) + "x" + std::to_string(size) + " failed");
    interleaved.swap(resized);
  }

  const int64_t plane = int64_t(size) * size;
  std::vector<float> out(plane * channels);
  for (int64_t p = 0; p < plane; ++p)
    for (int c = 0; c < channels; ++c) out[c * plane + p] = std::clamp(interleaved[p * channels + c], 0.0f, 1.0f);
  return out;
}

}  // namespace gg
