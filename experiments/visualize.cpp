#include "experiments/visualize.h"

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "datasets/batching.h"
#include "datasets/corruption.h"
#include "datasets/pca.h"
#include "experiments/output.h"
#include "experiments/progress.h"
#include "experiments/run_folder.h"
#include "models/train_config.h"
#include "regularizers/poisson.h"
#include "regularizers/ritz.h"

namespace gg {

using nlohmann::json;

namespace {
double mean_of(const Tensor& t) { return mean(t.to(DType::f64)).item(); }

// The mean of a sample and its standard error sd / sqrt(n).
std::pair<double, double> mean_and_error(const Tensor& t) {
  const std::vector<double> v = t.detach().to(DType::f64).to_vector();
  double m = 0, ss = 0;
  for (double x : v) m += x / static_cast<double>(v.size());
  for (double x : v) ss += (x - m) * (x - m);
  const double n = static_cast<double>(v.size());
  return {m, n > 1 ? std::sqrt(ss / (n - 1) / n) : 0.0};
}

// A trained run, its first `samples` test samples, and the options of its Poisson term when it was trained with
// one (else the defaults), keeping no graph.
struct RunSamples {
  std::unique_ptr<Trainer> trainer;
  Tensor x;
  PoissonOptions options;
};
RunSamples load_run_samples(const std::string& run, int64_t samples) {
  RunSamples r;
  r.trainer = load_run(run);
  const Dataset& test = r.trainer->test_set();
  std::vector<int64_t> first;
  for (int64_t i = 0; i < std::min<int64_t>(samples, test.size()); ++i) first.push_back(i);
  r.x = subset(test, first).x.to(r.trainer->model().config().dtype);
  const json* term = find_regularizer_term(r.trainer->config(), "poisson");
  r.options = term ? term->get<PoissonOptions>() : PoissonOptions{};
  const AutoencoderConfig& model = r.trainer->model().config();
  if (!term) r.options.eps = default_kernel_eps(model.code_dim, model.dtype);
  r.options.source.create_graph = false;
  return r;
}

// One run's rows of the sweep (visualize.h).
void sweep_run(const VisualizeOptions& o, const std::string& run, const std::vector<std::string>& specs,
               json& rows, CsvWriter& csv) {
  const RunSamples loaded = load_run_samples(run, o.samples);
  Autoencoder& model = loaded.trainer->model();
  const Tensor& x = loaded.x;
  const PoissonOptions& base = loaded.options;
  const std::string label = std::filesystem::path(run).filename().string();
  for (const std::string& estimator : o.estimators) {
    PoissonOptions options = base;
    options.estimator = estimator;
    if (estimator == "ritz") options.ritz.boundary = "box", options.ritz.weighted = true;
    validate(options);
    for (const std::string& spec : specs) {
      options.corruption = spec;
      Generator gen(o.seed);  // the same corrupted inputs for every estimator
      RitzPotential fresh(options.ritz);
      const PoissonTerms t = poisson_regularizer(model, x, options, gen, {}, &fresh);
      Generator source_gen(o.seed + 1);
      const auto [s, s_se] =
          mean_and_error(contractive_source(model, t.x_corrupted, options.source, source_gen).s);
      const auto [v, v_se] = mean_and_error(t.corrupted.v);
      const auto [g, g_se] = mean_and_error(t.grad_norm_corrupted);
      const CorruptionSpec c = parse_corruption(spec);
      rows.push_back({{"run", label},
                      {"estimator", estimator},
                      {"corruption", c.kind},
                      {"amount", c.amount},
                      {"s", s},
                      {"s_se", s_se},
                      {"v", v},
                      {"v_se", v_se},
                      {"grad_v", g},
                      {"grad_v_se", g_se},
                      {"L_pois_eq9", t.loss.item()}});
      csv << label << "," << estimator << "," << c.kind << "," << c.amount << "," << s << "," << s_se << ","
          << v << "," << v_se << "," << g << "," << g_se << "," << t.loss.item() << "\n";
    }
  }
}

}  // namespace

std::vector<std::string> sweep_specs(const std::string& range, int64_t points) {
  const size_t colon = range.find(':'), dots = range.find("..");
  GG_CHECK(colon != std::string::npos && dots != std::string::npos && dots > colon,
           "visualize --sweep: '" + range + "' is not kind:lo..hi (noise:0..0.5, say)");
  GG_CHECK(points >= 2,
           "visualize --sweep-points: needs at least 2 strengths, got " + std::to_string(points));
  const std::string kind = range.substr(0, colon);
  const std::string lo_text = range.substr(colon + 1, dots - colon - 1), hi_text = range.substr(dots + 2);
  auto number = [&](const std::string& text) {
    char* end = nullptr;
    const double v = std::strtod(text.c_str(), &end);
    GG_CHECK(!text.empty() && end == text.c_str() + text.size() && std::isfinite(v),
             "visualize --sweep: '" + text + "' in '" + range + "' is not a number");
    return v;
  };
  const double lo = number(lo_text), hi = number(hi_text);
  GG_CHECK(hi > lo, "visualize --sweep: '" + range + "' needs lo < hi");
  std::vector<std::string> specs;
  for (int64_t i = 0; i < points; ++i) {
    std::ostringstream spec;
    spec << kind << ":" << lo + (hi - lo) * static_cast<double>(i) / static_cast<double>(points - 1);
    parse_corruption(spec.str());  // the kind and the amount, refused here by name
    specs.push_back(spec.str());
  }
  return specs;
}

VisualizeResult visualize_experiment(const VisualizeOptions& o, const std::string& out) {
  GG_CHECK(o.samples >= 1 && !o.corruptions.empty(), "visualize: needs samples >= 1 and a corruption");
  if (!o.sweep.empty()) {
    std::vector<std::string> specs;
    for (const std::string& range : o.sweep)
      for (const std::string& spec : sweep_specs(range, o.sweep_points)) specs.push_back(spec);
    std::filesystem::create_directories(out);
    write_run_info(out, "visualize", o.command);
    std::vector<std::string> runs = {o.run};
    runs.insert(runs.end(), o.compare.begin(), o.compare.end());
    VisualizeResult res;
    res.metrics = {{"sweep", json::array()}};
    CsvWriter csv("run,estimator,corruption,amount,s,s_se,v,v_se,grad_v,grad_v_se,L_pois_eq9");
    ProgressBar bar("visualize --sweep", static_cast<int64_t>(runs.size()), 1);
    for (size_t r = 0; r < runs.size(); ++r) {
      sweep_run(o, runs[r], specs, res.metrics["sweep"], csv);
      bar.update(static_cast<int64_t>(r) + 1, runs[r]);
    }
    bar.finish("done");
    csv.write(out + "/sweep.csv");
    write_json(out + "/metrics.json", res.metrics);
    return res;
  }
  const RunSamples loaded = load_run_samples(o.run, o.samples);
  Autoencoder& model = loaded.trainer->model();
  const Tensor& x = loaded.x;
  const PoissonOptions& base = loaded.options;

  std::filesystem::create_directories(out);
  write_run_info(out, "visualize", o.command);
  VisualizeResult res;
  res.metrics = json::object();
  for (const std::string& spec : o.corruptions) {
    PoissonOptions options = base;
    options.corruption = spec;
    Generator gen(o.seed);
    const PoissonTerms t = poisson_regularizer(model, x, options, gen);
    // s_phi at every clean and corrupted sample (the quadrature holds only M of them).
    Generator source_gen(o.seed + 1);
    const Tensor s_clean = contractive_source(model, x, options.source, source_gen).s;
    const Tensor s_corrupt = contractive_source(model, t.x_corrupted, options.source, source_gen).s;
    const Pca pca = Pca::fit(t.clean.z.detach(), std::min<int64_t>(2, t.clean.z.size(1)));
    const Tensor pc_clean = pca.project(t.clean.z.detach()), pc_corrupt = pca.project(t.corrupted.z.detach());

    // One row per sample and condition: pc0, pc1, s, v, ||grad v||, corrupted (0/1).
    std::ostringstream csv;
    csv << "pc0,pc1,s,v,grad_norm,corrupted\n";
    const int64_t n = x.size(0), k = pc_clean.size(1);
    for (int corrupted = 0; corrupted < 2; ++corrupted) {
      const auto pc = (corrupted ? pc_corrupt : pc_clean).to_vector();
      const auto s = (corrupted ? s_corrupt : s_clean).to_vector();
      const auto v = (corrupted ? t.corrupted.v : t.clean.v).to_vector();
      const auto g = (corrupted ? t.grad_norm_corrupted : t.grad_norm_clean).to_vector();
      for (int64_t i = 0; i < n; ++i)
        csv << pc[i * k] << "," << (k > 1 ? pc[i * k + 1] : 0.0) << "," << s[i] << "," << v[i] << "," << g[i] << ","
            << corrupted << "\n";
    }
    std::string name = spec;
    for (char& c : name) c = c == ':' ? '_' : c;
    write_run_file(out + "/viz_" + name + ".csv", csv.str());
    res.metrics[spec] = {{"s_clean", mean_of(s_clean)},        {"s_corrupted", mean_of(s_corrupt)},
                         {"v_clean", mean_of(t.clean.v)},      {"v_corrupted", mean_of(t.corrupted.v)},
                         {"grad_v_clean", mean_of(t.grad_norm_clean)},
                         {"grad_v_corrupted", mean_of(t.grad_norm_corrupted)},
                         {"flux_eq7", t.flux.item()},          {"coupling_eq13", t.coupling.item()},
                         {"L_pois_eq9", t.loss.item()}};
  }
  if (o.gradient_noise > 0)
    res.metrics["gradient_noise"] =
        poisson_gradient_noise(*loaded.trainer, base, o.gradient_noise, o.noise_sources, o.seed);
  write_json(out + "/metrics.json", res.metrics);
  return res;
}

namespace {

// Every parameter's gradient of `loss`, end to end in f64.
std::vector<double> flat_gradient(const Tensor& loss, const std::vector<Tensor>& params) {
  std::vector<double> out;
  for (const Tensor& g : grad({loss}, params)) {
    const std::vector<double> v = g.to_vector();
    out.insert(out.end(), v.begin(), v.end());
  }
  return out;
}

// ||mean||^2 and the summed per-coordinate variance (n - 1 in the denominator) of n gradients.
json spread_of(const std::vector<std::vector<double>>& g) {
  const size_t n = g.size(), p = g[0].size();
  std::vector<double> mean(p, 0.0);
  for (const auto& a : g)
    for (size_t i = 0; i < p; ++i) mean[i] += a[i] / static_cast<double>(n);
  double sq = 0, var = 0;
  for (size_t i = 0; i < p; ++i) sq += mean[i] * mean[i];
  for (const auto& a : g)
    for (size_t i = 0; i < p; ++i) var += (a[i] - mean[i]) * (a[i] - mean[i]) / static_cast<double>(n - 1);
  return {{"mean_sq", sq}, {"variance", var}};
}

// `options` with the source a --noise-sources entry names, METHOD[:PROBES]; an Error naming the entry.
PoissonOptions with_source(const PoissonOptions& options, const std::string& spec) {
  PoissonOptions o = options;
  const size_t colon = spec.find(':');
  o.source.method = spec.substr(0, colon);
  if (colon != std::string::npos) {
    const std::string probes = spec.substr(colon + 1);
    char* end = nullptr;
    const long long p = std::strtoll(probes.c_str(), &end, 10);
    GG_CHECK(!probes.empty() && *end == '\0' && p >= 1,
             "visualize: --noise-sources: '" + spec + "' is not METHOD[:PROBES] with PROBES >= 1");
    o.source.probes = p;
  }
  o.source.create_graph = true;
  validate(o.source, "--noise-sources '" + spec + "' source");
  return o;
}

}  // namespace

json poisson_gradient_noise(Trainer& trainer, const PoissonOptions& options, int64_t draws,
                            const std::vector<std::string>& sources, uint64_t seed) {
  GG_CHECK(draws >= 2, "visualize: --gradient-noise needs at least 2 draws, got " + std::to_string(draws));
  GG_CHECK(!sources.empty(), "visualize: --noise-sources is empty");
  Autoencoder& model = trainer.model();
  const std::vector<Tensor> params = model.parameters();
  const int64_t batch = trainer.config()["training"]["batch_size"].get<int64_t>();
  const Dataset& test = trainer.test_set();
  const Dataset& train = trainer.train_set();
  GG_CHECK(train.size() >= draws * batch, "visualize: --gradient-noise " + std::to_string(draws) + " needs " +
                                              std::to_string(draws * batch) +
                                              " training samples, the run has " +
                                              std::to_string(train.size()));
  std::vector<int64_t> first;
  for (int64_t i = 0; i < std::min(batch, test.size()); ++i) first.push_back(i);
  const Tensor x = subset(test, first).x.to(model.config().dtype);
  json out = {{"draws", draws},
              {"batch", x.size(0)},
              {"lambda", options.lambda},
              {"eps", options.eps},
              {"sources", json::array()}};
  ProgressBar bar("gradient noise", static_cast<int64_t>(sources.size()) * draws + draws, 1);
  int64_t done = 0;
  std::vector<PoissonOptions> each;  // every entry checked before the first draw
  for (const std::string& spec : sources) each.push_back(with_source(options, spec));
  std::vector<std::vector<double>> reference;  // the first source's gradients, draw by draw
  for (size_t k = 0; k < sources.size(); ++k) {
    const std::string& spec = sources[k];
    const PoissonOptions& o = each[k];
    std::vector<std::vector<double>> g;
    for (int64_t d = 0; d < draws; ++d) {
      Generator gen(seed + 1000 + static_cast<uint64_t>(d));  // the same draws for every source
      const PoissonTerms t = poisson_regularizer(model, x, o, gen, {}, nullptr, false);
      g.push_back(flat_gradient(t.loss * o.lambda, params));
      bar.update(++done, spec);
    }
    json row = spread_of(g);
    row["source"] = spec;
    if (reference.empty()) {
      reference = g;
      row["paired_difference"] = 0.0;
    } else {
      double paired = 0;
      for (int64_t d = 0; d < draws; ++d)
        for (size_t i = 0; i < g[d].size(); ++i)
          paired += (g[d][i] - reference[d][i]) * (g[d][i] - reference[d][i]) / static_cast<double>(draws);
      row["paired_difference"] = paired;
    }
    out["sources"].push_back(row);
  }
  // The run's own objective over `draws` training batches: the noise of minibatch SGD itself.
  const BatchSampler batches(train, batch, false, seed);
  std::vector<std::vector<double>> g;
  for (int64_t d = 0; d < draws; ++d) {
    Generator gen(seed + 2000 + static_cast<uint64_t>(d));
    const Tensor xb = batches.batch(0, d).x.to(model.config().dtype);
    g.push_back(flat_gradient(trainer.batch_loss(xb, gen).total, params));
    bar.update(++done, "objective");
  }
  bar.finish("done");
  out["objective_over_batches"] = spread_of(g);
  return out;
}

}  // namespace gg
