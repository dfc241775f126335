// Helpers for the models tests: the message of an expected error (a scratch folder is tests/helpers.h's TempDir).
#pragma once

#include <doctest/doctest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

#include "engine/gradgrad.h"
#include "tests/helpers.h"

namespace gg::test {

// The message of the gg::Error that f throws; fails the test if it throws none.
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  FAIL("expected a gg::Error");
  return "";
}

inline bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace gg::test
