// Image files in and out through stb (see images.h for the contracts).
#include "datasets/images.h"

#include <stb_image_write.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "datasets/files.h"
#include "datasets/image_decode.h"

namespace gg {
namespace fs = std::filesystem;

namespace {

bool has_image_extension(const fs::path& file) {
  std::string ext = file.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  static const char* const kImageExtensions[] = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tga",
                                                 ".psd", ".pnm", ".ppm",  ".pgm", ".hdr", ".pic"};
  for (const char* known : kImageExtensions)
    if (ext == known) return true;
  return false;
}

bool is_hidden(const fs::path& entry) {
  std::string name = entry.filename().string();
  return !name.empty() && name[0] == '.';
}

// The image files directly inside `dir`, sorted by filename.
std::vector<fs::path> image_files_in(const fs::path& dir) {
  std::vector<fs::path> files;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir)) {
    if (is_hidden(entry.path()) || !entry.is_regular_file() || !has_image_extension(entry.path())) continue;
    files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end(),
            [](const fs::path& a, const fs::path& b) { return a.filename().string() < b.filename().string(); });
  return files;
}

void check_channels_and_size(const char* op, int channels, int size) {
  GG_CHECK(channels == 1 || channels == 3,
           std::string(op) + ": channels must be 1 (grey) or 3 (RGB), got " + std::to_string(channels));
  GG_CHECK(size > 0, std::string(op) + ": size must be positive, got " + std::to_string(size));
}

// Reads one image into `out` (channels * size * size floats, planar CHW); `op` names the caller in errors.
void read_image_into(const char* op, const std::string& path, int channels, int size, float* out) {
  std::string bytes;
  try {
    bytes = read_file(path);
  } catch (const Error& e) {
    fail(std::string(op) + ": " + e.what());
  }
  const std::vector<float> image = decode_image(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(),
                                                channels, size, op, path);
  std::copy(image.begin(), image.end(), out);
}

}  // namespace

Tensor read_image(const std::string& path, int channels, int size) {
  check_channels_and_size("read_image", channels, size);
  Tensor image = Tensor::empty({channels, size, size}, DType::f32);
  read_image_into("read_image", path, channels, size, image.data<float>());
  return image;
}

namespace {

// The images of a folder in sample order, with their labels when the folder has class sub-folders.
struct ImageFolderListing {
  std::vector<fs::path> files;
  std::vector<int32_t> labels;           // empty for the unlabelled layout
  std::vector<std::string> class_names;  // empty for the unlabelled layout
};

ImageFolderListing list_image_folder(const std::string& dir) {
  const fs::path root(dir);
  std::error_code ec;
  GG_CHECK(fs::is_directory(root, ec), "read_image_folder: '" + dir + "' is not a folder");
  ImageFolderListing listing;
  try {
    listing.files = image_files_in(root);  // the unlabelled layout
    const bool has_loose_images = !listing.files.empty();

    // Class sub-folders, in sorted order; only those that hold images count as classes.
    std::vector<fs::path> sub_folders;
    for (const fs::directory_entry& entry : fs::directory_iterator(root))
      if (!is_hidden(entry.path()) && entry.is_directory()) sub_folders.push_back(entry.path());
    std::sort(sub_folders.begin(), sub_folders.end(),
              [](const fs::path& a, const fs::path& b) { return a.filename().string() < b.filename().string(); });
    for (const fs::path& folder : sub_folders) {
      std::vector<fs::path> class_files = image_files_in(folder);
      if (class_files.empty()) continue;
      GG_CHECK(!has_loose_images, "read_image_folder: '" + dir +
                                      "' holds images both directly and in class sub-folders (e.g. '" +
                                      listing.files.front().filename().string() + "' and '" +
                                      folder.filename().string() + "/'); use one layout");
      const int32_t label = static_cast<int32_t>(listing.class_names.size());
      listing.class_names.push_back(folder.filename().string());
      for (fs::path& file : class_files) {
        listing.files.push_back(std::move(file));
        listing.labels.push_back(label);
      }
    }
  } catch (const fs::filesystem_error& e) {
    fail("read_image_folder: cannot list '" + dir + "': " + e.what());
  }
  GG_CHECK(!listing.files.empty(), "read_image_folder: no image files (.png, .jpg, .jpeg, .bmp, .gif, ...) in '" +
                                       dir + "' or in its sub-folders");
  return listing;
}

}  // namespace

Dataset read_image_folder(const std::string& dir, const ImageFolderOptions& options) {
  check_channels_and_size("read_image_folder", options.channels, options.size);
  ImageFolderListing listing = list_image_folder(dir);
  const std::vector<fs::path>& files = listing.files;

  Dataset set;
  const fs::path root(dir);
  set.name = root.filename().empty() ? root.parent_path().filename().string() : root.filename().string();
  set.num_classes = static_cast<int>(listing.class_names.size());
  set.labels = std::move(listing.labels);
  set.class_names = std::move(listing.class_names);

  const int64_t count = static_cast<int64_t>(files.size());
  const int64_t image_numel = int64_t(options.channels) * options.size * options.size;
  set.x = Tensor::empty({count, options.channels, options.size, options.size}, DType::f32);
  float* x = set.x.data<float>();

  // Decoding dominates; spread it over threads. stb's failure reason is thread-local. Exceptions cannot
  // leave an OpenMP region, so each file's error is kept and the first in file order is rethrown after the
  // loop (every file is tried, so which error is reported does not depend on the thread schedule).
  std::vector<std::string> errors(count);
  std::atomic<bool> any_error{false};
#pragma omp parallel for schedule(dynamic, 4) if (count >= 16)
  for (int64_t i = 0; i < count; ++i) {
    try {
      read_image_into("read_image_folder", files[i].string(), options.channels, options.size, x + i * image_numel);
    } catch (const std::exception& e) {
      errors[i] = e.what();
      any_error = true;
    }
  }
  if (any_error)
    for (const std::string& message : errors)
      if (!message.empty()) fail(message);
  return set;
}

namespace {

// Sizes of a batch of images given to write_image_grid, whatever layout it came in.
struct GridInput {
  int64_t count, channels, height, width;
};

GridInput grid_input_layout(const Tensor& images) {
  const Shape& s = images.shape();
  const std::string what = "write_image_grid: images " + images.str();
  GG_CHECK(images.dim() >= 2 && images.dim() <= 4,
           what + " must be (N, C, H, W), (N, H, W) or (N, H*W) with a square H = W");
  if (images.dim() == 4) {
    GG_CHECK(s[1] == 1 || s[1] == 3, what + " must have 1 or 3 channels");
    return {s[0], s[1], s[2], s[3]};
  }
  if (images.dim() == 3) return {s[0], 1, s[1], s[2]};
  const int64_t side = std::llround(std::sqrt(double(s[1])));
  GG_CHECK(side * side == s[1], what + " is flat but " + std::to_string(s[1]) + " is not a square number of pixels");
  return {s[0], 1, side, side};
}

}  // namespace

void write_image_grid(const std::string& path, const Tensor& images, int columns, int padding, int scale) {
  GG_CHECK(images.defined(), "write_image_grid: images is undefined");
  const GridInput in = grid_input_layout(images);
  GG_CHECK(in.count > 0 && in.height > 0 && in.width > 0, "write_image_grid: images " + images.str() + " is empty");
  GG_CHECK(columns >= 0 && padding >= 0 && scale >= 1,
           "write_image_grid: need columns >= 0, padding >= 0, scale >= 1; got " + std::to_string(columns) + ", " +
               std::to_string(padding) + ", " + std::to_string(scale));
  const int64_t cols = columns > 0 ? columns : static_cast<int64_t>(std::ceil(std::sqrt(double(in.count))));
  const int64_t rows = (in.count + cols - 1) / cols;
  const int64_t tile_h = in.height * scale, tile_w = in.width * scale;
  const int64_t out_h = rows * tile_h + (rows - 1) * padding, out_w = cols * tile_w + (cols - 1) * padding;
  GG_CHECK(out_w <= (1 << 24) && out_h <= (1 << 24) && out_w * out_h * in.channels <= (int64_t(1) << 31),
           "write_image_grid: a grid of " + std::to_string(out_w) + "x" + std::to_string(out_h) +
               " pixels is too large for '" + path + "'");

  const std::vector<double> values = images.to_vector();  // any dtype, any device
  const int channels = static_cast<int>(in.channels);
  std::vector<unsigned char> canvas(out_h * out_w * channels, 128);
  const int64_t plane = in.height * in.width;
  for (int64_t n = 0; n < in.count; ++n) {
    const int64_t top = (n / cols) * (tile_h + padding), left = (n % cols) * (tile_w + padding);
    const double* image = values.data() + n * in.channels * plane;
    for (int64_t y = 0; y < tile_h; ++y)
      for (int64_t x = 0; x < tile_w; ++x)
        for (int c = 0; c < channels; ++c) {
          double v = image[c * plane + (y / scale) * in.width + (x / scale)];
          v = std::isnan(v) ? 0.0 : std::clamp(v, 0.0, 1.0);
          canvas[((top + y) * out_w + (left + x)) * channels + c] = static_cast<unsigned char>(std::lround(v * 255));
        }
  }

  std::vector<unsigned char> png;
  auto append = [](void* context, void* data, int size) {
    auto* bytes = static_cast<std::vector<unsigned char>*>(context);
    bytes->insert(bytes->end(), static_cast<unsigned char*>(data), static_cast<unsigned char*>(data) + size);
  };
  int ok = stbi_write_png_to_func(append, &png, static_cast<int>(out_w), static_cast<int>(out_h), channels,
                                  canvas.data(), static_cast<int>(out_w * channels));
  GG_CHECK(ok && !png.empty(), "write_image_grid: encoding the PNG for '" + path + "' failed");
  write_file_atomic(path, std::string_view(reinterpret_cast<const char*>(png.data()), png.size()));
}

}  // namespace gg
