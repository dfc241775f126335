#include "regularizers/regularizer.h"

#include <cstdio>
#include <memory>
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
  // The Ritz estimator's v_theta lives as long as the term, so each step's inner solve starts from the last.
  // Its state goes into checkpoints (ExtraLoss::save_state), so a resumed run continues from the same theta.
  const auto ritz = std::make_shared<RitzPotential>(options.ritz);
  ExtraLoss term = [options, ritz](Autoencoder& model, const Tensor& x, Generator& gen) {
    const PoissonTerms terms = poisson_regularizer(model, x, options, gen, {}, ritz.get(), /*values=*/false);
    if (terms.ritz.diverged) {  // the step goes on without L_Pois: said here, counted in metrics.json
      std::fprintf(stderr,
                   "poisson (ritz): %s diverged; this step's L_Pois is skipped (%lld of %lld steps so far)\n",
                   terms.ritz.reason.c_str(), static_cast<long long>(ritz->skipped()),
                   static_cast<long long>(ritz->solves()));
      return Tensor{};
    }
    return options.lambda * terms.loss;
  };
  if (options.estimator == "ritz") {
    term.save_state = [ritz] { return ritz->save_state(); };
    term.load_state = [ritz](const NamedTensors& state) { ritz->load_state(state); };
  }
  return term;
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
