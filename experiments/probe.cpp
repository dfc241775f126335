#include "experiments/probe.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "datasets/batching.h"
#include "datasets/images.h"
#include "dynamics/attractors.h"
#include "dynamics/probe.h"
#include "engine/gradgrad.h"
#include "experiments/output.h"
#include "experiments/records.h"
#include "experiments/run_folder.h"

namespace gg {

using nlohmann::json;

namespace {

// The atom counts shown in the image grid: about 5% of k (the paper's Figure 4 right), a quarter, and all.
std::vector<int64_t> shown_counts(const std::vector<int64_t>& counts, int64_t k) {
  std::vector<int64_t> want = {std::max<int64_t>(1, (k + 10) / 20), std::max<int64_t>(1, k / 4), counts.back()};
  std::vector<int64_t> out;
  for (int64_t w : want) {
    // The listed count closest to w.
    int64_t best = counts[0];
    for (int64_t c : counts)
      if (std::abs(c - w) < std::abs(best - w)) best = c;
    if (std::find(out.begin(), out.end(), best) == out.end()) out.push_back(best);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// The test sets by name, normalized: "test" is the run's own test split; others are loaded like the run's data.
std::vector<std::pair<std::string, Tensor>> test_sets(Trainer& trainer, const ProbeOptions& o, json& skipped) {
  std::vector<std::pair<std::string, Tensor>> sets;
  std::vector<std::string> names = o.sets.empty() ? std::vector<std::string>{"test"} : o.sets;
  if (o.sets.empty() && !companion_set(trainer).empty()) names.push_back(companion_set(trainer));
  const std::string data_name = trainer.config()["data"]["name"];
  for (size_t i = 0; i < names.size(); ++i) {
    const std::string& name = names[i];
    if (name == "test") {
      const Dataset& test = trainer.test_set();
      sets.emplace_back(data_name + "-test", subset(test, pick_rows(test.size(), o.test, o.seed + 2)).x);
      continue;
    }
    std::string why;
    const Dataset d = load_compatible_set(trainer, name, "test", why);
    if (d.size() == 0) {
      GG_CHECK(o.sets.empty(), "probe: set " + name + ": " + why);
      std::fprintf(stderr, "probe: no %s set (%s)\n", name.c_str(), why.c_str());
      skipped[name] = why;
      continue;
    }
    const Tensor x = subset(d, pick_rows(d.size(), o.test, o.seed + 2 + i)).x;
    sets.emplace_back(name + "-test", trainer.normalizer().apply(x).to(DType::f32));
  }
  return sets;
}

// Originals, D(E(x)), then the attractors' and the random basis's reconstructions at a few atom counts, as one
// image grid; returns its entry of metrics.json's "grids".
json write_grid(Trainer& trainer, const Tensor& attractors, const Tensor& basis, const std::string& name,
                const Tensor& x, const std::vector<int64_t>& counts, int64_t show, const std::string& out) {
  NoGradGuard no_grad;
  Autoencoder& model = trainer.model();
  const Normalizer& nz = trainer.normalizer();
  const DType dt = model.config().dtype;
  const int64_t n = std::min<int64_t>(show, x.size(0));
  const Tensor xs = row_block(x, 0, n).to(dt);
  const Tensor z = encode_batched(model, xs);
  const std::vector<int64_t> sc = shown_counts(counts, model.config().code_dim);
  const std::vector<Tensor> za = omp_reconstructions(attractors, z.to(DType::f64), sc);
  const std::vector<Tensor> zb = omp_reconstructions(basis, z.to(DType::f64), sc);
  std::vector<Tensor> rows = {nz.invert(xs), nz.invert(decode_batched(model, z))};
  json labels = {"original", "D(E(x))"};
  for (size_t c = 0; c < sc.size(); ++c) {
    const std::string atoms = std::to_string(sc[c]) + (sc[c] == 1 ? " atom" : " atoms");
    rows.push_back(nz.invert(decode_batched(model, za[c].to(dt))));
    labels.push_back("attractors, " + atoms);
    rows.push_back(nz.invert(decode_batched(model, zb[c].to(dt))));
    labels.push_back("random basis, " + atoms);
  }
  const std::string file = "grid_" + name + ".png";
  const int padding = 2, scale = 2;
  write_image_grid(out + "/" + file, concat(rows, 0).to(DType::f32), static_cast<int>(n), padding, scale);
  return {{"set", name},         {"file", file}, {"rows", labels}, {"columns", n}, {"tile_height", x.size(2) * scale},
          {"tile_width", x.size(3) * scale}, {"padding", padding}};
}

}  // namespace

ProbeResult probe_experiment(const ProbeOptions& o, const std::string& out) {
  GG_CHECK(o.test >= 1, "probe: test must be >= 1");
  const auto start = std::chrono::steady_clock::now();
  std::unique_ptr<Trainer> trainer = load_model(o.source);
  Autoencoder& model = trainer->model();
  const int64_t k = model.config().code_dim;

  // ---- The two dictionaries ---------------------------------------------------------------------------------
  const ProbeDictionary dict = noise_attractor_dictionary(model, o.dictionary, o.seed, o.iterate);
  ProbeResult res;
  res.dictionary_size = dict.atoms.size(0);
  res.distinct_attractors = find_attractors(dict.trajectories).size();
  const Tensor attractors = dict.atoms.to(DType::f64);
  const Tensor basis = random_orthonormal_basis(k, o.seed + 1);
  std::vector<int64_t>& counts = res.atom_counts;
  counts = o.atoms.empty() ? doubling_counts(k) : o.atoms;
  for (int64_t c : counts) GG_CHECK(c >= 1, "probe: atom counts must be >= 1");
  std::sort(counts.begin(), counts.end());
  counts.erase(std::unique(counts.begin(), counts.end()), counts.end());
  std::fprintf(stderr, "probe: %s; %lld noise codes -> %lld converged, %lld distinct attractors (cos > 0.99)\n",
               model.describe().c_str(), (long long)res.dictionary_size, (long long)dict.trajectories.num_converged(),
               (long long)res.distinct_attractors);
  json skipped = json::object();
  const std::vector<std::pair<std::string, Tensor>> sets = test_sets(*trainer, o, skipped);

  // ---- Curves -----------------------------------------------------------------------------------------------
  CsvWriter csv("set,dictionary,atoms,output_mse,latent_mse,output_mse_to_reconstruction");
  json& metrics = res.metrics;
  metrics["settings"] = {{"source", o.source},
                         {"model", model.describe()},
                         {"code_dim", k},
                         {"dictionary_size", res.dictionary_size},
                         {"dictionary_converged", dict.trajectories.num_converged()},
                         {"dictionary_distinct_attractors", res.distinct_attractors},
                         {"test_samples_per_set", o.test},
                         {"iterate", iterate_json(o.iterate)},
                         {"seed", o.seed}};
  metrics["atom_counts"] = counts;
  metrics["sets"] = json::array();
  const bool images = trainer->test_set().is_images();
  std::filesystem::create_directories(out);
  json grids = json::array();
  for (const auto& [name, x] : sets) {
    ProbeSetResult r;
    r.name = name;
    const ProbeCurve a = probe_reconstruction_curve(model, attractors, x, counts);
    const ProbeCurve b = probe_reconstruction_curve(model, basis, x, counts);
    r.attractors_mse = a.output_mse, r.random_basis_mse = b.output_mse;
    {
      NoGradGuard no_grad;
      const Tensor xd = x.to(model.config().dtype);
      r.autoencoder_mse = mean(square(decode_batched(model, encode_batched(model, xd)) - xd)).item();
    }
    json m_set = {{"n", x.size(0)}, {"autoencoder_mse", r.autoencoder_mse}};
    std::fprintf(stderr, "  %-20s D(E(x)) mse %.4g;", name.c_str(), r.autoencoder_mse);
    for (size_t c = 0; c < counts.size(); ++c) {
      for (const auto* curve : {&a, &b}) {
        const std::string dname = curve == &a ? "attractors" : "random_basis";
        csv << name << "," << dname << "," << counts[c] << "," << curve->output_mse[c] << ","
            << curve->latent_mse[c] << "," << curve->output_mse_to_reconstruction[c] << "\n";
        m_set[dname + "_mse@" + std::to_string(counts[c])] = curve->output_mse[c];
      }
      std::fprintf(stderr, " %lld: %.4g vs %.4g", (long long)counts[c], a.output_mse[c], b.output_mse[c]);
    }
    std::fprintf(stderr, "  (attractors vs random basis)\n");
    metrics[name] = m_set;
    metrics["sets"].push_back(name);
    if (images && o.show > 0) grids.push_back(write_grid(*trainer, attractors, basis, name, x, counts, o.show, out));
    res.sets.push_back(r);
  }
  if (!grids.empty()) metrics["grids"] = grids;
  if (!skipped.empty()) metrics["skipped"] = skipped;
  metrics["settings"]["minutes"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / 60;
  write_run_info(out, "probe", o.command);
  csv.write(out + "/probe.csv");
  write_json(out + "/metrics.json", metrics);
  return res;
}

}  // namespace gg
