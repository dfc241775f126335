// gradgrad probe: data-free weight probing, paper 002 section 4.1 (Figure 4, Figures 7-9).
//
// N codes Z_n ~ N(0, I_k) (N = k as in the paper unless --dictionary says otherwise) are iterated to their
// attractors Z*_n with appendix D's setting for section 4.1 (tol 1e-5 on the squared step, 500 iterations);
// the Z*_n are a dictionary of latent signals learnt without looking at any data. Test samples are encoded,
// z = E(x), reconstructed from s atoms by Orthogonal Matching Pursuit, decoded, and compared with x:
// MSE(D(z_s), x) against s, for the attractor dictionary and for a random orthonormal basis of the latent
// space (the paper's baseline). See dynamics/probe.h for OMP and the curve.
//
// Writes probe.csv (one row per set, dictionary and atom count), metrics.json, and for image data
// grid_<set>.png: originals, D(E(x)), then OMP reconstructions from the attractors and from the random basis
// at a few atom counts (plot_probe labels its rows in reconstructions_<set>.png).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "cli/commands.h"
#include "cli/experiments_common.h"
#include "cli/output.h"
#include "datasets/batching.h"
#include "datasets/images.h"
#include "dynamics/attractors.h"
#include "dynamics/probe.h"
#include "engine/gradgrad.h"

namespace gg::cli {

using nlohmann::json;

namespace {

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.10g", v);
  return buf;
}

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

}  // namespace

int run_probe(const Args& args) {
  const std::string run = args.require("run");
  const std::string out = args.get("out", run + "/probe");
  const int64_t n_test = args.get_int("test", 200);
  const uint64_t seed = static_cast<uint64_t>(args.get_int("seed", 0));
  const int64_t n_dictionary = args.get_int("dictionary", 0);
  const int64_t show = args.get_int("show", 8);
  const std::string atoms_arg = args.get("atoms", "");
  const std::string sets_arg = args.get("sets", "");
  IterateOptions iterate_options = IterateOptions::foundation();  // appendix D for section 4.1
  iterate_options.max_iters = args.get_int("max-iters", iterate_options.max_iters);
  iterate_options.tol = args.get_double("tol", iterate_options.tol);
  args.finish();
  GG_CHECK(n_test >= 1, "--test must be >= 1");
  const auto start = std::chrono::steady_clock::now();

  std::unique_ptr<Trainer> trainer = load_run(run);
  Autoencoder& model = trainer->model();
  const Normalizer& nz = trainer->normalizer();
  const int64_t k = model.config().code_dim;
  const DType dt = model.config().dtype;

  // ---- The two dictionaries ---------------------------------------------------------------------------------
  const ProbeDictionary dict = noise_attractor_dictionary(model, n_dictionary, seed, iterate_options);
  const int64_t m = dict.atoms.size(0);
  const AttractorSet distinct = find_attractors(dict.trajectories);
  const Tensor attractors = dict.atoms.to(DType::f64);
  const Tensor basis = random_orthonormal_basis(k, seed + 1);
  std::vector<int64_t> counts = atoms_arg.empty() ? doubling_counts(k) : parse_int_list(atoms_arg, "--atoms");
  std::sort(counts.begin(), counts.end());
  counts.erase(std::unique(counts.begin(), counts.end()), counts.end());
  std::fprintf(stderr, "probe: %s; %lld noise codes -> %lld converged, %lld distinct attractors (cos > 0.99)\n",
               model.describe().c_str(), (long long)m, (long long)dict.trajectories.num_converged(),
               (long long)distinct.size());

  // ---- The test sets ----------------------------------------------------------------------------------------
  std::vector<std::pair<std::string, Tensor>> sets;  // name, normalized samples
  json skipped = json::object();
  std::vector<std::string> names = sets_arg.empty() ? std::vector<std::string>{"test"} : split_list(sets_arg);
  if (sets_arg.empty() && !companion_set(*trainer).empty()) names.push_back(companion_set(*trainer));
  const std::string data_name = trainer->config()["data"]["name"];
  for (size_t i = 0; i < names.size(); ++i) {
    const std::string& name = names[i];
    if (name == "test") {
      const Dataset& test = trainer->test_set();
      sets.emplace_back(data_name + "-test", subset(test, pick_rows(test.size(), n_test, seed + 2)).x);
      continue;
    }
    std::string why;
    const Dataset d = load_compatible_set(*trainer, name, "test", why);
    if (d.size() == 0) {
      GG_CHECK(sets_arg.empty(), "--sets: " + why);
      std::fprintf(stderr, "probe: no %s set (%s)\n", name.c_str(), why.c_str());
      skipped[name] = why;
      continue;
    }
    sets.emplace_back(name + "-test", nz.apply(subset(d, pick_rows(d.size(), n_test, seed + 2 + i)).x).to(DType::f32));
  }

  // ---- Curves -----------------------------------------------------------------------------------------------
  std::ostringstream csv;
  csv << "set,dictionary,atoms,output_mse,latent_mse,output_mse_to_reconstruction\n";
  json metrics;
  metrics["settings"] = {{"run", run},
                         {"model", model.describe()},
                         {"code_dim", k},
                         {"dictionary_size", m},
                         {"dictionary_converged", dict.trajectories.num_converged()},
                         {"dictionary_distinct_attractors", distinct.size()},
                         {"test_samples_per_set", n_test},
                         {"iterate", iterate_json(iterate_options)},
                         {"seed", seed}};
  metrics["atom_counts"] = counts;
  std::vector<std::string> set_names;
  const bool images = trainer->test_set().is_images();
  std::filesystem::create_directories(out);
  json grids = json::array();
  for (const auto& [name, x] : sets) {
    set_names.push_back(name);
    const ProbeCurve a = probe_reconstruction_curve(model, attractors, x, counts);
    const ProbeCurve b = probe_reconstruction_curve(model, basis, x, counts);
    double ae_mse;
    {
      NoGradGuard no_grad;
      const Tensor xd = x.to(dt);
      ae_mse = mean(square(decode_batched(model, encode_batched(model, xd)) - xd)).item();
    }
    json m_set = {{"n", x.size(0)}, {"autoencoder_mse", ae_mse}};
    for (size_t c = 0; c < counts.size(); ++c) {
      for (const auto* curve : {&a, &b}) {
        const std::string dname = curve == &a ? "attractors" : "random_basis";
        csv << name << "," << dname << "," << counts[c] << "," << number(curve->output_mse[c]) << ","
            << number(curve->latent_mse[c]) << "," << number(curve->output_mse_to_reconstruction[c]) << "\n";
        m_set[dname + "_mse@" + std::to_string(counts[c])] = curve->output_mse[c];
      }
    }
    metrics[name] = m_set;
    std::fprintf(stderr, "  %-20s D(E(x)) mse %.4g;", name.c_str(), ae_mse);
    for (size_t c = 0; c < counts.size(); ++c)
      std::fprintf(stderr, " %lld: %.4g vs %.4g", (long long)counts[c], a.output_mse[c], b.output_mse[c]);
    std::fprintf(stderr, "  (attractors vs random basis)\n");

    if (images && show > 0) {  // originals, D(E(x)), then attractors / random basis at a few counts
      NoGradGuard no_grad;
      const int64_t n = std::min<int64_t>(show, x.size(0));
      const Tensor xs = row_block(x, 0, n).to(dt);
      const Tensor z = encode_batched(model, xs);
      const std::vector<int64_t> sc = shown_counts(counts, k);
      const std::vector<Tensor> za = omp_reconstructions(attractors, z.to(DType::f64), sc);
      const std::vector<Tensor> zb = omp_reconstructions(basis, z.to(DType::f64), sc);
      std::vector<Tensor> rows = {nz.invert(xs), nz.invert(decode_batched(model, z))};
      json labels = {"original", "D(E(x))"};
      for (size_t c = 0; c < sc.size(); ++c) {
        rows.push_back(nz.invert(decode_batched(model, za[c].to(dt))));
        labels.push_back("attractors, " + std::to_string(sc[c]) + (sc[c] == 1 ? " atom" : " atoms"));
        rows.push_back(nz.invert(decode_batched(model, zb[c].to(dt))));
        labels.push_back("random basis, " + std::to_string(sc[c]) + (sc[c] == 1 ? " atom" : " atoms"));
      }
      const std::string file = "grid_" + name + ".png";
      const int padding = 2, scale = 2;
      write_image_grid(out + "/" + file, concat(rows, 0).to(DType::f32), static_cast<int>(n), padding, scale);
      grids.push_back({{"set", name},
                       {"file", file},
                       {"rows", labels},
                       {"columns", n},
                       {"tile_height", x.size(2) * scale},
                       {"tile_width", x.size(3) * scale},
                       {"padding", padding}});
    }
  }
  metrics["sets"] = set_names;
  if (!grids.empty()) metrics["grids"] = grids;
  if (!skipped.empty()) metrics["skipped"] = skipped;
  const double minutes = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / 60;
  metrics["settings"]["minutes"] = minutes;

  write_run_info(out, "probe", args);
  write_file_atomic(out + "/probe.csv", csv.str());
  write_json(out + "/metrics.json", metrics);
  draw_figures(out);
  std::printf("%.2f min; wrote %s/report.html\n", minutes, out.c_str());
  return 0;
}

}  // namespace gg::cli
