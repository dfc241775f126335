// Image files in and out: one image as a tensor, a folder of images as a Dataset, and a batch of images as
// one PNG contact sheet. Decoding, encoding and resizing are stb's (datasets/stb_impl.cpp).
#pragma once

#include <string>

#include "datasets/dataset.h"
#include "engine/tensor.h"

namespace gg {

// Reads one image file (PNG, JPEG, BMP, GIF (first frame), TGA, PSD, PNM, HDR: whatever stb_image
// decodes) as an f32 tensor of shape (channels, size, size) with values in [0, 1].
//   channels: 1 (grey) or 3 (RGB). Grey -> RGB replicates the grey value; RGB -> grey is the luminance
//     0.299 R + 0.587 G + 0.114 B (ITU-R BT.601, as stb and PIL compute it). An alpha channel is
//     composited on black (colour * alpha), so transparent areas read as 0, the background of MNIST-like
//     data; the alpha itself is then dropped.
//   size: the image is resized to size x size with stb_image_resize (Mitchell filter when shrinking,
//     Catmull-Rom when enlarging, edges clamped, values treated as linear), ignoring its aspect ratio: a
//     non-square image is squashed, not cropped. An image already size x size is not resampled, so its
//     values are exactly byte / 255. Results are clamped to [0, 1] (the filters can overshoot).
// An unreadable or corrupt file throws gg::Error naming the file and stb's reason.
Tensor read_image(const std::string& path, int channels, int size);

struct ImageFolderOptions {
  int size = 28;     // every image is resized to size x size
  int channels = 1;  // 1 grey, 3 RGB
};

// Reads a folder of images into a Dataset with x f32 (N, channels, size, size), each image as read_image.
// Two layouts:
//   - images directly in `dir`: an unlabelled set (labels empty, num_classes 0, class_names empty);
//   - one sub-folder per class: class_names = the sorted names of the sub-folders that hold images,
//     num_classes = their count, and each image's label indexes class_names. Only one level is read.
// Image files are recognised by extension, case-insensitively (.png .jpg .jpeg .bmp .gif .tga .psd .pnm
// .ppm .pgm .hdr .pic); other files and hidden entries (names starting with '.', e.g. macOS's "._x.png")
// are ignored. Within a folder, files are taken in sorted filename order, classes in class order, so the
// sample order is fixed. Errors (gg::Error): `dir` missing or not a folder, no images found, images both
// directly in `dir` and in sub-folders, or any image unreadable (the message names the file).
// The Dataset's name is the folder's name.
Dataset read_image_folder(const std::string& dir, const ImageFolderOptions& options = {});

// Writes a batch of images as one PNG grid (a contact sheet), e.g. to look at samples or reconstructions.
//   images: (N, C, H, W) with C = 1 or 3, or (N, H, W), or (N, H*W) with a square H = W (grey); f32 or f64.
//     Values are clamped to [0, 1] (NaN reads as 0) and stored as round(255 v).
//   columns: tiles per row; 0 means ceil(sqrt(N)). Rows = ceil(N / columns).
//   padding: pixels of mid grey (128) between neighbouring tiles (not around the border, not scaled).
//   scale: integer nearest-neighbour upscaling of every tile, so 28-pixel digits are visible.
// The PNG is columns * W * scale + (columns - 1) * padding pixels wide and rows * H * scale +
// (rows - 1) * padding high; tile i sits in row i / columns, column i % columns; unused cells are grey.
// Grey images give a 1-channel PNG, RGB images a 3-channel one. The file is written atomically: to a
// temporary file in the same folder, then renamed over `path`. Failure throws gg::Error naming `path`.
void write_image_grid(const std::string& path, const Tensor& images, int columns = 0, int padding = 2, int scale = 1);

}  // namespace gg
