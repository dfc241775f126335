#include "datasets/mnist_json_format.h"

#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "engine/core.h"

namespace gg {

namespace {

using json = nlohmann::json;

// nlohmann's error text without its "[json.exception.parse_error.101] " tag.
std::string without_tag(const std::string& what) {
  size_t tag_end = what.find("] ");
  return what.rfind("[json.exception", 0) == 0 && tag_end != std::string::npos ? what.substr(tag_end + 2)
                                                                               : what;
}

// Streams the file through nlohmann's SAX parser (a digit file holds 800k numbers; a DOM of them costs
// several times the parse) and keeps only the numbers of the top-level "data" array, checking each as it
// comes. The first problem stops the parse and is kept in `error`.
class DigitFileReader : public nlohmann::json_sax<json> {
 public:
  std::vector<float> values;
  std::string error;  // empty while all is well
  bool seen_data = false;

  bool null() override { return value("a null"); }
  bool boolean(bool) override { return value("a boolean"); }
  bool number_integer(number_integer_t v) override { return number(static_cast<double>(v), nullptr); }
  bool number_unsigned(number_unsigned_t v) override { return number(static_cast<double>(v), nullptr); }
  bool number_float(number_float_t v, const string_t& text) override { return number(v, &text); }
  bool string(string_t&) override { return value("a string"); }
  bool binary(binary_t&) override { return value("binary data"); }
  bool start_object(std::size_t) override { return value("an object") && open(); }
  bool start_array(std::size_t) override {
    if (depth_ == 1 && next_is_data_) {  // the "data" array itself
      next_is_data_ = false;
      in_data_ = true;
      seen_data = true;
      return open();
    }
    return value("an array") && open();
  }
  bool key(string_t& k) override {
    if (depth_ == 1 && k == "data") {
      if (seen_data) return stop("\"data\" appears twice");
      next_is_data_ = true;
    }
    return true;
  }
  bool end_object() override { return close(); }
  bool end_array() override {
    if (depth_ == 2 && in_data_) in_data_ = false;
    return close();
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    // A syntax error, or out_of_range for a number that overflows a double (1e999).
    return stop(std::string(e.id == 406 ? "cannot read JSON: " : "not JSON: ") + without_tag(e.what()));
  }

 private:
  // A value other than a number, of kind `kind` ("a string", ...): fine outside "data", an error in it.
  bool value(const char* kind) {
    if (depth_ == 0 && std::string(kind) != "an object")
      return stop(std::string("expected an object {\"data\": [...]}, file holds ") + kind);
    if (depth_ == 1 && next_is_data_)
      return stop(std::string("\"data\" is ") + kind + ", expected an array of numbers");
    if (in_data_ && depth_ == 2)
      return stop("data[" + std::to_string(values.size()) + "] is " + kind + ", expected a number in [0, 1]");
    return true;
  }
  bool number(double v, const string_t* text) {
    if (depth_ == 0 || (depth_ == 1 && next_is_data_)) return value("a number");
    if (!(in_data_ && depth_ == 2)) return true;
    if (!std::isfinite(v) || v < 0.0 || v > 1.0) {
      char shown[32];
      std::snprintf(shown, sizeof shown, "%.17g", v);
      return stop("data[" + std::to_string(values.size()) + "] = " + (text ? *text : std::string(shown)) +
                  " is outside [0, 1]");
    }
    values.push_back(static_cast<float>(v));
    return true;
  }
  bool open() {
    ++depth_;
    next_is_data_ = false;
    return true;
  }
  bool close() {
    --depth_;
    return true;
  }
  bool stop(const std::string& message) {
    if (error.empty()) error = message;
    return false;
  }

  int depth_ = 0;              // 1 inside the top-level object, 2 inside one of its values
  bool next_is_data_ = false;  // the key just read at depth 1 was "data"
  bool in_data_ = false;
};

}  // namespace

std::vector<float> parse_mnist_json_digit(const std::string& text, const std::string& source) {
  DigitFileReader reader;
  try {
    json::sax_parse(text, &reader);
  } catch (const json::exception& e) {  // the SAX interface reports errors, but stay safe
    reader.error = "not JSON: " + without_tag(e.what());
  }
  if (!reader.error.empty()) fail(source + ": " + reader.error);
  if (!reader.seen_data) fail(source + ": missing \"data\": expected an object {\"data\": [...]}");
  const size_t n = reader.values.size();
  if (n == 0 || n % kMnistJsonPixels != 0)
    fail(source + ": \"data\" has " + std::to_string(n) + " numbers, expected a positive multiple of " +
         std::to_string(kMnistJsonPixels) + " (" + std::to_string(kMnistJsonSide) + "x" +
         std::to_string(kMnistJsonSide) + " images)");
  return std::move(reader.values);
}

}  // namespace gg
