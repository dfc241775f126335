// Corruptions by name: the registry of kinds with their amounts' ranges, "kind:amount" specs, and corrupt().
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <sstream>

#include "datasets/corruption.h"

namespace gg {

namespace {

constexpr double kUnbounded = std::numeric_limits<double>::infinity();

std::string valid_kinds_text() {
  std::string text;
  for (const auto& e : corruption_registry().entries())
    text += (text.empty() ? "" : ", ") + e.name + ":<" + e.make.amount_meaning + ">";
  return text;
}

std::string trimmed(const std::string& s) {
  size_t begin = 0, end = s.size();
  while (begin < end && std::isspace(static_cast<unsigned char>(s[begin]))) ++begin;
  while (end > begin && std::isspace(static_cast<unsigned char>(s[end - 1]))) --end;
  return s.substr(begin, end - begin);
}

}  // namespace

const Registry<CorruptionKind>& corruption_registry() {
  static const Registry<CorruptionKind> registry(
      "corruption",
      {{"noise", "x + sigma N(0, I)", {"sigma", kUnbounded, false, gaussian_noise}},
       {"mask", "entries (pixels across channels) set to 0 with the drop probability",
        {"drop probability", 1.0, true, random_mask}},
       {"rotation", "a turn by an angle uniform in [-max, max] degrees (points about the batch mean)",
        {"max degrees", kUnbounded, false,
         [](const Tensor& x, double amount, Generator& gen) { return random_rotation(x, amount, gen); }}},
       {"zoom", "a scale uniform in [1 - a, 1 + a] (points about the batch mean)",
        {"max scale change", 1.0, false,
         [](const Tensor& x, double amount, Generator& gen) { return random_zoom(x, amount, gen); }}}});
  return registry;
}

const std::vector<std::string>& corruption_kinds() {
  static const std::vector<std::string> kinds = corruption_registry().names();
  return kinds;
}

void check_corruption_amount(const char* op, const std::string& kind, double amount) {
  const CorruptionKind& rule = corruption_registry().at(kind, op).make;
  const bool ok = std::isfinite(amount) && amount >= 0 && (rule.upper_included ? amount <= rule.upper : amount < rule.upper);
  const std::string range = rule.upper == kUnbounded
                                ? std::string("a finite number >= 0")
                                : "in [0, " + number_text(rule.upper) + (rule.upper_included ? "]" : ")");
  GG_CHECK(ok, std::string(op) + ": " + rule.amount_meaning + " must be " + range + ", got " + number_text(amount));
}

CorruptionSpec parse_corruption(const std::string& text) {
  const std::string usage = "parse_corruption: '" + text + "' is not kind:amount with kind one of " + valid_kinds_text();
  const size_t colon = text.find(':');
  GG_CHECK(colon != std::string::npos, usage);
  CorruptionSpec spec;
  spec.kind = trimmed(text.substr(0, colon));
  std::transform(spec.kind.begin(), spec.kind.end(), spec.kind.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  GG_CHECK(corruption_registry().contains(spec.kind),
           "parse_corruption: unknown kind '" + spec.kind + "' in '" + text + "'; valid: " + valid_kinds_text());
  const CorruptionKind& rule = corruption_registry().at(spec.kind, "parse_corruption").make;

  const std::string amount = trimmed(text.substr(colon + 1));
  char* end = nullptr;
  spec.amount = amount.empty() ? 0.0 : std::strtod(amount.c_str(), &end);
  GG_CHECK(!amount.empty() && end == amount.c_str() + amount.size(),
           "parse_corruption: '" + amount + "' in '" + text + "' is not a number (" + rule.amount_meaning + ")");
  check_corruption_amount("parse_corruption", spec.kind, spec.amount);
  return spec;
}

Corrupted corrupt(const Tensor& x, const CorruptionSpec& spec, Generator& gen) {
  GG_CHECK(corruption_registry().contains(spec.kind),
           "corrupt: unknown kind '" + spec.kind + "'; valid: " + valid_kinds_text());
  return corruption_registry().at(spec.kind, "corrupt").make.apply(x, spec.amount, gen);
}

}  // namespace gg
