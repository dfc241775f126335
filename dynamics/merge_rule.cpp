#include "dynamics/merge_rule.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/gradgrad.h"

namespace gg {

double code_scale(const Tensor& z) {
  int64_t n = 0, k = 0;
  const std::vector<double> v = rows_as_doubles(z, n, k);
  if (n < 2 || k < 1) return 0.0;
  double total = 0;
  for (int64_t c = 0; c < k; ++c) {
    double mean = 0, sq = 0;
    for (int64_t i = 0; i < n; ++i) mean += v[size_t(i * k + c)];
    mean /= double(n);
    for (int64_t i = 0; i < n; ++i) sq += (v[size_t(i * k + c)] - mean) * (v[size_t(i * k + c)] - mean);
    total += sq / double(n);
  }
  return std::sqrt(total / double(k));
}

double effective_tol(double tol, double scale, const std::string& units) {
  GG_CHECK(units == "code" || units == "absolute", "--tol-units must be 'code' or 'absolute', got '" + units + "'");
  return units == "code" && scale > 0 ? tol * scale * scale : tol;
}

MergeChoice merge_rule_for(int64_t k, double scale, double tol) {
  MergeChoice m;
  if (k <= kMaxDistanceMergeDim) {
    m.rule = "distance";
    m.merge.cos_threshold = 2.0;  // a cosine never exceeds 1: the cosine rule is off
    m.merge.distance_threshold = std::max(kMergeScaleFraction * scale, kMergeTolFactor * std::sqrt(std::max(tol, 0.0)));
  } else {
    m.rule = "cosine";
    m.merge.cos_threshold = 0.99;
    m.merge.distance_threshold = 0.0;  // exact duplicates (zero vectors included) only
  }
  return m;
}

PooledAttractors pool_attractors(const std::vector<const Trajectories*>& runs, const AttractorMerge& merge,
                                 size_t ranked) {
  PooledAttractors p;
  p.offset.assign(runs.size() + 1, 0);
  std::vector<Tensor> finals;
  std::vector<bool> include;
  std::vector<size_t> source_of;
  for (size_t s = 0; s < runs.size(); ++s) {
    const Trajectories& t = *runs[s];
    p.offset[s + 1] = p.offset[s] + t.size();
    if (t.size() == 0) continue;
    finals.push_back(t.final.to(DType::f64));
    for (int64_t i = 0; i < t.size(); ++i) include.push_back(t.converged(i)), source_of.push_back(s);
  }
  if (finals.empty()) return p;
  p.all = find_attractors(concat(finals, 0), include, merge);
  const int64_t n = p.all.size();
  p.counts.assign(static_cast<size_t>(n), std::vector<int64_t>(runs.size(), 0));
  for (size_t i = 0; i < p.all.assignment.size(); ++i)
    if (p.all.assignment[i] >= 0) ++p.counts[size_t(p.all.assignment[i])][source_of[i]];
  p.order.resize(static_cast<size_t>(n));
  for (int64_t a = 0; a < n; ++a) p.order[size_t(a)] = a;
  auto ranked_count = [&](int64_t a) {
    int64_t c = 0;
    for (size_t s = 0; s < std::min(ranked, runs.size()); ++s) c += p.counts[size_t(a)][s];
    return c;
  };
  std::stable_sort(p.order.begin(), p.order.end(), [&](int64_t a, int64_t b) {
    return ranked_count(a) != ranked_count(b) ? ranked_count(a) > ranked_count(b)
                                               : p.all.counts[size_t(a)] > p.all.counts[size_t(b)];
  });
  return p;
}

std::vector<int64_t> converged_rows(const Trajectories& t) {
  std::vector<int64_t> rows;
  for (int64_t i = 0; i < t.size(); ++i)
    if (t.converged(i)) rows.push_back(i);
  return rows;
}

double mean_iterations(const Trajectories& t) {
  if (t.size() == 0) return std::numeric_limits<double>::quiet_NaN();
  double s = 0;
  for (int64_t n : t.iterations) s += double(n);
  return s / double(t.size());
}

}  // namespace gg
