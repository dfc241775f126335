#include "dynamics/roc.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <utility>

#include "engine/core.h"

namespace gg {

RocCurve roc_curve(const std::vector<double>& id_scores, const std::vector<double>& ood_scores) {
  GG_CHECK(!id_scores.empty() && !ood_scores.empty(), "roc_curve: needs at least one ID and one OOD score");
  std::vector<std::pair<double, int>> points;  // (score, 0 = ID, 1 = OOD)
  for (double s : id_scores) {
    GG_CHECK(!std::isnan(s), "roc_curve: an ID score is NaN");
    points.emplace_back(s, 0);
  }
  for (double s : ood_scores) {
    GG_CHECK(!std::isnan(s), "roc_curve: an OOD score is NaN");
    points.emplace_back(s, 1);
  }
  std::sort(points.begin(), points.end());
  const double n_id = double(id_scores.size()), n_ood = double(ood_scores.size());
  RocCurve c;
  c.threshold.push_back(-std::numeric_limits<double>::infinity());
  c.fpr.push_back(0.0);
  c.tpr.push_back(0.0);
  int64_t id = 0, ood = 0;
  for (size_t i = 0; i < points.size();) {
    const double tau = points[i].first;
    for (; i < points.size() && points[i].first == tau; ++i) (points[i].second ? ood : id) += 1;
    c.threshold.push_back(tau);
    c.fpr.push_back(double(ood) / n_ood);
    c.tpr.push_back(double(id) / n_id);
  }
  return c;
}

double roc_area(const RocCurve& c) {
  double area = 0;
  for (size_t i = 1; i < c.fpr.size(); ++i) area += (c.fpr[i] - c.fpr[i - 1]) * 0.5 * (c.tpr[i] + c.tpr[i - 1]);
  return area;
}

}  // namespace gg
