// Image files: reading (exact PNG/BMP, JPEG, channel conversion, resizing), image folders (flat and class
// sub-folders), errors naming the file, and the PNG grid writer read back with stb.
#include <stb_image.h>
#include <stb_image_write.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <unistd.h>

#include "datasets/files.h"
#include "datasets/image_decode.h"
#include "datasets/images.h"
#include "tests/helpers.h"
#include "tests/models_helpers.h"

using namespace gg;
using gg::test::read_bytes;
using gg::test::write_bytes;
namespace fs = std::filesystem;

namespace {

// A fresh folder under the system temp folder, removed with everything in it when the test ends.
struct TempFolder {
  fs::path path;
  TempFolder() {
    static int counter = 0;
    path = fs::temp_directory_path() /
           ("gg_test_images_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempFolder() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
};

// Interleaved 8-bit pixels of a width x height image with `channels` per pixel, from f(x, y, c).
std::vector<unsigned char> make_pixels(int width, int height, int channels,
                                       const std::function<int(int, int, int)>& f) {
  std::vector<unsigned char> pixels(width * height * channels);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < channels; ++c) pixels[(y * width + x) * channels + c] = static_cast<unsigned char>(f(x, y, c));
  return pixels;
}

void write_png(const std::string& path, int width, int height, int channels, const std::vector<unsigned char>& pixels) {
  REQUIRE(stbi_write_png(path.c_str(), width, height, channels, pixels.data(), width * channels) != 0);
}

// A distinctive RGB pattern: every byte differs along x, y and c.
int pattern(int x, int y, int c) { return (37 * x + 71 * y + 101 * c + 13) % 256; }

// The message of the gg::Error that f throws ("" when it throws none).
std::string error_message(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("read_image reads a PNG exactly, in CHW order, and converts RGB to grey by luminance") {
  TempFolder dir;
  const std::string path = dir / "rgb.png";
  write_png(path, 5, 5, 3, make_pixels(5, 5, 3, pattern));

  Tensor rgb = read_image(path, 3, 5);
  CHECK(rgb.shape() == Shape{3, 5, 5});
  CHECK(rgb.dtype() == DType::f32);
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < 5; ++y)
      for (int x = 0; x < 5; ++x) CHECK(rgb.at({c, y, x}) == float(pattern(x, y, c) / 255.0f));

  Tensor grey = read_image(path, 1, 5);
  CHECK(grey.shape() == Shape{1, 5, 5});
  for (int y = 0; y < 5; ++y)
    for (int x = 0; x < 5; ++x) {
      double expect = (0.299 * pattern(x, y, 0) + 0.587 * pattern(x, y, 1) + 0.114 * pattern(x, y, 2)) / 255.0;
      CHECK(grey.at({0, y, x}) == doctest::Approx(expect).epsilon(1e-5));
    }
}

TEST_CASE("read_image replicates grey into RGB and composites alpha on black") {
  TempFolder dir;
  const std::string grey_path = dir / "grey.png", rgba_path = dir / "rgba.png", grey_alpha_path = dir / "ga.png";
  write_png(grey_path, 4, 4, 1, make_pixels(4, 4, 1, [](int x, int y, int) { return 16 * (4 * y + x); }));
  Tensor rgb = read_image(grey_path, 3, 4);
  for (int c = 0; c < 3; ++c) CHECK(rgb.at({c, 2, 3}) == float(16 * 11 / 255.0f));

  // RGBA: colour (200, 100, 50) with alpha 0 on the left half, 255 on the right.
  write_png(rgba_path, 4, 4, 4, make_pixels(4, 4, 4, [](int x, int, int c) {
              const int colour[3] = {200, 100, 50};
              return c < 3 ? colour[c] : (x < 2 ? 0 : 255);
            }));
  Tensor composited = read_image(rgba_path, 3, 4);
  CHECK(composited.at({0, 1, 0}) == 0.0);  // transparent -> black
  CHECK(composited.at({2, 1, 1}) == 0.0);
  CHECK(composited.at({0, 1, 3}) == float(200 / 255.0f));
  CHECK(composited.at({1, 1, 3}) == float(100 / 255.0f));

  // Grey + alpha at half opacity: the grey value scaled by alpha.
  write_png(grey_alpha_path, 2, 2, 2, make_pixels(2, 2, 2, [](int, int, int c) { return c == 0 ? 255 : 51; }));
  Tensor half = read_image(grey_alpha_path, 1, 2);
  CHECK(half.at({0, 0, 0}) == doctest::Approx(51 / 255.0).epsilon(1e-6));
}

TEST_CASE("read_image reads BMP exactly and JPEG approximately") {
  TempFolder dir;
  const std::vector<unsigned char> pixels = make_pixels(6, 6, 3, pattern);
  const std::string bmp = dir / "a.bmp", jpg = dir / "b.jpg";
  REQUIRE(stbi_write_bmp(bmp.c_str(), 6, 6, 3, pixels.data()) != 0);
  Tensor from_bmp = read_image(bmp, 3, 6);
  for (int c = 0; c < 3; ++c) CHECK(from_bmp.at({c, 4, 1}) == float(pattern(1, 4, c) / 255.0f));

  // JPEG is lossy: a smooth image at quality 100 comes back within a few levels.
  const std::vector<unsigned char> smooth = make_pixels(16, 16, 3, [](int x, int y, int c) { return 40 + 8 * x + 4 * y + 10 * c; });
  REQUIRE(stbi_write_jpg(jpg.c_str(), 16, 16, 3, smooth.data(), 100) != 0);
  Tensor from_jpg = read_image(jpg, 3, 16);
  double worst = 0;
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < 16; ++y)
      for (int x = 0; x < 16; ++x)
        worst = std::max(worst, std::abs(from_jpg.at({c, y, x}) - (40 + 8 * x + 4 * y + 10 * c) / 255.0));
  CHECK(worst < 6 / 255.0);
}

// A baseline grey JPEG, 16 x 8 pixels (two 8 x 8 blocks), whose every coefficient is wild but legal: a 16-bit
// quantization table of 65535s, and each block's DC difference the most negative 15-bit value, -32767. The second
// block's DC is then -65534, and stb_image dequantizes it as the int product -65534 * 65535, which overflows
// (fuzz_image found the same product on a mutated file). stb_impl.cpp is compiled with -fwrapv, so the product
// wraps as defined behaviour; the sanitized quick set (scripts/sanitize --quick) fails here without it.
std::vector<unsigned char> jpeg_with_overflowing_dc() {
  std::vector<unsigned char> j = {0xFF, 0xD8};                       // SOI
  j.insert(j.end(), {0xFF, 0xDB, 0x00, 131, 0x10});                  // DQT: 16-bit table 0
  for (int i = 0; i < 128; ++i) j.push_back(0xFF);                   // 64 entries of 65535
  j.insert(j.end(), {0xFF, 0xC0, 0x00, 11, 8, 0, 8, 0, 16, 1, 1, 0x11, 0});  // SOF0: 8 bits, 8 x 16, one component
  j.insert(j.end(), {0xFF, 0xC4, 0x00, 38});                         // DHT: two tables, one 1-bit code "0" each
  j.push_back(0x00);                                                 // DC table 0: the code means category 15
  j.push_back(1);
  j.insert(j.end(), 15, 0);
  j.push_back(15);
  j.push_back(0x10);                                                 // AC table 0: the code means end of block
  j.push_back(1);
  j.insert(j.end(), 15, 0);
  j.push_back(0x00);
  j.insert(j.end(), {0xFF, 0xDA, 0x00, 8, 1, 1, 0x00, 0, 63, 0});    // SOS
  // Per block: DC code "0", 15 zero bits (difference -32767), AC code "0" (end of block): 34 zero bits for both
  // blocks, padded with ones to whole bytes.
  j.insert(j.end(), {0x00, 0x00, 0x00, 0x00, 0x3F});
  j.insert(j.end(), {0xFF, 0xD9});                                   // EOI
  return j;
}

TEST_CASE("read_image decodes a JPEG whose dequantized coefficients overflow int to some image, defined") {
  TempFolder dir;
  const std::string path = dir / "overflow.jpg";
  write_bytes(path, jpeg_with_overflowing_dc());
  Tensor image = read_image(path, 1, 8);
  CHECK(image.shape() == Shape{1, 8, 8});
  for (double v : image.to_vector()) CHECK((v >= 0.0 && v <= 1.0));
}

TEST_CASE("read_image refuses a PNG whose chunk declares more bytes than the file has, before allocating them") {
  TempFolder dir;
  const std::string good = dir / "good.png", bad = dir / "idat_2gib.png";
  write_png(good, 4, 4, 1, make_pixels(4, 4, 1, pattern));
  std::vector<unsigned char> bytes = read_bytes(good);
  // The first chunk after the 8-byte signature is IHDR (25 bytes); the next one's length becomes 2^31 - 1.
  const size_t second = 8 + 25;
  bytes[second] = 0x7F, bytes[second + 1] = bytes[second + 2] = bytes[second + 3] = 0xFF;
  write_bytes(bad, bytes);
  CHECK_THROWS_WITH_AS(read_image(bad, 1, 4), doctest::Contains("corrupt PNG: the chunk at byte 33 declares more"),
                       Error);
  CHECK(read_image(good, 1, 4).shape() == Shape{1, 4, 4});
}

TEST_CASE("read_image resizing keeps a constant image constant and averages a checkerboard to grey") {
  TempFolder dir;
  const std::string constant = dir / "constant.png", wide = dir / "wide.png", board = dir / "board.png";
  write_png(constant, 10, 10, 1, make_pixels(10, 10, 1, [](int, int, int) { return 200; }));
  for (int size : {4, 10, 23}) {
    Tensor t = read_image(constant, 1, size);
    CHECK(t.shape() == Shape{1, size, size});
    for (double v : t.to_vector()) CHECK(v == doctest::Approx(200 / 255.0).epsilon(1e-4));
  }
  // A non-square image is squashed to the square, not cropped.
  write_png(wide, 20, 8, 3, make_pixels(20, 8, 3, [](int, int, int c) { return 60 * (c + 1); }));
  Tensor squashed = read_image(wide, 3, 8);
  for (int c = 0; c < 3; ++c) CHECK(squashed.at({c, 3, 7}) == doctest::Approx(60 * (c + 1) / 255.0).epsilon(1e-4));

  // A 1-pixel checkerboard shrunk 2x: every output pixel straddles equal numbers of black and white.
  write_png(board, 16, 16, 1, make_pixels(16, 16, 1, [](int x, int y, int) { return (x + y) % 2 ? 255 : 0; }));
  Tensor half = read_image(board, 1, 8);
  CHECK(mean(half).item() == doctest::Approx(0.5).epsilon(0.02));
  for (int y = 2; y < 6; ++y)
    for (int x = 2; x < 6; ++x) CHECK(half.at({0, y, x}) == doctest::Approx(0.5).epsilon(0.02));
  for (double v : half.to_vector()) CHECK((v >= 0.0 && v <= 1.0));
}

TEST_CASE("read_image errors name the file: missing, truncated PNG, random bytes, bad arguments") {
  TempFolder dir;
  const std::string missing = dir / "missing.png";
  CHECK(error_message([&] { read_image(missing, 1, 8); }).find(missing) != std::string::npos);

  const std::string good = dir / "good.png", truncated = dir / "truncated.png", noise = dir / "noise.png";
  write_png(good, 16, 16, 3, make_pixels(16, 16, 3, pattern));
  std::vector<unsigned char> bytes = read_bytes(good);
  bytes.resize(bytes.size() / 2);
  write_bytes(truncated, bytes);
  std::vector<unsigned char> garbage(300);
  for (size_t i = 0; i < garbage.size(); ++i) garbage[i] = static_cast<unsigned char>((i * 7919 + 17) % 251);
  write_bytes(noise, garbage);

  for (const std::string& bad : {truncated, noise}) {
    std::string message = error_message([&] { read_image(bad, 1, 8); });
    CHECK(message.find("read_image") != std::string::npos);
    CHECK(message.find(bad) != std::string::npos);
  }
  CHECK_THROWS_WITH_AS(read_image(good, 2, 8), doctest::Contains("channels must be 1 (grey) or 3 (RGB)"), Error);
  CHECK_THROWS_WITH_AS(read_image(good, 1, 0), doctest::Contains("size must be positive"), Error);
}

TEST_CASE("read_image_folder reads a flat folder in filename order, ignoring other and hidden files") {
  TempFolder dir;
  auto constant = [](int value) { return make_pixels(3, 3, 1, [value](int, int, int) { return value; }); };
  write_png(dir / "b.png", 3, 3, 1, constant(20));
  write_png(dir / "a.PNG", 3, 3, 1, constant(10));  // extensions are case-insensitive
  REQUIRE(stbi_write_bmp((dir / "c.Bmp").c_str(), 3, 3, 1, constant(30).data()) != 0);
  write_bytes(dir / "notes.txt", {'h', 'i'});
  write_bytes(dir / "._a.png", {1, 2, 3});  // macOS metadata: hidden, and not an image
  fs::create_directories(dir.path / "empty_sub");

  Dataset set = read_image_folder(dir.path.string(), {.size = 3, .channels = 1});
  CHECK(set.x.shape() == Shape{3, 1, 3, 3});
  CHECK(set.is_images());
  CHECK(set.labels.empty());
  CHECK(set.num_classes == 0);
  CHECK(set.class_names.empty());
  CHECK(set.name == dir.path.filename().string());
  CHECK(set.x.at({0, 0, 1, 1}) == float(10 / 255.0f));
  CHECK(set.x.at({1, 0, 1, 1}) == float(20 / 255.0f));
  CHECK(set.x.at({2, 0, 1, 1}) == doctest::Approx(30 / 255.0).epsilon(1e-6));  // BMP stores grey as RGB

  Dataset rgb = read_image_folder(dir.path.string() + "/", {.size = 5, .channels = 3});
  CHECK(rgb.x.shape() == Shape{3, 3, 5, 5});
  CHECK(rgb.name == dir.path.filename().string());
}

TEST_CASE("read_image_folder turns class sub-folders into labels indexing the sorted class names") {
  TempFolder dir;
  auto constant = [](int value) { return make_pixels(4, 4, 3, [value](int, int, int) { return value; }); };
  fs::create_directories(dir.path / "dogs");
  fs::create_directories(dir.path / "cats");
  fs::create_directories(dir.path / "no_images");
  write_png(dir / "dogs/z.png", 4, 4, 3, constant(90));
  write_png(dir / "cats/2.png", 4, 4, 3, constant(20));
  write_png(dir / "cats/1.png", 4, 4, 3, constant(10));
  write_bytes(dir / "no_images/readme.txt", {'x'});
  write_bytes(dir / "README.md", {'x'});

  Dataset set = read_image_folder(dir.path.string(), {.size = 2, .channels = 1});
  CHECK(set.x.shape() == Shape{3, 1, 2, 2});
  CHECK(set.class_names == std::vector<std::string>{"cats", "dogs"});
  CHECK(set.num_classes == 2);
  CHECK(set.labels == std::vector<int32_t>{0, 0, 1});
  CHECK(set.x.at({0, 0, 0, 0}) == doctest::Approx(10 / 255.0).epsilon(1e-4));
  CHECK(set.x.at({1, 0, 0, 0}) == doctest::Approx(20 / 255.0).epsilon(1e-4));
  CHECK(set.x.at({2, 0, 1, 1}) == doctest::Approx(90 / 255.0).epsilon(1e-4));
}

TEST_CASE("read_image_folder errors: empty folder, no images, not a folder, mixed layout, corrupt file") {
  TempFolder dir;
  fs::create_directories(dir.path / "empty");
  CHECK_THROWS_WITH_AS(read_image_folder(dir / "empty"), doctest::Contains("no image files"), Error);
  fs::create_directories(dir.path / "text_only/sub");
  write_bytes(dir / "text_only/a.txt", {'x'});
  write_bytes(dir / "text_only/sub/b.csv", {'x'});
  CHECK_THROWS_WITH_AS(read_image_folder(dir / "text_only"), doctest::Contains("no image files"), Error);
  CHECK_THROWS_WITH_AS(read_image_folder(dir / "does_not_exist"), doctest::Contains("is not a folder"), Error);

  const std::vector<unsigned char> pixels = make_pixels(2, 2, 1, [](int, int, int) { return 7; });
  fs::create_directories(dir.path / "mixed/class_a");
  write_png(dir / "mixed/loose.png", 2, 2, 1, pixels);
  write_png(dir / "mixed/class_a/x.png", 2, 2, 1, pixels);
  CHECK_THROWS_WITH_AS(read_image_folder(dir / "mixed"), doctest::Contains("both directly and in class sub-folders"),
                       Error);

  // Many files, so the parallel loop runs; the error names the corrupt one.
  fs::create_directories(dir.path / "corrupt");
  for (int i = 0; i < 20; ++i) write_png(dir / ("corrupt/" + std::to_string(100 + i) + ".png"), 2, 2, 1, pixels);
  const std::string bad = dir / "corrupt/110.png";
  write_bytes(bad, {0x89, 'P', 'N', 'G', 0, 1, 2});
  std::string message = error_message([&] { read_image_folder(dir / "corrupt"); });
  CHECK(message.find("read_image_folder") != std::string::npos);
  CHECK(message.find(bad) != std::string::npos);
}

TEST_CASE("write_image_grid tiles images with padding and upscaling into a PNG of the right size") {
  TempFolder dir;
  // Five 3x3 grey images, image n constant at 40 (n + 1) / 255, except pixel (0, 0) of each is white.
  std::vector<double> values;
  for (int n = 0; n < 5; ++n)
    for (int p = 0; p < 9; ++p) values.push_back(p == 0 ? 1.0 : 40 * (n + 1) / 255.0);
  Tensor images = Tensor::from_data(values, {5, 1, 3, 3});
  const std::string path = dir / "grid.png";
  write_image_grid(path, images, 0, 2, 2);  // 3 columns (ceil sqrt 5), 2 rows, tiles of 6x6

  int width = 0, height = 0, channels = 0;
  unsigned char* png = stbi_load(path.c_str(), &width, &height, &channels, 0);
  REQUIRE(png != nullptr);
  CHECK(width == 3 * 6 + 2 * 2);
  CHECK(height == 2 * 6 + 1 * 2);
  CHECK(channels == 1);
  auto pixel = [&](int x, int y) { return int(png[y * width + x]); };
  for (int n = 0; n < 5; ++n) {
    const int left = (n % 3) * 8, top = (n / 3) * 8;
    CHECK(pixel(left + 0, top + 0) == 255);  // the white pixel, upscaled to 2x2
    CHECK(pixel(left + 1, top + 1) == 255);
    CHECK(pixel(left + 2, top + 0) == 40 * (n + 1));
    CHECK(pixel(left + 5, top + 5) == 40 * (n + 1));
  }
  CHECK(pixel(6, 0) == 128);    // padding between columns
  CHECK(pixel(0, 7) == 128);    // padding between rows
  CHECK(pixel(20, 12) == 128);  // the unused sixth cell
  stbi_image_free(png);

  // No temporary file is left beside the result.
  int files = 0;
  for (const auto& entry : fs::directory_iterator(dir.path)) files += entry.is_regular_file();
  CHECK(files == 1);
}

TEST_CASE("write_image_grid takes (N, H*W) and (N, H, W), f64, RGB, clamps values, and fails naming the path") {
  TempFolder dir;
  // Flat 2x2 f64 images with out-of-range values, 4 columns in one row, no padding.
  Tensor flat = Tensor::from_data({-1.0, 2.0, 0.5, std::nan(""), 0, 0, 0, 0}, {2, 4}, DType::f64);
  const std::string flat_path = dir / "flat.png";
  write_image_grid(flat_path, flat, 4, 0, 1);
  int width = 0, height = 0, channels = 0;
  unsigned char* png = stbi_load(flat_path.c_str(), &width, &height, &channels, 0);
  REQUIRE(png != nullptr);
  CHECK(width == 8);
  CHECK(height == 2);
  CHECK(int(png[0]) == 0);    // -1 clamps to 0
  CHECK(int(png[1]) == 255);  // 2 clamps to 1
  CHECK(int(png[8]) == 128);  // round(0.5 * 255)
  CHECK(int(png[9]) == 0);    // NaN reads as 0
  CHECK(int(png[4]) == 128);  // cells 3 and 4 unused
  stbi_image_free(png);

  Tensor rgb = Tensor::zeros({1, 3, 2, 2});
  rgb = rgb + Tensor::from_data({1.0, 0.0, 0.0}, {1, 3, 1, 1});  // pure red
  const std::string rgb_path = dir / "rgb.png";
  write_image_grid(rgb_path, rgb);
  png = stbi_load(rgb_path.c_str(), &width, &height, &channels, 0);
  REQUIRE(png != nullptr);
  CHECK(channels == 3);
  CHECK(width == 2);
  CHECK((png[0] == 255 && png[1] == 0 && png[2] == 0));
  stbi_image_free(png);

  Tensor three_d = Tensor::full({2, 3, 3}, 0.25);
  write_image_grid(dir / "hw.png", three_d, 2, 1, 1);
  png = stbi_load((dir / "hw.png").c_str(), &width, &height, &channels, 0);
  REQUIRE(png != nullptr);
  CHECK(width == 7);
  CHECK(height == 3);
  stbi_image_free(png);

  CHECK_THROWS_WITH_AS(write_image_grid(dir / "x.png", Tensor::zeros({2, 5})), doctest::Contains("not a square"), Error);
  CHECK_THROWS_WITH_AS(write_image_grid(dir / "x.png", Tensor::zeros({2, 2, 3, 3})), doctest::Contains("1 or 3 channels"),
                       Error);
  const std::string unwritable = dir / "no_such_folder/grid.png";
  CHECK_THROWS_WITH_AS(write_image_grid(unwritable, three_d), doctest::Contains(unwritable.c_str()), Error);
}

using gg::test::contains;
using gg::test::error_of;

TEST_CASE("decode_image refuses what Debian's stb 2.27 mishandles, naming the file (fuzz_image's findings)") {
  // Each seed is two bytes for fuzz_image (channels, size - 1), then the file.
  auto decode = [](const std::string& seed) {
    const std::string bytes = read_file(std::string(GG_SOURCE_DIR) + "/fuzz/corpus/image/" + seed).substr(2);
    return error_of([&] {
      decode_image(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), 1, 8, "read_image", "x.img");
    });
  };
  CHECK(contains(decode("pnm_zero_height.ppm"), "'x.img'"));
  CHECK(contains(decode("pnm_zero_height.ppm"), "an image needs at least one"));
  CHECK(contains(decode("jpeg_oversized_huffman.jpg"), "more than 256 codes"));
  CHECK(contains(decode("jpeg_huffman_counts_at_end.jpg"), "more than 256 codes"));
  CHECK(contains(decode("jpeg_fill_bytes_before_soi.jpg"), "more than 256 codes"));  // 0xFF 0xFF 0xD8 is a JPEG
  CHECK(contains(decode("pnm_number_overflow.pgm"), "more than 9 digits"));
  CHECK(contains(decode("huge_claim.png"), "20000 x 20000 pixels, more than the 16777216"));
  CHECK(contains(decode("pic_cut_short.pic"), "'x.img'"));  // Softimage PIC is not read (datasets/stb_impl.cpp)
  const std::string good = read_file(std::string(GG_SOURCE_DIR) + "/fuzz/corpus/image/grey_4x4.png").substr(2);
  CHECK(decode_image(reinterpret_cast<const unsigned char*>(good.data()), good.size(), 1, 4, "read_image", "g.png")
            .size() == 16);  // a good file still decodes
}
