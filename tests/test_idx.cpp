// IDX files (MNIST's format): exact round trips, raw and gzipped; image/label pairs as a Dataset; folders of
// either naming; every kind of broken file refused with a message naming the file and the fault; and the
// installed Fashion-MNIST when it is there.
#include <unistd.h>
#include <zlib.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

#include "datasets/idx.h"
#include "datasets/idx_format.h"
#include "tests/helpers.h"

using namespace gg;
using gg::test::read_bytes;
using gg::test::TempDir;
using gg::test::write_bytes;
namespace fs = std::filesystem;

namespace {

using Bytes = std::vector<uint8_t>;


Bytes idx_bytes(uint8_t type, const std::vector<uint32_t>& dims, const Bytes& payload) {
  Bytes b = {0, 0, type, static_cast<uint8_t>(dims.size())};
  for (uint32_t d : dims)
    b.insert(b.end(), {uint8_t(d >> 24), uint8_t(d >> 16), uint8_t(d >> 8), uint8_t(d)});
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

// Writes `bytes` gzip-compressed (zlib's gzwrite: a real gzip member with header and CRC trailer).
void write_gzip_file(const std::string& path, const Bytes& bytes) {
  gzFile gz = gzopen(path.c_str(), "wb9");
  REQUIRE(gz != nullptr);
  if (!bytes.empty())
    REQUIRE(gzwrite(gz, bytes.data(), static_cast<unsigned>(bytes.size())) == int(bytes.size()));
  REQUIRE(gzclose(gz) == Z_OK);
}

Bytes gzip_bytes(const Bytes& bytes, const TempDir& dir) {
  std::string path = dir / "scratch.gz";
  write_gzip_file(path, bytes);
  return read_bytes(path);
}

Bytes counting_bytes(size_t n) {  // 0, 1, ..., 255, 0, 1, ...
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(i * 7 + 3);
  return b;
}

// The call throws gg::Error and its message contains the file name and every one of `parts`.
#define CHECK_IDX_ERROR(call, file, ...)                                         \
  do {                                                                           \
    std::string message;                                                         \
    try {                                                                        \
      call;                                                                      \
    } catch (const gg::Error& e) {                                               \
      message = e.what();                                                        \
    }                                                                            \
    INFO("message: ", message);                                                  \
    REQUIRE_FALSE(message.empty());                                              \
    CHECK(message.find(file) != std::string::npos);                              \
    for (const std::string& part : std::vector<std::string>{__VA_ARGS__})        \
      CHECK_MESSAGE(message.find(part) != std::string::npos, "missing: ", part); \
  } while (0)

}  // namespace

TEST_CASE("idx: every type code round-trips exactly, raw and gzipped") {
  TempDir dir;
  struct Case {
    IdxType type;
    std::vector<uint32_t> dims;
    size_t element_size;
  };
  for (const Case& c :
       {Case{IdxType::u8, {3, 4, 5}, 1}, Case{IdxType::i8, {7}, 1}, Case{IdxType::i16, {2, 3}, 2},
        Case{IdxType::i32, {2, 2, 2, 2}, 4}, Case{IdxType::f32, {5, 1}, 4}, Case{IdxType::f64, {3}, 8}}) {
    size_t count = 1;
    for (uint32_t d : c.dims) count *= d;
    const Bytes payload = counting_bytes(count * c.element_size);
    const Bytes file = idx_bytes(static_cast<uint8_t>(c.type), c.dims, payload);
    write_bytes(dir / "a.idx", file);
    write_gzip_file(dir / "a.idx.gz", file);
    for (const std::string& path : {dir / "a.idx", dir / "a.idx.gz"}) {
      CAPTURE(path);
      CAPTURE(idx_type_name(static_cast<uint8_t>(c.type)));
      IdxArray a = read_idx_file(path);
      CHECK(a.type == static_cast<uint8_t>(c.type));
      CHECK(a.dims == std::vector<int64_t>(c.dims.begin(), c.dims.end()));
      CHECK(a.count() == int64_t(count));
      CHECK(a.payload == payload);
    }
  }
}

TEST_CASE("idx: a file of several gzip members (cat a.gz b.gz) reads as their concatenation") {
  TempDir dir;
  const Bytes file = idx_bytes(0x08, {4, 25}, counting_bytes(100));
  Bytes joined = gzip_bytes(Bytes(file.begin(), file.begin() + 30), dir);
  Bytes second = gzip_bytes(Bytes(file.begin() + 30, file.end()), dir);
  joined.insert(joined.end(), second.begin(), second.end());
  IdxArray a = parse_idx(joined.data(), joined.size(), "joined.gz");
  CHECK(a.payload == counting_bytes(100));
}

TEST_CASE("idx: read_idx_pair makes (N,1,H,W) pixels / 255 and int32 labels") {
  TempDir dir;
  const Bytes pixels = {0, 255, 128, 1, 2, 3, 254, 17, 64, 99, 200, 100};  // 2 images of 2x3
  write_bytes(dir / "images", idx_bytes(0x08, {2, 2, 3}, pixels));
  write_gzip_file(dir / "labels.gz", idx_bytes(0x08, {2}, {7, 2}));
  Dataset d = read_idx_pair(dir / "images", dir / "labels.gz", "tiny");
  CHECK(d.name == "tiny");
  CHECK(d.x.dtype() == DType::f32);
  CHECK(d.x.shape() == Shape{2, 1, 2, 3});
  CHECK(d.is_images());
  CHECK(d.size() == 2);
  const float* x = d.x.data<float>();
  for (size_t i = 0; i < pixels.size(); ++i) CHECK(x[i] == static_cast<float>(pixels[i]) / 255.0f);
  CHECK(d.labels == std::vector<int32_t>{7, 2});
  CHECK(d.num_classes == 8);
}

TEST_CASE("idx: read_idx_pair with a limit keeps the first images and inflates no further than them") {
  TempDir dir;
  std::mt19937 rng(3);
  Bytes pixels(100 * 5 * 10);  // incompressible, so half of the gzip stream holds about half of the images
  for (auto& p : pixels) p = static_cast<uint8_t>(rng());
  Bytes labels(100);
  for (size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<uint8_t>(i % 10);
  write_bytes(dir / "labels", idx_bytes(0x08, {100}, labels));
  const Bytes gz = gzip_bytes(idx_bytes(0x08, {100, 5, 10}, pixels), dir);
  write_bytes(dir / "images.gz", gz);
  const Dataset whole = read_idx_pair(dir / "images.gz", dir / "labels", "hundred");
  const Dataset first = read_idx_pair(dir / "images.gz", dir / "labels", "hundred", 10);
  REQUIRE(first.x.shape() == Shape{10, 1, 5, 10});
  CHECK(std::equal(first.x.data<float>(), first.x.data<float>() + first.x.numel(), whole.x.data<float>()));
  CHECK(first.labels == std::vector<int32_t>(whole.labels.begin(), whole.labels.begin() + 10));
  CHECK(read_idx_pair(dir / "images.gz", dir / "labels", "hundred", 1000).size() == 100);
  // The slice is read from the front: a stream cut after it still serves it, while the whole set is refused.
  write_bytes(dir / "images.gz", Bytes(gz.begin(), gz.begin() + gz.size() / 2));
  CHECK(read_idx_pair(dir / "images.gz", dir / "labels", "hundred", 10).size() == 10);
  CHECK_IDX_ERROR(read_idx_pair(dir / "images.gz", dir / "labels", "hundred"), "images.gz", "truncated");
  CHECK_THROWS_WITH_AS(read_idx_pair(dir / "images.gz", dir / "labels", "hundred", -1),
                       doctest::Contains("limit must be >= 0"), Error);
}

TEST_CASE("idx: load_idx_folder finds each split under the download names, raw, gzipped or dotted") {
  TempDir dir;
  write_bytes(dir / "train-images-idx3-ubyte", idx_bytes(0x08, {3, 2, 2}, counting_bytes(12)));
  write_gzip_file(dir / "train-labels-idx1-ubyte.gz", idx_bytes(0x08, {3}, {0, 1, 2}));
  write_gzip_file(dir / "t10k-images.idx3-ubyte.gz", idx_bytes(0x08, {1, 2, 2}, counting_bytes(4)));
  write_bytes(dir / "t10k-labels.idx1-ubyte", idx_bytes(0x08, {1}, {4}));
  Dataset train = load_idx_folder(dir.path.string(), "train");
  Dataset test = load_idx_folder(dir.path.string() + "/", "test");
  CHECK(train.x.shape() == Shape{3, 1, 2, 2});
  CHECK(train.labels == std::vector<int32_t>{0, 1, 2});
  CHECK(train.num_classes == 3);
  CHECK(test.x.shape() == Shape{1, 1, 2, 2});
  CHECK(test.num_classes == 5);
  CHECK(train.name == dir.path.filename().string());
  CHECK(test.name == train.name);

  fs::remove(dir / "t10k-labels.idx1-ubyte");
  CHECK_IDX_ERROR(load_idx_folder(dir.path.string(), "test"), dir.path.string(), "has no test labels",
                  "t10k-labels-idx1-ubyte, t10k-labels-idx1-ubyte.gz, t10k-labels.idx1-ubyte, "
                  "t10k-labels.idx1-ubyte.gz");
  CHECK_IDX_ERROR(load_idx_folder(dir / "nowhere", "train"), "nowhere", "is not a folder");
  CHECK_THROWS_WITH_AS(load_idx_folder(dir.path.string(), "validation"), doctest::Contains("\"validation\""),
                       Error);
}

TEST_CASE("idx: broken headers are refused with the file and the fault named") {
  TempDir dir;
  auto check_bytes = [&](const Bytes& bytes, std::vector<std::string> parts) {
    const std::string path = dir / "broken-idx3-ubyte";
    write_bytes(path, bytes);
    for (const std::string& p : parts) CHECK_IDX_ERROR(read_idx_file(path), path, p);
    const std::string gz = dir / "broken-idx3-ubyte.gz";
    write_gzip_file(gz, bytes);
    for (const std::string& p : parts) CHECK_IDX_ERROR(read_idx_file(gz), gz, p);
  };
  check_bytes({}, {"truncated", "4-byte magic number", "has 0 bytes"});
  check_bytes({0, 0, 8}, {"truncated", "has 3 bytes"});
  check_bytes({0x50, 0x4b, 0x03, 0x04, 1, 2, 3, 4}, {"bad magic number 0x504b0304", "two zero bytes"});
  check_bytes(idx_bytes(0x0A, {1}, {0}), {"bad type code 0x0a"});
  check_bytes({0, 0, 8, 0}, {"bad number of dimensions 0", "expected 1 to 4"});
  check_bytes(idx_bytes(0x08, {1, 1, 1, 1, 1}, {0}), {"bad number of dimensions 5"});
  check_bytes(Bytes{0, 0, 8, 3, 0, 0, 0, 2, 0, 0},
              {"truncated", "header of 3 dimensions needs 16 bytes", "has 10"});
  check_bytes(idx_bytes(0x08, {2, 0, 3}, {}), {"dimension 2 of 3 is 0"});
  check_bytes(idx_bytes(0x0E, {0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF}, {}),
              {"4294967295x4294967295x4294967295x4294967295 elements of f64", "16 GiB"});
}

TEST_CASE("idx: a payload shorter or longer than the header says is refused, raw and gzipped") {
  TempDir dir;
  const std::string raw = dir / "images-idx3-ubyte", gz = dir / "images-idx3-ubyte.gz";
  const Bytes short_file = idx_bytes(0x08, {2, 3, 3}, counting_bytes(10));
  write_bytes(raw, short_file);
  write_gzip_file(gz, short_file);
  CHECK_IDX_ERROR(read_idx_file(raw), raw, "truncated: header says 2x3x3 = 18 bytes of u8 data, file has 10");
  CHECK_IDX_ERROR(read_idx_file(gz), gz,
                  "truncated: header says 2x3x3 = 18 bytes of u8 data, the decompressed file has 10");

  const Bytes long_file = idx_bytes(0x0C, {2, 2}, counting_bytes(19));
  write_bytes(raw, long_file);
  write_gzip_file(gz, long_file);
  CHECK_IDX_ERROR(read_idx_file(raw), raw, "trailing bytes: header says 2x2 elements of i32 = 16 bytes",
                  "has 3 more");
  CHECK_IDX_ERROR(read_idx_file(gz), gz, "trailing bytes", "the decompressed file has 3 more");

  // A header claiming the 47 MB of Fashion-MNIST over a few bytes of data: refused before allocating it.
  const Bytes liar = gzip_bytes(idx_bytes(0x08, {60000, 28, 28}, counting_bytes(1234)), dir);
  write_bytes(gz, liar);
  CHECK_IDX_ERROR(read_idx_file(gz), gz, "truncated: header says 60000x28x28 = 47040000 bytes of u8 data",
                  "more than a gzip file of " + std::to_string(liar.size()) + " bytes can inflate to");
  CHECK_IDX_ERROR(IdxReader{gz}, gz, "more than a gzip file of");
}

TEST_CASE("idx: IdxReader hands out the payload in pieces and checks the end") {
  TempDir dir;
  const Bytes payload = counting_bytes(3 * 5 * 7);
  write_gzip_file(dir / "a.gz", idx_bytes(0x08, {3, 5, 7}, payload));
  IdxReader reader(dir / "a.gz");
  CHECK(reader.compressed());
  CHECK(reader.type() == 0x08);
  CHECK(reader.dims() == std::vector<int64_t>{3, 5, 7});
  CHECK(reader.count() == 105);
  CHECK(reader.payload_bytes() == 105);
  Bytes got(105);
  reader.read_payload(got.data(), 1);
  reader.read_payload(got.data() + 1, 60);
  CHECK_IDX_ERROR(reader.finish(), dir / "a.gz", "44 payload bytes not read");
  CHECK_IDX_ERROR(reader.read_payload(got.data() + 61, 45), dir / "a.gz",
                  "asked for 45 bytes, 44 of the payload are left");
  reader.read_payload(got.data() + 61, 44);
  reader.finish();
  CHECK(got == payload);

  const Bytes raw = idx_bytes(0x0B, {2}, {1, 2, 3, 4});
  IdxReader from_memory(raw.data(), raw.size(), "in-memory");
  CHECK_FALSE(from_memory.compressed());
  CHECK(from_memory.payload_bytes() == 4);
  CHECK(from_memory.count() == 2);
}

TEST_CASE("idx: a cut-short, corrupt or padded gzip stream is refused") {
  TempDir dir;
  const std::string gz = dir / "labels-idx1-ubyte.gz";
  const Bytes whole = gzip_bytes(idx_bytes(0x08, {5000}, counting_bytes(5000)), dir);

  write_bytes(gz, Bytes(whole.begin(), whole.begin() + whole.size() / 2));
  CHECK_IDX_ERROR(read_idx_file(gz), gz, "truncated gzip stream");
  write_bytes(gz, Bytes(whole.begin(), whole.end() - 4));  // the whole payload, but no length in the trailer
  CHECK_IDX_ERROR(read_idx_file(gz), gz, "truncated gzip stream");

  Bytes bad_crc = whole;
  bad_crc[bad_crc.size() - 6] ^= 0xFF;
  write_bytes(gz, bad_crc);
  CHECK_IDX_ERROR(read_idx_file(gz), gz, "corrupt gzip data", "incorrect data check");

  Bytes bad_header = whole;
  bad_header[2] = 7;  // compression method: only 8 (deflate) exists
  write_bytes(gz, bad_header);
  CHECK_IDX_ERROR(read_idx_file(gz), gz, "corrupt gzip data");

  Bytes padded = whole;
  padded.insert(padded.end(), {0, 0, 0});
  write_bytes(gz, padded);
  CHECK_IDX_ERROR(read_idx_file(gz), gz, "trailing bytes after the gzip stream: 3 bytes");
}

TEST_CASE("idx: missing files and folders are refused by name") {
  TempDir dir;
  CHECK_IDX_ERROR(read_idx_file(dir / "absent-idx3-ubyte"), "absent-idx3-ubyte", "cannot open",
                  "No such file or directory");
  CHECK_IDX_ERROR(read_idx_file(dir.path.string()), dir.path.string(), "is a directory");
}

TEST_CASE("idx: read_idx_pair refuses files that do not make an image set") {
  TempDir dir;
  const std::string images = dir / "images", labels = dir / "labels";
  write_bytes(images, idx_bytes(0x08, {3, 2, 2}, counting_bytes(12)));

  write_bytes(labels, idx_bytes(0x08, {4}, {0, 1, 2, 3}));
  CHECK_IDX_ERROR(read_idx_pair(images, labels, "pair"), images, labels, "3 images", "4 labels");

  write_bytes(labels, idx_bytes(0x08, {3, 1}, {0, 1, 2}));
  CHECK_IDX_ERROR(read_idx_pair(images, labels, "pair"), labels, "labels must be 1-D", "2-D (3x1)");

  write_bytes(labels, idx_bytes(0x0C, {3}, counting_bytes(12)));
  CHECK_IDX_ERROR(read_idx_pair(images, labels, "pair"), labels, "unsigned bytes", "type i32");

  write_bytes(labels, idx_bytes(0x08, {3}, {0, 1, 2}));
  write_bytes(images, idx_bytes(0x08, {3, 4}, counting_bytes(12)));
  CHECK_IDX_ERROR(read_idx_pair(images, labels, "pair"), images, "images must be 3-D", "2-D (3x4)");
  CHECK_IDX_ERROR(read_idx_pair(dir / "none", labels, "pair"), "none", "cannot open");
}

TEST_CASE("idx: the installed Fashion-MNIST has the published sizes (and its load time is reported)") {
  const std::string dir = "/usr/share/datasets/fashion-mnist";
  if (!fs::exists(fs::path(dir) / "train-images-idx3-ubyte.gz")) {
    MESSAGE("skipped: Fashion-MNIST is not installed at " << dir);
    return;
  }
  auto start = std::chrono::steady_clock::now();
  Dataset train = load_idx_folder(dir, "train");
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  MESSAGE("Fashion-MNIST train (60000 images, gzipped) loaded in " << seconds * 1000 << " ms");
  Dataset test = load_idx_folder(dir, "test");

  CHECK(train.name == "fashion-mnist");
  CHECK(train.x.shape() == Shape{60000, 1, 28, 28});
  CHECK(test.x.shape() == Shape{10000, 1, 28, 28});
  CHECK(train.num_classes == 10);
  CHECK(test.num_classes == 10);
  std::vector<int> per_class(10);
  for (int32_t y : train.labels) per_class.at(y)++;
  for (int c = 0; c < 10; ++c) CHECK(per_class[c] == 6000);  // Fashion-MNIST is balanced
  double mean = train.x.mean().item();
  CHECK(mean > 0.25);  // published: 0.2860
  CHECK(mean < 0.32);
}
