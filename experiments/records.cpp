#include "experiments/records.h"

#include <cstdio>
#include <sstream>

#include "dynamics/merge_rule.h"
#include "experiments/output.h"

namespace gg {

using nlohmann::json;

json iterate_json(const IterateOptions& o) { return {{"tol", o.tol}, {"max_iters", o.max_iters}}; }

json grid_json(const Grid2d& g) {
  return {{"x_min", g.x_min}, {"x_max", g.x_max}, {"y_min", g.y_min}, {"y_max", g.y_max}, {"nx", g.nx}, {"ny", g.ny}};
}

json census_json(const AttractorCensus& c) {
  return {{"starts", c.starts},
          {"converged", c.converged},
          {"distinct_attractors", c.distinct},
          {"fraction_distinct", c.fraction},
          {"mean_iterations", json_number(mean_iterations(c.trajectories))}};
}

json memorization_record(const MemorizationReport& r) {
  json j;
  for (const auto& [name, c] : {std::pair<const char*, const AttractorCensus*>{"train", &r.train},
                                {"test", &r.test},
                                {"noise", &r.noise}}) {
    j[std::string("distinct_") + name] = c->distinct;
    j[std::string("converged_") + name] = c->converged;
    j[std::string("starts_") + name] = c->starts;
  }
  j["memorization_mean"] = json_number(r.memorization.mean);
  j["memorization_std"] = json_number(r.memorization.std);
  j["attractor_rank"] = r.attractor_rank;
  j["chamfer_noise_train"] = json_number(r.chamfer_noise_train);
  j["fpr95_noise_vs_train"] = json_number(r.fpr95_noise_vs_train);
  j["auroc_noise_vs_train"] = json_number(r.auroc_noise_vs_train);
  return j;
}

std::string records_csv(const std::vector<json>& records, const std::vector<std::pair<std::string, std::string>>& columns) {
  std::ostringstream csv;
  for (size_t c = 0; c < columns.size(); ++c) csv << (c ? "," : "") << columns[c].first;
  csv << "\n";
  for (const json& r : records) {
    for (size_t c = 0; c < columns.size(); ++c) {
      const json& v = r.contains(columns[c].second) ? r[columns[c].second] : json(nullptr);
      csv << (c ? "," : "");
      if (v.is_number_integer()) {
        csv << v.get<int64_t>();
      } else if (v.is_number()) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.10g", v.get<double>());
        csv << buf;
      } else if (v.is_null()) {
        csv << "nan";
      } else {
        csv << (v.is_string() ? v.get<std::string>() : v.dump());
      }
    }
    csv << "\n";
  }
  return csv.str();
}

}  // namespace gg
