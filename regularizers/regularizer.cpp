#include "regularizers/regularizer.h"

#include <nlohmann/json.hpp>

#include "regularizers/contractive.h"
#include "regularizers/poisson.h"

namespace gg {

using nlohmann::json;

namespace {

ExtraLoss contractive_loss(const json& section) {
  const ContractiveTerm term = section.get<ContractiveTerm>();
  return [term](Autoencoder& model, const Tensor& x, Generator& gen) { return contractive_term(model, x, term, gen); };
}

ExtraLoss poisson_loss(const json& section) {
  const PoissonOptions options = section.get<PoissonOptions>();
  return [options](Autoencoder& model, const Tensor& x, Generator& gen) {
    return options.lambda * poisson_regularizer(model, x, options, gen).loss;
  };
}

}  // namespace

const Registry<RegularizerFactory>& regularizer_registry() {
  static const Registry<RegularizerFactory> registry(
      "regularizer",
      {{"contractive", "lambda ||J(x)||_F^2 of the encoder or the whole map (eq. 3; exact, Hutchinson, closed form)",
        contractive_loss},
       {"poisson", "lambda L_Pois: paper 000's Poisson-potential regularizer (eq. 8-10)", poisson_loss}});
  return registry;
}

ExtraLoss make_regularizer_loss(const json& term) {
  const std::string kind = term.at("kind");
  return regularizer_registry().at(kind, "regularizer.kind").make(term);
}

}  // namespace gg
