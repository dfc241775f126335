// libFuzzer target for the one JSON reader of configs, run files and checkpoint metadata (parse_json in
// datasets/files.h): any input must either parse into a value nested at most kMaxJsonDepth deep, which can be
// described (json_brief) and written back, or raise a gg::Error naming the source. Any other exception, a
// crash (the audit's stack overflow on deep nesting), a sanitizer report or a leak is a bug. Run by
// scripts/fuzz.
#include <cstdint>
#include <string>

#include "datasets/files.h"
#include "engine/core.h"

namespace {

int depth_of(const nlohmann::json& j) {
  int deepest = 0;
  if (j.is_structured())
    for (const auto& v : j) deepest = std::max(deepest, depth_of(v));
  return j.is_structured() ? deepest + 1 : 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string source = "config 'fuzz-input.json'";
  try {
    const nlohmann::json j = gg::parse_json(std::string(reinterpret_cast<const char*>(data), size), source);
    if (depth_of(j) > gg::kMaxJsonDepth) __builtin_trap();
    (void)gg::json_brief(j);
    (void)j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } catch (const gg::Error& e) {
    if (std::string(e.what()).rfind(source, 0) != 0) __builtin_trap();
  }
  return 0;
}
