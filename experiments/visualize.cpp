#include "experiments/visualize.h"

#include <filesystem>
#include <sstream>

#include "datasets/batching.h"
#include "datasets/pca.h"
#include "experiments/output.h"
#include "experiments/run_folder.h"
#include "regularizers/poisson.h"

namespace gg {

using nlohmann::json;

namespace {
double mean_of(const Tensor& t) { return mean(t.to(DType::f64)).item(); }
}  // namespace

VisualizeResult visualize_experiment(const VisualizeOptions& o, const std::string& out) {
  GG_CHECK(o.samples >= 1 && !o.corruptions.empty(), "visualize: needs samples >= 1 and a corruption");
  std::unique_ptr<Trainer> trainer = load_run(o.run);
  Autoencoder& model = trainer->model();
  const Dataset& test = trainer->test_set();
  std::vector<int64_t> rows;
  for (int64_t i = 0; i < std::min<int64_t>(o.samples, test.size()); ++i) rows.push_back(i);
  const Tensor x = subset(test, rows).x.to(model.config().dtype);

  // The regularizer's own options when it was trained with one, else the defaults; no graph is kept.
  const json* reg = find_regularizer_term(trainer->config(), "poisson");
  PoissonOptions base = reg ? reg->get<PoissonOptions>() : PoissonOptions{};
  base.source.create_graph = false;

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
  write_json(out + "/metrics.json", res.metrics);
  return res;
}

}  // namespace gg
