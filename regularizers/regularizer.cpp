#include "regularizers/regularizer.h"

#include <nlohmann/json.hpp>

#include "regularizers/contractive.h"
#include "regularizers/poisson.h"

namespace gg {

using nlohmann::json;

namespace {
double lambda_of(const json& section) {
  GG_CHECK(section.contains("lambda") && section["lambda"].is_number() && section["lambda"].get<double>() >= 0,
           "regularizer.lambda: expected a number >= 0, got " + (section.contains("lambda") ? section["lambda"].dump() : "nothing"));
  return section["lambda"];
}
}  // namespace

ExtraLoss make_regularizer_loss(const json& section) {
  const std::string kind = section.at("kind");
  const double lambda = lambda_of(section);
  if (kind == "contractive") {
    for (const auto& [key, value] : section.items())
      GG_CHECK(key == "kind" || key == "lambda" || key == "penalty",
               "regularizer: unknown key '" + key + "' for kind contractive (known: kind, lambda, penalty)");
    const PenaltyOptions options = section.value("penalty", json::object()).get<PenaltyOptions>();
    return [lambda, options](Autoencoder& model, const Tensor& x, Generator& gen) {
      return lambda * mean(contractive_source(model, x, options, gen).s);
    };
  }
  if (kind == "poisson") {
    PoissonOptions options = section.get<PoissonOptions>();  // refuses unknown keys by name
    return [options](Autoencoder& model, const Tensor& x, Generator& gen) {
      return options.lambda * poisson_regularizer(model, x, options, gen).loss;
    };
  }
  fail("regularizer.kind: unknown regularizer '" + kind + "' (known: none, contractive, poisson)");
}

}  // namespace gg
