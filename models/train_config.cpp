// The training config: its defaults, its canonical form (old spellings rewritten) and --set overrides.
#include "models/train_config.h"

#include <algorithm>

#include "datasets/files.h"
#include "engine/backend/backend.h"
#include "models/autoencoder.h"
#include "models/variants.h"

namespace gg {

using nlohmann::json;

json default_train_config() {
  return {{"seed", 0},
          {"device", "cpu"},
          {"data",
           {{"name", "two-moons"}, {"n", 2048}, {"test_n", 512}, {"noise", 0.1}, {"normalize", "none"},
            {"limit", 0}, {"test_limit", 0}, {"test_fraction", 0.2}, {"image_size", 28}, {"channels", 1}}},
          {"model", json::object()},
          {"variant", json(VariantConfig{})},
          {"optimizer", {{"name", "adam"}, {"lr", 1e-3}, {"weight_decay", 0.0}}},
          {"schedule", {{"kind", "constant"}}},
          {"regularizer", json::array()},
          {"training",
           {{"epochs", 100}, {"batch_size", 128}, {"clip_grad_norm", 0.0}, {"checkpoint_every", 10},
            {"anomaly_check", false}}}};
}

void apply_overrides(json& config, const std::vector<std::string>& sets) {
  for (const auto& s : sets) {
    const auto eq = s.find('=');
    GG_CHECK(eq != std::string::npos && eq > 0, "--set " + s + ": expected key.path=value");
    const std::string path = s.substr(0, eq), text = s.substr(eq + 1);
    json value;
    try {
      value = parse_json(text, "--set " + path);
    } catch (const Error&) {
      value = text;  // a bare word such as adamw
    }
    try {
      (void)value.dump();  // nlohmann refuses to write a string that is not UTF-8: say so here, with the key
    } catch (const json::type_error&) {
      fail("--set " + path + ": the value is not valid UTF-8");
    }
    json* node = &config;
    size_t start = 0;
    for (;;) {
      const auto dot = path.find('.', start);
      const std::string key = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
      GG_CHECK(node->is_object(), "--set " + path + ": '" + path.substr(0, start ? start - 1 : 0) + "' is not a section");
      if (dot == std::string::npos) {
        // New keys are allowed inside a section; the section's own parser refuses the ones it does not know.
        (*node)[key] = value;
        break;
      }
      GG_CHECK(node->contains(key), "--set " + path + ": the config has no section '" + path.substr(0, dot) + "'");
      node = &(*node)[key];
      start = dot + 1;
    }
  }
}

const json* find_regularizer_term(const json& config, const std::string& kind) {
  if (!config.contains("regularizer") || !config["regularizer"].is_array()) return nullptr;
  for (const json& term : config["regularizer"])
    if (term.is_object() && term.value("kind", std::string()) == kind) return &term;
  return nullptr;
}


namespace {

// The regularizer section as a list of term objects, each with a string "kind"; "none" is no term.
json regularizer_terms(const json& section) {
  const json items = section.is_array() ? section : json::array({section});
  json terms = json::array();
  for (size_t i = 0; i < items.size(); ++i) {
    const json& t = items[i];
    const std::string where = section.is_array() ? "regularizer[" + std::to_string(i) + "]" : "regularizer";
    GG_CHECK(t.is_object() && t.contains("kind") && t["kind"].is_string(),
             where + ": expected an object with a \"kind\", got " + json_brief(t));
    if (t["kind"] == "none") {
      GG_CHECK(t.size() == 1, where + ": kind \"none\" takes no other keys, got " + json_brief(t));
      continue;
    }
    terms.push_back(t);
  }
  return terms;
}

// The old spelling of the contractive penalty, variant.kind "contractive" / "contractive_full" (the header
// says what it becomes). `c` is complete, so the variant has every key of the old VariantConfig.
void rewrite_contractive_variant(json& c) {
  json& v = c["variant"];
  if (!v.is_object()) return;  // VariantConfig's parser says what is wrong with it
  const json probes = v.contains("probes") ? v["probes"] : json(0);
  v.erase("probes");  // an old VariantConfig key that every other kind ignored
  if (!v.contains("kind") || !v["kind"].is_string()) return;  // VariantConfig's parser names what is wrong
  const std::string kind = v["kind"];
  if (kind != "contractive" && kind != "contractive_full") return;
  GG_CHECK(probes.is_number_integer() && probes.get<int64_t>() >= 0,
           "variant.probes: expected an integer >= 0, got " + json_brief(probes));
  const int64_t k = probes;
  const json term = {{"kind", "contractive"},
                     {"lambda", v["lambda"]},
                     {"of", kind == "contractive" ? "encoder" : "autoencoder"},
                     {"penalty", k == 0 ? json{{"method", "exact"}} : json{{"method", "hutchinson"}, {"probes", k}}}};
  GG_CHECK(!find_regularizer_term(c, "contractive"),
           "regularizer: two terms of kind 'contractive' (variant.kind \"" + kind + "\" is the old spelling of one); "
           "keep one of them");
  v["kind"] = "plain";
  v["lambda"] = 0.0;
  c["regularizer"].insert(c["regularizer"].begin(), term);
}

// Fills the defaults under the user's config, refusing keys the config does not have.
json complete_config(const json& user) {
  GG_CHECK(user.is_object(), "config: expected a JSON object");
  json c = default_train_config();
  for (const auto& [section, value] : user.items()) {
    GG_CHECK(c.contains(section), "config: unknown key '" + section +
                                      "' (known: seed, device, data, model, variant, optimizer, schedule, training, regularizer)");
    if (section == "seed") {
      GG_CHECK(value.is_number_integer() && value.get<int64_t>() >= 0,
               "seed: expected a non-negative integer, got " + json_brief(value));
      c[section] = value;
      continue;
    }
    if (section == "device") {
      GG_CHECK(value.is_string(), "device: expected a string such as \"cpu\", got " + json_brief(value));
      const Device d = parse_device(value.get<std::string>());
      backend_for(d);  // refuses by name a device this build has no backend for
      c[section] = value;
      continue;
    }
    if (section == "regularizer") {
      c[section] = regularizer_terms(value);
      continue;
    }
    GG_CHECK(value.is_object(), section + ": expected a JSON object, got " + json_brief(value));
    if (section == "optimizer" && value.contains("name") && value["name"] != c["optimizer"]["name"])
      c[section] = json::object();  // another optimizer's defaults would not fit it
    for (const auto& [key, v] : value.items()) {
      const bool free_form = section == "model" || section == "variant" || section == "optimizer" ||
                             section == "schedule";
      GG_CHECK(free_form || c[section].contains(key), section + ": unknown key '" + key + "'");
      if (!free_form) {
        const json& like = c[section][key];
        const bool fits = like.is_number_integer() ? v.is_number_integer()
                          : like.is_number()        ? v.is_number()
                                                    : std::string(like.type_name()) == v.type_name();
        GG_CHECK(fits, section + "." + key + ": expected " + (like.is_number_integer() ? "an integer" : like.type_name()) +
                           ", got " + json_brief(v));
      }
      c[section][key] = v;
    }
  }
  rewrite_contractive_variant(c);
  std::vector<std::string> kinds;
  for (const json& term : c["regularizer"]) {
    const std::string kind = term["kind"];
    GG_CHECK(std::find(kinds.begin(), kinds.end(), kind) == kinds.end(),
             "regularizer: two terms of kind '" + kind + "'; a kind appears once (it names the term's record)");
    kinds.push_back(kind);
  }
  return c;
}

}  // namespace

json canonical_config(const json& config) {
  json c = complete_config(config);
  json& m = c["model"];
  if (m.contains("input_shape")) {  // else the Trainer fills it from the data first
    if (!m.contains("seed")) m["seed"] = c["seed"].get<uint64_t>();
    if (!m.contains("device")) m["device"] = c["device"];
    m = json(m.get<AutoencoderConfig>());
  }
  c["variant"] = json(c["variant"].get<VariantConfig>());
  return c;
}

}  // namespace gg
