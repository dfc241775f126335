#include "datasets/idx.h"

#include <sys/mman.h>

#include <algorithm>
#include <array>
#include <filesystem>

#include "datasets/idx_format.h"

namespace gg {

namespace {

namespace fs = std::filesystem;

void require_u8(uint8_t type, const std::string& path, const char* what) {
  if (type != static_cast<uint8_t>(IdxType::u8))
    fail(path + ": " + what + " must be unsigned bytes (IDX type 0x08), file has type " +
         idx_type_name(type));
}

// Asks the kernel to back a large buffer that is about to be written for the first time with 2 MiB pages:
// 60000 MNIST images are 188 MB of f32, and faulting them in 4 KiB at a time costs about as much as inflating
// the file. Only a hint; where transparent huge pages are off it does nothing.
void prefer_huge_pages(void* data, size_t bytes) {
  const uintptr_t page = 4096;
  uintptr_t begin = (reinterpret_cast<uintptr_t>(data) + page - 1) & ~(page - 1);
  uintptr_t end = (reinterpret_cast<uintptr_t>(data) + bytes) & ~(page - 1);
  if (end > begin + (uintptr_t(2) << 20)) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
}

}  // namespace

Dataset read_idx_pair(const std::string& images_path, const std::string& labels_path,
                      const std::string& name, int64_t limit) {
  GG_CHECK(limit >= 0, "read_idx_pair: limit must be >= 0, got " + std::to_string(limit));
  // The header of the images and the whole (small) label file first, so that mismatches fail fast.
  IdxReader images(images_path);
  require_u8(images.type(), images_path, "images");
  if (images.dims().size() != 3)
    fail(images_path + ": images must be 3-D (count x height x width), file is " +
         std::to_string(images.dims().size()) + "-D (" + idx_dims_str(images.dims()) + ")");
  IdxArray labels = read_idx_file(labels_path);
  require_u8(labels.type, labels_path, "labels");
  if (labels.dims.size() != 1)
    fail(labels_path + ": labels must be 1-D (one per image), file is " + std::to_string(labels.dims.size()) +
         "-D (" + idx_dims_str(labels.dims) + ")");
  const int64_t in_file = images.dims()[0], h = images.dims()[1], w = images.dims()[2];
  if (labels.dims[0] != in_file)
    fail("images and labels do not match: " + images_path + " has " + std::to_string(in_file) + " images, " +
         labels_path + " has " + std::to_string(labels.dims[0]) + " labels");
  const int64_t n = limit > 0 ? std::min(limit, in_file) : in_file;

  Dataset set;
  set.name = name;
  set.x = Tensor::empty({n, 1, h, w}, DType::f32);  // IdxReader bounds n*h*w by what the file can hold
  float* x = set.x.data<float>();
  prefer_huge_pages(x, set.x.numel() * sizeof(float));
  // Inflate a cache-sized piece at a time and scale it straight into the tensor: every u8 maps to one of 256
  // floats, so a table makes the division exact and the loop a gather.
  std::array<float, 256> scaled;
  for (int v = 0; v < 256; ++v) scaled[v] = static_cast<float>(v) / 255.0f;
  std::vector<uint8_t> piece(256 << 10);
  for (uint64_t done = 0, total = static_cast<uint64_t>(set.x.numel()); done < total;) {
    const size_t len = static_cast<size_t>(std::min<uint64_t>(piece.size(), total - done));
    images.read_payload(piece.data(), len);
    for (size_t i = 0; i < len; ++i) x[done + i] = scaled[piece[i]];
    done += len;
  }
  if (n == in_file) images.finish();  // the input must end with the payload; a slice leaves the rest unread

  set.labels.assign(labels.payload.begin(), labels.payload.begin() + n);  // u8, so always in [0, 255]
  set.num_classes = *std::max_element(set.labels.begin(), set.labels.end()) + 1;
  return set;
}

std::vector<std::string> idx_file_names(const std::string& split, bool labels) {
  std::string prefix;
  if (split == "train")
    prefix = "train";
  else if (split == "test")
    prefix = "t10k";
  else
    fail("idx_file_names: split must be \"train\" or \"test\", got \"" + split + "\"");
  const std::string kind = labels ? "labels" : "images";
  const std::string rank = labels ? "idx1" : "idx3";
  return {prefix + "-" + kind + "-" + rank + "-ubyte", prefix + "-" + kind + "-" + rank + "-ubyte.gz",
          prefix + "-" + kind + "." + rank + "-ubyte", prefix + "-" + kind + "." + rank + "-ubyte.gz"};
}

Dataset load_idx_folder(const std::string& dir, const std::string& split, int64_t limit) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) fail("load_idx_folder: " + dir + " is not a folder");
  auto find = [&](bool labels) {
    std::vector<std::string> names = idx_file_names(split, labels);
    for (const std::string& name : names) {
      fs::path p = fs::path(dir) / name;
      if (fs::is_regular_file(p, ec)) return p.string();
    }
    std::string tried;
    for (const std::string& name : names) tried += (tried.empty() ? "" : ", ") + name;
    fail("load_idx_folder: " + dir + " has no " + split + (labels ? " labels" : " images") +
         " file: looked for " + tried);
  };
  std::string images = find(false), labels = find(true);
  std::string name = fs::canonical(dir, ec).filename().string();  // "fashion-mnist", also for "." or "dir/"
  return read_idx_pair(images, labels, name, limit);
}

}  // namespace gg
