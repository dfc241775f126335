// MNIST-format image sets (MNIST, Fashion-MNIST, and anything shipped the same way) as a Dataset.
//
// The files are IDX (see datasets/idx_format.h), raw or gzip-compressed: an image file of type u8 and shape
// (N, H, W) and a label file of type u8 and shape (N). Every error is a gg::Error naming the file at fault.
#pragma once

#include <string>
#include <vector>

#include "datasets/dataset.h"

namespace gg {

// An image file and its label file as one set: x f32 (N, 1, H, W) holding pixel / 255, labels int32 in
// [0, 255], num_classes = the largest label + 1. Both files must be u8; the images 3-D, the labels 1-D, with
// the same N. limit > 0 keeps the first `limit` images only and inflates no further than them, so a run on a
// slice of Fashion-MNIST does not decompress 60,000 images; the rest of the image file is then not read (its
// header and the whole label file still are).
Dataset read_idx_pair(const std::string& images_path, const std::string& labels_path,
                      const std::string& name, int64_t limit = 0);

// The file names a folder may use for one split's images or labels, in the order they are tried: the names
// of the Fashion-MNIST / MNIST downloads, raw then gzipped ("train-images-idx3-ubyte", ".gz"), then the
// dotted variant of some MNIST mirrors ("train-images.idx3-ubyte", ".gz"). `split` is "train" or "test"
// ("t10k-...").
std::vector<std::string> idx_file_names(const std::string& split, bool labels);

// One split of a folder holding MNIST-format files (see idx_file_names): split "train" or "test". The set is
// named after the folder ("fashion-mnist" for /usr/share/datasets/fashion-mnist). When a file is missing, the
// error lists every name that was looked for. `limit` as for read_idx_pair.
Dataset load_idx_folder(const std::string& dir, const std::string& split, int64_t limit = 0);

}  // namespace gg
