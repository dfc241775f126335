// The regularizers a training config can ask for in its "regularizer" section, as the Trainer's ExtraLoss:
//   {"kind": "contractive", "lambda": L, "penalty": PenaltyOptions}   lambda * mean_b s_phi(x_b) (eq. 3)
//   {"kind": "poisson", "lambda": L, ...PoissonOptions}               lambda * L_Pois (eq. 8-9)
// An unknown kind or key is refused with its name.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include "models/training.h"

namespace gg {

ExtraLoss make_regularizer_loss(const nlohmann::json& section);

}  // namespace gg
