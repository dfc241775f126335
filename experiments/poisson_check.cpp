#include "experiments/poisson_check.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

#include "experiments/output.h"
#include "experiments/progress.h"
#include "models/training.h"
#include "regularizers/poisson.h"
#include "regularizers/poisson_grid.h"
#include "regularizers/regularizer.h"

namespace gg {

using nlohmann::json;

namespace {

// The density the config's data is drawn from, in the coordinates the model sees (after normalization).
GaussianMixture config_density(const Trainer& t) {
  const json& data = t.config()["data"];
  const std::string name = data["name"];
  GaussianMixture g;
  if (name == "gaussian-mixture") {
    g = default_gaussian_mixture();
  } else if (name == "two-moons") {
    g = two_moons_density(data["noise"].get<double>());
  } else {
    fail(
        "poisson-check: the grid needs a known density; data.name must be \"two-moons\" or "
        "\"gaussian-mixture\", "
        "got \"" +
        name + "\"");
  }
  const Normalizer& nz = t.normalizer();
  if (nz.kind == "none") return g;
  auto per_coordinate = [](std::vector<double> v) {  // one value for every feature, or one each
    if (v.size() == 1) v.resize(2, v[0]);
    return v;
  };
  return affine_image(g, per_coordinate(nz.shift), per_coordinate(nz.scale));
}

std::vector<double> mixture_mean(const GaussianMixture& g) {
  std::vector<double> mean(static_cast<size_t>(g.dim()), 0.0);
  for (size_t k = 0; k < g.means.size(); ++k)
    for (size_t i = 0; i < mean.size(); ++i) mean[i] += g.weights[k] * g.means[k][i];
  return mean;
}

// The half width of a square round `centre` that holds every component's mean and 1.5 of its deviations: the
// density is small but not zero on the boundary, so the boundary flux is not trivially 0.
double covering_half_width(const GaussianMixture& g, const std::vector<double>& centre) {
  double half = 0;
  const size_t d = centre.size();
  for (size_t k = 0; k < g.means.size(); ++k)
    for (size_t i = 0; i < d; ++i)
      half =
          std::max(half, std::abs(g.means[k][i] - centre[i]) + 1.5 * std::sqrt(g.covariances[k][i * d + i]));
  return half;
}

PoissonOptions poisson_term(const json& config) {
  for (const json& term : config["regularizer"])
    if (term.at("kind") == "poisson") return term.get<PoissonOptions>();
  fail(
      "poisson-check: the config has no \"poisson\" term in its \"regularizer\" section; the check takes its "
      "estimator options from it");
}

// The median time of one training step (milliseconds) of `config`, after one untimed epoch (the first Ritz
// solve, the allocator's warm-up), over `epochs` epochs; the test-set pass after each epoch is not counted.
double step_milliseconds(const json& config, int64_t epochs) {
  Trainer t(config, make_regularizer_loss);
  t.train_epoch();
  std::vector<double> steps;
  for (int64_t e = 0; e < epochs; ++e) {
    auto last = std::chrono::steady_clock::now();
    t.train_epoch([&](int64_t, double) {
      const auto now = std::chrono::steady_clock::now();
      steps.push_back(std::chrono::duration<double, std::milli>(now - last).count());
      last = now;
    });
  }
  std::sort(steps.begin(), steps.end());
  return steps[steps.size() / 2];
}

// The table's name of a potential of GridCheck::node_v: the estimators by their training names.
std::string row_name(const std::string& grid_check_name) {
  return grid_check_name == "dirichlet"    ? "grid"
         : grid_check_name == "quadrature" ? "paper"
                                           : grid_check_name;
}

struct Row {
  std::string name, estimator;  // estimator: the regularizer's name for it, "" for a reference or diagnostic
  const PotentialTerms* terms;
  double ms_per_step = 0;
};

// How a training config asks for the row's estimator.
std::string training_name(const Row& r) {
  if (r.estimator.empty()) return "";
  return r.estimator == "ritz" ? "ritz, boundary " + std::string(r.name == "ritz_box" ? "box" : "corrupted")
                               : r.estimator;
}

}  // namespace

PoissonCheckResult poisson_check_experiment(const PoissonCheckOptions& o, const std::string& out) {
  GG_CHECK(o.grid >= 8, "poisson-check: --grid must be >= 8, got " + std::to_string(o.grid));
  GG_CHECK(o.samples >= 16, "poisson-check: --samples must be >= 16, got " + std::to_string(o.samples));
  GG_CHECK(o.ritz_steps >= 1 && o.cost_epochs >= 1,
           "poisson-check: --ritz-steps and --cost-epochs must be >= 1");
  GG_CHECK(o.half_width >= 0, "poisson-check: --half-width must be >= 0 (0: chosen from the density)");
  Stopwatch clock;
  json config = read_json_file(o.config_path);
  apply_overrides(config, o.sets);
  Trainer trainer(config, make_regularizer_loss);
  const json& full = trainer.config();
  const PoissonOptions poisson = poisson_term(full);
  GG_CHECK(trainer.model().config().input_shape == Shape{2},
           "poisson-check: the grid is 2-D; the config's model takes " +
               shape_str(trainer.model().config().input_shape));
  const RunFolderLock lock(out);
  write_run_info(out, "poisson-check", o.command);
  ProgressBar bar("poisson-check", 5, 1);

  // The density round its mean (the Laplacian does not mind the shift; the source is evaluated where it was).
  const GaussianMixture density = config_density(trainer);
  const std::vector<double> centre = mixture_mean(density);
  const double half_width = o.half_width > 0 ? o.half_width : covering_half_width(density, centre);
  const GaussianMixture centred = affine_image(density, centre, {1.0, 1.0});
  const SourceFn encoder = encoder_source(trainer.model());
  const Tensor shift = Tensor::from_data(centre, {1, 2}, DType::f64);
  const SourceFn source = [&](const Tensor& x) { return encoder(x + shift); };  // eq. 3 at the data's place

  GridCheckOptions g;
  g.n = o.grid;
  g.half_width = half_width;
  g.samples = o.samples;
  g.quadrature_points = poisson.quadrature_points;
  g.eps = poisson.eps;
  g.corruption = poisson.corruption;
  g.normal_eps = poisson.normal_eps;
  g.seed = o.seed;
  g.density_bandwidth = poisson.density_bandwidth;
  g.ritz = true;
  g.ritz_options = poisson.ritz;
  g.ritz_options.first_steps = o.ritz_steps;
  bar.update(1, "grid and estimators");
  const GridCheck c = poisson_grid_check(centred, source, g);

  // Each training estimator's step, beside the plain step of the same config (its variant, no regularizer).
  std::vector<Row> rows = {{"grid", "", &c.dirichlet},
                           {"paper", "paper", &c.quadrature},
                           {"importance", "importance", &c.importance},
                           {"ritz", "ritz", &c.ritz},
                           {"ritz_box", "ritz", &c.ritz_box},
                           {"ritz_omega", "", &c.ritz_omega},
                           {"ritz_oracle", "", &c.ritz_oracle},
                           {"weighted", "", &c.weighted}};
  json plain = full;
  plain["regularizer"] = json::array();
  bar.update(2, "cost of a plain step");
  const double plain_ms = step_milliseconds(plain, o.cost_epochs);
  int64_t done = 2;
  for (Row& r : rows) {
    if (r.estimator.empty()) continue;
    json with = full;
    for (json& term : with["regularizer"])
      if (term["kind"] == "poisson") {
        term["estimator"] = r.estimator;
        if (r.estimator == "ritz") term["ritz"]["boundary"] = r.name == "ritz_box" ? "box" : "corrupted";
      }
    bar.update(++done, "cost of a step with the " + r.estimator + " estimator");
    r.ms_per_step = step_milliseconds(with, o.cost_epochs);
  }

  // The table, the files.
  json table = json::array();
  CsvWriter csv(
      "estimator,training_name,boundary_flux,coupling,flux_minus_coupling,green_residual,v_error,"
      "grad_error,v_error_data,grad_error_data,flux_proxy_eq7,L_pois_eq9,ms_per_step,cost_vs_plain");
  std::string text;
  char line[400];
  std::snprintf(
      line, sizeof line,
      "R = %.6f (eq. 11)   grid: n = %lld, Omega = centre +- %.3g, mass on Omega %.4f, residual %.2e\n"
      "%-11s %10s %10s %10s %10s %8s %8s %8s %8s %10s %8s %8s\n",
      c.source, static_cast<long long>(c.n), half_width, c.mass, c.residual, "potential", "flux", "coupling",
      "flux-coup", "green res", "v err", "grad err", "v data", "grad dat", "L_Pois", "ms/step", "x plain");
  text += line;
  for (const Row& r : rows) {
    const PotentialTerms& t = *r.terms;
    const double split = t.boundary_flux - t.coupling_grid;
    const double ratio = r.ms_per_step > 0 ? r.ms_per_step / plain_ms : 0;
    table.push_back({{"estimator", r.name},
                     {"training_name", r.estimator.empty() ? json() : json(training_name(r))},
                     {"boundary_flux", json_number(t.boundary_flux)},
                     {"coupling", json_number(t.coupling_grid)},
                     {"coupling_sampled", json_number(t.coupling)},
                     {"flux_minus_coupling", json_number(split)},
                     {"green_residual", json_number(t.green_residual)},
                     {"v_error", json_number(t.v_error)},
                     {"grad_error", json_number(t.grad_error)},
                     {"v_error_data", json_number(t.v_error_data)},
                     {"grad_error_data", json_number(t.grad_error_data)},
                     {"flux_proxy_eq7", json_number(t.flux_proxy)},
                     {"L_pois_eq9", json_number(t.loss())},
                     {"ms_per_step", r.ms_per_step > 0 ? json_number(r.ms_per_step) : json()},
                     {"cost_vs_plain", r.ms_per_step > 0 ? json_number(ratio) : json()}});
    csv << r.name << "," << training_name(r) << "," << t.boundary_flux << "," << t.coupling_grid << ","
        << split << "," << t.green_residual << "," << t.v_error << "," << t.grad_error << ","
        << t.v_error_data << "," << t.grad_error_data << "," << t.flux_proxy << "," << t.loss() << ",";
    if (r.ms_per_step > 0)
      csv << r.ms_per_step << "," << ratio;
    else
      csv << ",";
    csv << "\n";
    char cost[40] = "";
    if (r.ms_per_step > 0) std::snprintf(cost, sizeof cost, "%8.2f %8.1f", r.ms_per_step, ratio);
    std::snprintf(line, sizeof line, "%-11s %10.6f %10.6f %10.6f %10.6f %8.3f %8.3f %8.3f %8.3f %10.6f %s\n",
                  r.name.c_str(), t.boundary_flux, t.coupling_grid, split, t.green_residual, t.v_error,
                  t.grad_error, t.v_error_data, t.grad_error_data, t.loss(), cost);
    text += line;
  }
  std::snprintf(line, sizeof line, "%-11s %65s %8.2f %8.1f\n", "plain step", "", plain_ms, 1.0);
  text += line;
  csv.write(out + "/poisson_check.csv");

  // p, s and every v on the grid nodes, in the model's coordinates (the centre added back).
  std::string header = "x0,x1,p,s";
  for (const auto& [name, v] : c.node_v) header += ",v_" + row_name(name);
  CsvWriter nodes(header);
  for (size_t k = 0; k < c.node_x.size(); ++k) {
    nodes << c.node_x[k] + centre[0] << "," << c.node_y[k] + centre[1] << "," << c.node_p[k] << ","
          << c.node_s[k];
    for (const auto& [name, v] : c.node_v) nodes << "," << v[k];
    nodes << "\n";
  }
  nodes.write(out + "/potentials.csv");

  auto fit = [](const RitzReport& r) {  // the check's fits: energy and |dE/dtheta| at the last step
    return json{{"steps", r.steps},
                {"energy", json_number(r.energy)},
                {"gradient_norm", json_number(r.gradient_norm)}};
  };
  PoissonCheckResult result;
  result.minutes = clock.lap() / 60;
  result.table = text;
  result.check = {{"config", full},
                  {"data", full["data"]["name"]},
                  {"grid",
                   {{"n", c.n},
                    {"h", c.h},
                    {"half_width", half_width},
                    {"centre", centre},
                    {"mass", c.mass},
                    {"R", c.source},
                    {"flux", c.flux},
                    {"coupling", c.coupling},
                    {"residual", c.residual},
                    {"integral_p2_s", c.source_density_weighted}}},
                  {"monte_carlo",
                   {{"samples", c.samples},
                    {"mean_s", c.mc_source},
                    {"quadrature_points", poisson.quadrature_points},
                    {"corruption", poisson.corruption}}},
                  {"ritz_fits",
                   {{"ritz", fit(c.ritz_fit)},
                    {"ritz_box", fit(c.ritz_box_fit)},
                    {"ritz_omega", fit(c.ritz_omega_fit)},
                    {"ritz_oracle", fit(c.ritz_oracle_fit)}}},
                  {"plain_ms_per_step", plain_ms},
                  {"estimators", table},
                  {"minutes", result.minutes}};
  write_json(out + "/poisson_check.json", result.check);
  bar.finish("done");
  return result;
}

}  // namespace gg
