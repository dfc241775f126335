// The regularizers a training config can ask for in its "regularizer" list, as the Trainer's ExtraLoss:
//   {"kind": "contractive", "lambda": L, "of": ..., "penalty": PenaltyOptions}   lambda * mean_b ||J(x_b)||_F^2
//   {"kind": "poisson", "lambda": L, ...PoissonOptions}                          lambda * L_Pois (eq. 8-9)
// Each kind is one entry of regularizer_registry(); an unknown kind or key is refused with its name.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include "engine/registry.h"
#include "models/training.h"

namespace gg {

// Builds one term's loss from its JSON object (whose "kind" selected the entry).
using RegularizerFactory = ExtraLoss (*)(const nlohmann::json& term);
// Every regularizer kind (`gradgrad help` lists them).
const Registry<RegularizerFactory>& regularizer_registry();

// The ExtraLoss of one term of the config's "regularizer" list: the Trainer's ExtraLossFactory.
ExtraLoss make_regularizer_loss(const nlohmann::json& term);

}  // namespace gg
