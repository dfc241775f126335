#include "cli/args.h"

#include "engine/core.h"

namespace gg::cli {

Args::Args(int argc, char** argv, const std::set<std::string>& flags) : tokens_(argv, argv + argc) {
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--", 0) != 0) {
      positional_.push_back(a);
      continue;
    }
    std::string key = a.substr(2), value;
    const auto eq = key.find('=');
    if (eq != std::string::npos) {
      value = key.substr(eq + 1);
      key = key.substr(0, eq);
    } else if (flags.count(key)) {
      flags_given_.insert(key);
      continue;
    } else {
      GG_CHECK(i + 1 < argc, "option --" + key + " needs a value");
      value = argv[++i];
    }
    if (key == "set") {
      sets_.push_back(value);
      read_.insert(key);
    } else {
      GG_CHECK(!values_.count(key), "option --" + key + " given twice");
      values_[key] = value;
    }
  }
}

std::string Args::get(const std::string& key, const std::string& fallback) const {
  read_.insert(key);
  const auto it = values_.find(key);
  return it == values_.end() ? fallback : it->second;
}

std::string Args::require(const std::string& key) const {
  read_.insert(key);
  const auto it = values_.find(key);
  GG_CHECK(it != values_.end(), "missing option --" + key);
  return it->second;
}

int64_t Args::get_int(const std::string& key, int64_t fallback) const {
  const std::string v = get(key, "");
  if (v.empty()) return fallback;
  size_t used = 0;
  int64_t out = 0;
  try {
    out = std::stoll(v, &used);
  } catch (const std::exception&) {
  }
  GG_CHECK(used == v.size(), "option --" + key + " expects an integer, got '" + v + "'");
  return out;
}

double Args::get_double(const std::string& key, double fallback) const {
  const std::string v = get(key, "");
  if (v.empty()) return fallback;
  size_t used = 0;
  double out = 0;
  try {
    out = std::stod(v, &used);
  } catch (const std::exception&) {
  }
  GG_CHECK(used == v.size(), "option --" + key + " expects a number, got '" + v + "'");
  return out;
}

bool Args::flag(const std::string& key) const {
  read_.insert(key);
  return flags_given_.count(key) > 0;
}

void Args::finish() const {
  for (const auto& [key, value] : values_) GG_CHECK(read_.count(key), "unknown option --" + key);
  for (const auto& key : flags_given_) GG_CHECK(read_.count(key), "unknown option --" + key);
}

}  // namespace gg::cli
