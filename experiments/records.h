// The JSON blocks that several experiments write into their metrics.json, each written in one place: the
// iteration's settings, a picture's grid, one source's attractor census, and the flat record of a
// memorization report that `gradgrad sweep` keeps per bottleneck and `train --track-dynamics` per epoch.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "dynamics/field.h"
#include "dynamics/memorization.h"

namespace gg {

nlohmann::json iterate_json(const IterateOptions& o);  // {tol, max_iters}
nlohmann::json grid_json(const Grid2d& g);             // {x_min, x_max, y_min, y_max, nx, ny}
// {starts, converged, distinct_attractors, fraction_distinct, mean_iterations}
nlohmann::json census_json(const AttractorCensus& c);

// distinct_<s>, converged_<s>, starts_<s> for s in train, test, noise; memorization_mean, memorization_std,
// attractor_rank, chamfer_noise_train, fpr95_noise_vs_train, auroc_noise_vs_train (NaN -> null).
nlohmann::json memorization_record(const MemorizationReport& r);

// One CSV line per record: `columns` are (column name, record key) pairs; the header is the column names.
// Numbers with 10 significant digits, null as nan.
std::string records_csv(const std::vector<nlohmann::json>& records,
                        const std::vector<std::pair<std::string, std::string>>& columns);

}  // namespace gg
