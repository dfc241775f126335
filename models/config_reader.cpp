#include "models/config_reader.h"

#include <algorithm>

namespace gg {

namespace {
// The path the next ConfigReader takes, set by the reader of the section it sits in (with_config_path) and
// taken (cleared) by that next reader, so a reader built later elsewhere does not inherit it.
thread_local std::string pending_path;
}  // namespace

std::string config_path(const std::string& path, const std::string& key) {
  if (path.empty()) return key;
  return key.starts_with("[") ? path + key : path + "." + key;
}

void with_config_path(const std::string& path, const std::function<void()>& read) {
  const std::string outer = pending_path;
  pending_path = path;
  try {
    read();
  } catch (...) {
    pending_path = outer;
    throw;
  }
  pending_path = outer;
}

ConfigReader::ConfigReader(const nlohmann::json& j, const std::string& path) : j_(j) {
  path_ = pending_path.empty() ? path : pending_path;
  pending_path.clear();
  if (!j.is_object()) fail(path_ + ": expected a JSON object, got " + json_brief(j));
}

const nlohmann::json& ConfigReader::at(const std::string& key) {
  known_.push_back(key);
  if (!j_.contains(key)) fail_at(key, "required");
  return j_[key];
}

bool ConfigReader::read_choice(const std::string& key, std::string& field, const std::vector<std::string>& choices) {
  std::string value;
  if (!read(key, value)) return false;
  if (std::find(choices.begin(), choices.end(), value) == choices.end()) {
    std::string quoted;
    for (const std::string& c : choices) quoted += (quoted.empty() ? "\"" : ", \"") + c + "\"";
    fail_at(key, "expected one of " + quoted + ", got \"" + value + "\"");
  }
  field = value;
  return true;
}

void ConfigReader::done() const {
  for (const auto& [key, value] : j_.items())
    if (std::find(known_.begin(), known_.end(), key) == known_.end()) {
      std::vector<std::string> known;
      for (const std::string& k : known_)
        if (std::find(known.begin(), known.end(), k) == known.end()) known.push_back(k);
      fail(path_ + ": unknown key '" + key + "' (known: " + joined_names(known) + ")");
    }
}

void ConfigReader::fail_at(const std::string& key, const std::string& problem) const {
  fail(config_path(path_, key) + ": " + problem);
}

}  // namespace gg
