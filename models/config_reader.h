// One way to read a section of a JSON config, with one error format for every section of every config:
//
//   regularizer[0].lambda: expected a number, got "0.1"
//   variant: unknown key 'lamda' (known: kind, lambda, corruption, mask, score, rho)
//   regularizer[0].penalty.method: expected one of "exact", "hutchinson", "closed_form", "auto", got "fast"
//
// A struct's from_json builds a ConfigReader on its JSON object, reads each field (absent keys keep the
// struct's default; `required` keys must be there), then calls done(), which refuses every key it was not
// asked for. A field whose type has a from_json of its own (a nested section, or a list of them) is read by
// that from_json, under the path of the key it sits at; so a struct reads the same way at the top of a
// config or nested in another, and its errors always carry the whole path.
#pragma once

#include <concepts>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <type_traits>
#include <vector>

#include "datasets/files.h"
#include "engine/core.h"

namespace gg {

class ConfigReader {
 public:
  // `j` must be a JSON object. `path` names it in errors (e.g. "variant") when no reader above set one.
  ConfigReader(const nlohmann::json& j, const std::string& path);

  const std::string& path() const { return path_; }
  bool has(const std::string& key) const { return j_.contains(key); }
  // The value at `key` (registers the key as known); an Error "path.key: required" when absent.
  const nlohmann::json& at(const std::string& key);

  // Reads `key` into `field` when present, checking its type; returns whether it was present.
  template <class T>
  bool read(const std::string& key, T& field) {
    known_.push_back(key);
    if (!j_.contains(key)) return false;
    field = convert<T>(j_[key], key);
    return true;
  }
  // The same for a key the section cannot do without.
  template <class T>
  T required(const std::string& key) {
    T out{};
    if (!read(key, out)) fail_at(key, "required");
    return out;
  }
  // A string that must be one of `choices`.
  bool read_choice(const std::string& key, std::string& field, const std::vector<std::string>& choices);
  // Marks keys as known without reading them (a section some other code reads).
  void allow(const std::vector<std::string>& keys) { known_.insert(known_.end(), keys.begin(), keys.end()); }

  // Refuses every key of the object that no read, required, at or allow asked for.
  void done() const;
  // An Error "path.key: problem".
  [[noreturn]] void fail_at(const std::string& key, const std::string& problem) const;

 private:
  template <class T>
  T convert(const nlohmann::json& v, const std::string& key) const;

  const nlohmann::json& j_;
  std::string path_;
  std::vector<std::string> known_;
};

// "path.key" for errors; "[i]" keys are appended without a dot.
std::string config_path(const std::string& path, const std::string& key);
// Runs `read` with `path` as the path the next ConfigReader takes (a nested section's), so errors inside it
// name where it sits. Errors raised outside a ConfigReader are left as they are.
void with_config_path(const std::string& path, const std::function<void()>& read);

// A config struct lists its keys once, in a function found by argument-dependent lookup,
//
//   template <class Self, class Field> void config_fields(Self& o, Field&& field) {
//     field("lambda", o.lambda);
//     field("method", o.method, kMethods);  // a string that must be one of kMethods
//   }
//
// and reads and writes itself through that one list, so a key added to the struct is added in one place.
// Where every key is its member's name and no key is a choice, GG_CONFIG_FIELDS writes that function:
//
//   GG_CONFIG_FIELDS(VariantConfig, kind, lambda, corruption, mask, score, rho)
//
// (each member becomes `field("member", self.member);`, through nlohmann's own for-each macro).
#define GG_CONFIG_FIELD(member) field(#member, self.member);
#define GG_CONFIG_FIELDS(Type, ...)                                                 \
  template <class Self, class Field>                                                \
    requires std::same_as<std::remove_const_t<Self>, Type>                          \
  void config_fields(Self& self, Field&& field) {                                   \
    NLOHMANN_JSON_EXPAND(NLOHMANN_JSON_PASTE(GG_CONFIG_FIELD, __VA_ARGS__))          \
  }

template <class T>
void write_fields(nlohmann::json& j, const T& o) {
  if (!j.is_object()) j = nlohmann::json::object();
  config_fields(o, [&](const char* key, const auto& value, const auto&...) { j[key] = value; });
}
template <class T>
void read_fields(ConfigReader& r, T& o) {
  config_fields(o, [&](const char* key, auto& value, const auto&... choices) {
    if constexpr (sizeof...(choices) > 0)
      r.read_choice(key, value, choices...);
    else
      r.read(key, value);
  });
}

template <class T>
struct IsVector : std::false_type {};
template <class T>
struct IsVector<std::vector<T>> : std::true_type {};

template <class T>
T ConfigReader::convert(const nlohmann::json& v, const std::string& key) const {
  auto expect = [&](bool ok, const char* what) {
    if (!ok) fail_at(key, std::string("expected ") + what + ", got " + json_brief(v));
  };
  if constexpr (std::is_same_v<T, nlohmann::json>) {
    return v;
  } else if constexpr (std::is_same_v<T, bool>) {
    expect(v.is_boolean(), "true or false");
    return v.get<bool>();
  } else if constexpr (std::is_integral_v<T> && std::is_unsigned_v<T>) {
    expect(v.is_number_unsigned(), "a non-negative integer");
    return v.get<T>();
  } else if constexpr (std::is_integral_v<T>) {
    expect(v.is_number_integer(), "an integer");
    return v.get<T>();
  } else if constexpr (std::is_floating_point_v<T>) {
    expect(v.is_number(), "a number");
    return v.get<T>();
  } else if constexpr (std::is_same_v<T, std::string>) {
    expect(v.is_string(), "a string");
    return v.get<std::string>();
  } else if constexpr (IsVector<T>::value) {
    expect(v.is_array(), "an array");
    T out;
    for (size_t i = 0; i < v.size(); ++i)
      out.push_back(convert<typename T::value_type>(v[i], key + "[" + std::to_string(i) + "]"));
    return out;
  } else {  // a section with a from_json of its own
    T out{};
    with_config_path(config_path(path_, key), [&] { out = v.get<T>(); });
    return out;
  }
}

}  // namespace gg
