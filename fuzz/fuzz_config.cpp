// libFuzzer target for the training config, the whole way `gradgrad train --config F --set K=V` reads it before
// any data is loaded: the JSON reader (parse_json), the --set overrides (apply_overrides), the canonical form
// (canonical_config: defaults, old spellings, unknown keys) and every check the Trainer makes of its sections
// (plan_training: model, variant, each regularizer term through the regularizers' own parsers, optimizer,
// schedule, training). Any input must either give a plan, with a canonical form that reads back as itself (what
// --resume compares), or raise a gg::Error. Any other exception (an uncaught nlohmann exception is a message
// without its file or key), a crash, a sanitizer report or a leak is a bug. Run by scripts/fuzz.
//
// An input is the config's text, after any number of lines "--set key.path=value".
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "datasets/files.h"
#include "engine/core.h"
#include "models/train_config.h"
#include "models/training.h"
#include "regularizers/regularizer.h"

namespace {

// The data's sample shape, as the Trainer would take it from the data: the model's input_shape where the config
// gives a plausible one (so that the rest of the plan is reached), else a 2-D toy set's.
gg::Shape sample_shape(const nlohmann::json& config) {
  const nlohmann::json& m = config["model"];
  if (m.contains("input_shape") && m["input_shape"].is_array() && !m["input_shape"].empty() &&
      m["input_shape"].size() <= 4) {
    gg::Shape s;
    for (const nlohmann::json& d : m["input_shape"]) {
      if (!d.is_number_integer() || d.get<int64_t>() < 1 || d.get<int64_t>() > 4096) return {2};
      s.push_back(d.get<int64_t>());
    }
    return s;
  }
  return {2};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string source = "config 'fuzz-input.json'";
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> sets;
  while (text.starts_with("--set ")) {
    const size_t eol = text.find('\n');
    if (eol == std::string_view::npos) break;
    sets.emplace_back(text.substr(6, eol - 6));
    text.remove_prefix(eol + 1);
  }
  try {
    nlohmann::json user = gg::parse_json(std::string(text), source);
    gg::apply_overrides(user, sets);
    const nlohmann::json config = gg::canonical_config(user);
    if (gg::canonical_config(config) != config) __builtin_trap();
    (void)gg::plan_training(config, sample_shape(config), gg::make_regularizer_loss);
  } catch (const gg::Error&) {
  }
  return 0;
}
