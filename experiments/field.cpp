#include "experiments/field.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>

#include "dynamics/attractors.h"
#include "dynamics/ood.h"
#include "experiments/field_analysis.h"
#include "experiments/output.h"
#include "experiments/progress.h"
#include "experiments/records.h"
#include "experiments/run_folder.h"

namespace gg {

using nlohmann::json;
using namespace field_detail;

namespace {

constexpr double kNan = std::numeric_limits<double>::quiet_NaN();

std::vector<double> concat_pairs(std::initializer_list<std::vector<double>> parts) {
  std::vector<double> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// The starts and their censuses (section 3.2), in the merge rule and tolerance of the training codes' scale.
void census(Analysis& a, const FieldOptions& o, const Tensor& train_x, const Tensor& test_x) {
  Autoencoder& model = a.trainer->model();
  const Tensor z_train = encode_batched(model, select_rows(train_x, pick_rows(train_x.size(0), o.starts, o.seed)));
  a.scale = code_scale(z_train);
  a.iterate = o.iterate;
  a.iterate.tol = effective_tol(o.iterate.tol, a.scale, o.tol_units);
  a.merge = merge_rule_for(a.k, a.scale, a.iterate.tol);
  MemorizationReportOptions mo;
  mo.samples = o.starts;  // the training and test rows are picked as pick_rows does: the same z_train
  mo.noise_samples = o.noise_starts;
  mo.seed = o.seed;
  mo.iterate = a.iterate;
  mo.merge = a.merge.merge;
  StageProgress progress("dynamics");
  mo.progress = std::ref(progress);
  a.report = memorization_report(model, train_x, test_x, mo);
  const DType dt = model.config().dtype;
  a.starts = {a.report.train.trajectories.start,
              a.report.test.trajectories.start.defined() ? a.report.test.trajectories.start
                                                         : Tensor::zeros({0, a.k}, dt),
              a.report.noise.trajectories.start};
}

// The local picture at every pooled attractor: Definitions 1-3, and the power iteration on the most visited.
double spectra(Analysis& a, uint64_t seed) {
  const LatentMap f = latent_map_of(a.trainer->model());
  const int64_t n = a.pooled.all.size();
  if (n > 0) a.fixed_points = analyze_fixed_points(f, a.pooled.all.points, a.iterate.tol, true);
  a.power.assign(size_t(n), {});
  a.has_power.assign(size_t(n), false);
  double gap = 0;
  for (int64_t r = 0; r < std::min<int64_t>(n, kPowerIterationCap); ++r) {
    const int64_t i = a.pooled.order[size_t(r)];
    PowerIterationOptions po;
    po.seed = seed + uint64_t(i);
    // Near-degenerate singular values (a slow line of attractors has sigma_2 ~ sigma_1 ~ 1) make the power
    // iteration crawl: a tight tolerance and room for iterations keep it from stopping short.
    po.max_iters = 2000;
    po.tol = 1e-12;
    a.power[size_t(i)] = spectral_norm_power(f, select_rows(a.pooled.all.points, {i}), po);
    a.has_power[size_t(i)] = true;
    gap = std::max(gap, std::abs(a.power[size_t(i)].sigma - a.fixed_points[size_t(i)].spectral_norm) /
                            std::max(a.fixed_points[size_t(i)].spectral_norm, 1e-12));
  }
  return gap;
}

// Proposition 3.2 against the measured iteration counts (Figure 11), for every source's converged starts.
json convergence(Analysis& a) {
  const LatentMap f = latent_map_of(a.trainer->model());
  json pearson = json::object();
  std::vector<double> pred, meas;
  for (int s = 0; s < kSources; ++s) {
    if (a.run(s).size() == 0) continue;
    const ConvergenceSpeed& c = a.speed[size_t(s)] = convergence_speed(f, a.run(s));
    pearson[std::string("pearson_") + kSourceName[s]] = json_number(c.pearson);
    pearson[std::string("samples_") + kSourceName[s]] = int64_t(c.samples.size());
    for (size_t i = 0; i < c.samples.size(); ++i)
      if (std::isfinite(c.predicted[i])) pred.push_back(c.predicted[i]), meas.push_back(c.measured[i]);
  }
  pearson["pearson_all"] = json_number(pearson_correlation(pred, meas));
  pearson["finite_predictions"] = int64_t(pred.size());
  return pearson;
}

}  // namespace

FieldResult field_experiment(const FieldOptions& o, const std::string& out) {
  GG_CHECK(o.grid >= 2, "field: the grid needs at least 2 cells per side");
  GG_CHECK(o.starts >= 1 && o.noise_starts >= 1, "field: the starts must be positive");
  GG_CHECK(o.iterate.tol > 0 && o.iterate.max_iters >= 1, "field: the tolerance must be positive, max_iters >= 1");
  Stopwatch clock;
  json seconds = json::object();
  std::unique_ptr<Trainer> trainer = load_model(o.source);
  Analysis a;
  a.trainer = trainer.get();
  Autoencoder& model = trainer->model();
  a.k = model.config().code_dim;
  const DType dt = model.config().dtype;
  const Tensor train_x = trainer->train_set().x.to(dt), test_x = trainer->test_set().x.to(dt);
  std::filesystem::create_directories(out);
  seconds["load"] = clock.lap();

  census(a, o, train_x, test_x);
  const MemorizationReport& r = a.report;
  seconds["iterate_starts"] = clock.lap();

  // The picture plane, its frame, and (k = 2) the basins of attraction on the grid.
  a.plane = Plane(a.starts[kTrain], a.k);
  a.grid = frame_around(concat_pairs({a.plane.project(a.starts[kTrain]), a.plane.project(a.starts[kTest]),
                                      a.plane.project(r.train.attractors.points),
                                      a.plane.project(r.test.attractors.points)}),
                        o.grid, kFrameMargin);
  if (a.k == 2) a.grid_run = iterate(model, a.grid.points(), a.iterate);
  seconds["iterate_grid"] = clock.lap();

  // Every endpoint from every source in one list of attractors, ranked by the data and noise starts.
  a.pooled = pool_attractors({&a.run(kTrain), &a.run(kTest), &a.run(kNoise), &a.run(kGrid)}, a.merge.merge, 3);
  const int64_t n_att = a.pooled.all.size();
  seconds["merge"] = clock.lap();
  const double power_gap = spectra(a, o.seed);
  seconds["spectra"] = clock.lap();

  // Decoded attractors and the memorization measures (section 3.2); Figure 6's variance ratios.
  if (n_att > 0) {
    a.decoded = decode_batched(model, a.pooled.all.points);
    a.mem_all = memorization_coefficient(a.decoded, train_x);
  }
  const int64_t rank_distinct =
      r.train.attractors.size() > 0 ? attractor_rank(decode_batched(model, r.train.attractors.points), 0.9) : 0;
  Autoencoder untrained(model.config());
  const json variance = {{"untrained_input", variance_ratio_at_init(untrained, 1000, o.seed, false)},
                         {"untrained_latent", variance_ratio_at_init(untrained, 1000, o.seed, true)},
                         {"trained_input", variance_ratio_at_init(model, 1000, o.seed, false)},
                         {"trained_latent", variance_ratio_at_init(model, 1000, o.seed, true)}};
  seconds["memorization"] = clock.lap();
  const json pearson = convergence(a);
  seconds["convergence"] = clock.lap();

  write_convergence(a, out);
  write_attractors(a, out);
  write_codes_and_paths(a, out);
  const json pictures = write_field_and_basins(a, out);
  write_decoded(a, out);
  seconds["pictures"] = clock.lap();
  const json potential = write_potential(a, o.grid, o.seed, out);
  if (!potential.is_null()) seconds["potential"] = clock.lap();

  int64_t n_fixed = 0, n_def2 = 0, n_contractive = 0;
  double max_norm = 0, max_radius = 0;
  for (const auto& x : a.fixed_points) {
    n_fixed += x.is_fixed_point, n_def2 += x.is_attractor, n_contractive += x.is_contractive;
    max_norm = std::max(max_norm, x.spectral_norm), max_radius = std::max(max_radius, x.spectral_radius);
  }
  json m;
  m["code_dim"] = a.k;
  m["plane"] = a.plane.is_pca() ? "pca of the training codes" : "the codes";
  // A model trained elsewhere has no history: its test error is measured here.
  m["test_mse"] = trainer->history().empty() ? trainer->reconstruction_error(trainer->test_set())
                                             : trainer->history().back().test_mse;
  m["epochs"] = trainer->epochs_done();
  m["iterate"] = {{"tol", o.iterate.tol}, {"tol_units", o.tol_units}, {"tol_effective", a.iterate.tol},
                  {"max_iters", o.iterate.max_iters}};
  m["merge"] = {{"rule", a.merge.rule},
                {"cos_threshold", a.merge.merge.cos_threshold},
                {"distance_threshold", a.merge.merge.distance_threshold},
                {"code_scale", a.scale}};
  m["train"] = census_json(r.train);
  m["test"] = census_json(r.test);
  m["noise"] = census_json(r.noise);
  m["memorization"] = {
      {"mean", json_number(r.memorization.mean)},
      {"std", json_number(r.memorization.std)},
      {"attractors", int64_t(r.memorization.per_attractor.size())},
      {"nearest_distance_mean", json_number(nearest_distance_mean(model, r.train.attractors.points, train_x))},
      {"over", "distinct attractors of the training starts, cos(D(z*), nearest x_train)"}};
  m["dynamics"] = {{"chamfer_noise_train", json_number(r.chamfer_noise_train)},
                   {"fpr95_noise_vs_train", json_number(r.fpr95_noise_vs_train)},
                   {"auroc_noise_vs_train", json_number(r.auroc_noise_vs_train)},
                   {"attractor_rank_90", r.attractor_rank},
                   {"attractor_rank_90_distinct", rank_distinct}};
  m["attractors"] = {{"total_all_sources", n_att},
                     {"fixed_points", n_fixed},
                     {"attractors_definition_2", n_def2},
                     {"contractive", n_contractive},
                     {"max_spectral_norm", max_norm},
                     {"max_spectral_radius", max_radius},
                     {"power_iteration_checked", std::min<int64_t>(n_att, kPowerIterationCap)},
                     {"power_vs_jacobian_max_rel_gap", power_gap}};
  m["convergence"] = pearson;
  m["variance_ratio"] = variance;
  m["field"] = pictures["field"];
  if (!pictures["basins"].is_null()) m["basins"] = pictures["basins"];
  if (!potential.is_null()) {
    m["potential"] = potential;
    m["potential"].erase("frame");
    m["potential_frame"] = potential["frame"];
  }
  double total = 0;
  for (auto& [key, s] : seconds.items()) total += s.get<double>();
  seconds["total"] = total;
  m["seconds"] = seconds;
  write_json(out + "/metrics.json", m);
  write_run_info(out, "field", o.command);

  FieldResult res;
  res.code_dim = a.k;
  res.code_scale = a.scale;
  res.tol_effective = a.iterate.tol;
  res.merge_rule = a.merge.rule;
  res.distinct_train = r.train.distinct, res.distinct_test = r.test.distinct, res.distinct_noise = r.noise.distinct;
  res.attractors = n_att;
  res.attractors_definition_2 = n_def2;
  res.pearson_all = pearson["pearson_all"].is_null() ? kNan : pearson["pearson_all"].get<double>();
  res.metrics = m;
  return res;
}

std::string FieldResult::summary() const {
  const json& m = metrics;
  const auto count = [&](const char* s, const char* key) { return m[s][key].get<int64_t>(); };
  const auto value = [](const json& v) { return v.is_null() ? kNan : v.get<double>(); };
  char buf[1024];
  std::snprintf(
      buf, sizeof buf,
      "k = %lld, code scale %.3g, stop at squared step < %.3g, merge by %s (threshold %.3g)\n"
      "distinct attractors: train %lld/%lld  test %lld/%lld  noise %lld/%lld (converged: %lld %lld %lld)\n"
      "attractors (all sources) %lld: %lld attractors by Definition 2, max spectral norm %.3g\n"
      "memorization %.4f +- %.4f, rank(90%%) %lld, chamfer(noise, train) %.4f, FPR95 %.3f\n"
      "Proposition 3.2: Pearson r %.3f over %lld finite predictions\n",
      (long long)code_dim, code_scale, tol_effective, merge_rule.c_str(),
      merge_rule == "distance" ? m["merge"]["distance_threshold"].get<double>()
                               : m["merge"]["cos_threshold"].get<double>(),
      (long long)distinct_train, (long long)count("train", "starts"), (long long)distinct_test,
      (long long)count("test", "starts"), (long long)distinct_noise, (long long)count("noise", "starts"),
      (long long)count("train", "converged"), (long long)count("test", "converged"),
      (long long)count("noise", "converged"), (long long)attractors, (long long)attractors_definition_2,
      m["attractors"]["max_spectral_norm"].get<double>(), value(m["memorization"]["mean"]),
      value(m["memorization"]["std"]), (long long)m["dynamics"]["attractor_rank_90"].get<int64_t>(),
      value(m["dynamics"]["chamfer_noise_train"]), value(m["dynamics"]["fpr95_noise_vs_train"]), pearson_all,
      (long long)m["convergence"]["finite_predictions"].get<int64_t>());
  return buf;
}

}  // namespace gg
