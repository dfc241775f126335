// gradgrad ood: out-of-distribution detection from latent trajectories, paper 002 section 4.2 (Figure 5).
//
// In-distribution (ID): samples of the run's own test set. Out-of-distribution: the companion 28x28 set
// (Fashion-MNIST for an MNIST run and the reverse, when installed), Gaussian-noise inputs with the training
// data's mean and standard deviation (clamped to [0, 1] for images), and the ID samples rotated by
// --rotation degrees. Everything is normalized with the run's own normalizer before it is encoded.
//
// Scores (higher = more OOD), see dynamics/ood.h:
//   trajectory  mean over the path z_0 = E(x), ..., z_T of d(z_t, Z*_train), Z*_train = the converged endpoints
//               of --train-samples training codes (the paper's N = 2000), iterated with appendix D's setting
//               for section 4.2 (tol 1e-5 on the squared step, 500 iterations);
//   knn         mean Euclidean distance of E(x) to its --knn nearest training codes (every training sample);
//   knn_input   the same in input space (normalized pixels), a second baseline the paper does not have.
// Per OOD set: AUROC and FPR at 95% TPR of each score -> metrics.json, table.txt; per sample -> scores.csv.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "cli/commands.h"
#include "cli/experiments_common.h"
#include "cli/output.h"
#include "datasets/batching.h"
#include "datasets/corruption.h"
#include "datasets/images.h"
#include "dynamics/attractors.h"
#include "dynamics/ood.h"
#include "engine/gradgrad.h"

namespace gg::cli {

using nlohmann::json;

namespace {

struct EvalSet {
  std::string name;
  std::string description;
  bool in_distribution = false;
  Tensor x;  // normalized, f32, [n, ...]
};

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

double mean_of(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? 0.0 : s / double(v.size());
}

// Figure 5's table: one row per method, FPR95 and AUROC (percent) per OOD set.
std::string format_table(const std::string& id_name, int64_t n_id, const std::vector<std::string>& sets,
                         const json& metrics, int64_t knn) {
  std::ostringstream t;
  t << "OOD detection, in-distribution: " << id_name << " (" << n_id << " samples). Percent; FPR95 lower is "
    << "better, AUROC higher is better.\n\n";
  char buf[256];
  std::snprintf(buf, sizeof buf, "%-22s", "method");
  t << buf;
  for (const auto& s : sets) {
    std::snprintf(buf, sizeof buf, " | %-21s", s.c_str());
    t << buf;
  }
  t << "\n";
  std::snprintf(buf, sizeof buf, "%-22s", "");
  t << buf;
  for (size_t i = 0; i < sets.size(); ++i) t << " | FPR95 v    AUROC ^   ";
  t << "\n" << std::string(22 + sets.size() * 24, '-') << "\n";
  const std::vector<std::pair<std::string, std::string>> methods = {
      {"trajectory", "d(attractors)"},
      {"knn", "kNN latent (K=" + std::to_string(knn) + ")"},
      {"knn_input", "kNN input (K=" + std::to_string(knn) + ")"}};
  for (const auto& [key, label] : methods) {
    std::snprintf(buf, sizeof buf, "%-22s", label.c_str());
    t << buf;
    for (const auto& s : sets) {
      std::snprintf(buf, sizeof buf, " | %7.2f    %7.2f   ", 100 * metrics[s][key + "_fpr95"].get<double>(),
                    100 * metrics[s][key + "_auroc"].get<double>());
      t << buf;
    }
    t << "\n";
  }
  return t.str();
}

}  // namespace

int run_ood(const Args& args) {
  const std::string run = args.require("run");
  const std::string out = args.get("out", run + "/ood");
  const int64_t samples = args.get_int("samples", 500);
  const int64_t train_samples = args.get_int("train-samples", 2000);
  const int64_t knn = args.get_int("knn", 50);
  const uint64_t seed = static_cast<uint64_t>(args.get_int("seed", 0));
  const double rotation = args.get_double("rotation", 90);
  IterateOptions iterate_options = IterateOptions::foundation();  // appendix D for section 4.2
  iterate_options.max_iters = args.get_int("max-iters", iterate_options.max_iters);
  iterate_options.tol = args.get_double("tol", iterate_options.tol);
  args.finish();
  GG_CHECK(samples >= 1 && train_samples >= 1 && knn >= 1, "--samples, --train-samples and --knn must be >= 1");
  const auto start = std::chrono::steady_clock::now();

  std::unique_ptr<Trainer> trainer = load_run(run);
  Autoencoder& model = trainer->model();
  const Normalizer& nz = trainer->normalizer();
  const Dataset& train = trainer->train_set();  // normalized
  const Dataset& test = trainer->test_set();
  const std::string data_name = trainer->config()["data"]["name"];
  const bool images = train.is_images();

  // ---- The sets -------------------------------------------------------------------------------------------
  std::vector<EvalSet> sets;
  const Dataset id = subset(test, pick_rows(test.size(), samples, seed));
  sets.push_back({data_name + "-test", "the run's test split, normalized as in training", true, id.x});
  json skipped = json::object();

  const std::string companion = companion_set(*trainer);
  if (!companion.empty()) {
    std::string why;
    const Dataset other = load_compatible_set(*trainer, companion, "test", why);
    if (other.size() > 0) {
      const Dataset pick = subset(other, pick_rows(other.size(), samples, seed + 1));
      sets.push_back({companion + "-test", companion + " test split, normalized with the run's normalizer", false,
                      nz.apply(pick.x).to(DType::f32)});
    } else {
      std::fprintf(stderr, "ood: no %s set (%s)\n", companion.c_str(), why.c_str());
      skipped[companion] = why;
    }
  }

  // Gaussian noise with the training data's mean and standard deviation, in data units (per pixel value for
  // images, per feature for points); images clamped to the data's [0, 1] range.
  const Tensor raw_train = nz.invert(train.x).to(DType::f64);
  Tensor mu, sigma;
  if (images) {
    mu = mean(raw_train);
    sigma = sqrt(var(raw_train));
  } else {
    mu = mean(raw_train, {0}, true);
    sigma = sqrt(var(raw_train, {0}, true));
  }
  {
    Generator gen(seed + 2);
    Shape shape = train.x.shape();
    shape[0] = id.size();
    Tensor noise = Tensor::randn(shape, gen, DType::f64) * sigma + mu;
    if (images) noise = clamp(noise, 0.0, 1.0);
    const std::string desc = images ? "clamp(N(mu, sigma^2), 0, 1) per pixel, mu " + fmt("%.4g", mu.item()) +
                                          ", sigma " + fmt("%.4g", sigma.item()) + " of the training pixels"
                                    : "N(mu, diag(sigma^2)) with the training features' mean and std";
    sets.push_back({"gaussian-noise", desc, false, nz.apply(noise).to(DType::f32)});
  }

  // The ID samples rotated (images about their centre, points about their mean), in data units.
  if (rotation != 0) {
    const Tensor raw_id = nz.invert(id.x);
    const std::vector<double> degrees(static_cast<size_t>(id.size()), rotation);
    Tensor rotated;
    if (images) {
      rotated = rotate_images(raw_id, degrees);
    } else if (raw_id.dim() == 2 && raw_id.size(1) == 2) {
      rotated = rotate_points(raw_id, degrees);
    }
    if (rotated.defined()) {
      sets.push_back({"rotated-" + fmt("%g", rotation), "the ID samples rotated by " + fmt("%g", rotation) +
                                                             " degrees (counter-clockwise)", false,
                      nz.apply(rotated).to(DType::f32)});
    } else {
      skipped["rotated"] = "rotation needs images or 2-D points";
    }
  }

  // ---- Training attractors and kNN references --------------------------------------------------------------
  std::fprintf(stderr, "ood: %s, %zu sets of up to %lld samples; training attractors from %lld training codes\n",
               model.describe().c_str(), sets.size(), (long long)samples, (long long)train_samples);
  const Tensor train_pick = subset(train, pick_rows(train.size(), train_samples, seed + 3)).x;
  const Trajectories train_traj = iterate(model, encode_batched(model, train_pick), iterate_options);
  std::vector<int64_t> converged;
  for (int64_t i = 0; i < train_traj.size(); ++i)
    if (train_traj.converged(i)) converged.push_back(i);
  if (converged.empty()) {
    std::fprintf(stderr, "ood: warning: no training code converged; using every final iterate as Z*_train\n");
    for (int64_t i = 0; i < train_traj.size(); ++i) converged.push_back(i);
  }
  const Tensor z_star_train = select_rows(train_traj.final, converged);
  const AttractorSet distinct = find_attractors(train_traj);
  const Tensor train_codes = encode_batched(model, train.x);  // the kNN reference: every training code

  // ---- Scores -----------------------------------------------------------------------------------------------
  std::ostringstream csv;
  csv << ood_csv_header() << ",knn_input_score\n";
  std::vector<std::vector<double>> traj(sets.size()), lat(sets.size()), inp(sets.size());
  json per_set = json::object();
  for (size_t s = 0; s < sets.size(); ++s) {
    const EvalSet& set = sets[s];
    const auto t0 = std::chrono::steady_clock::now();
    const Tensor z0 = encode_batched(model, set.x.to(model.config().dtype));
    Trajectories tr;
    const TrajectoryScores ts = trajectory_distance_scores(model, z0, z_star_train, iterate_options, &tr);
    // Does the sample end in the basin of a training attractor (section 4.2's question (i))? Same attractor
    // by section 3.2's rule, cos > 0.99, against the converged training endpoints.
    const std::vector<int64_t> basin = match_attractors(tr.final, z_star_train);
    traj[s] = ts.score;
    lat[s] = knn_scores(z0, train_codes, knn);
    inp[s] = knn_scores(set.x, train.x, knn);
    const std::vector<OodSampleRow> rows = ood_rows(set.name, set.in_distribution, ts, lat[s]);
    for (size_t i = 0; i < rows.size(); ++i) csv << ood_csv_line(rows[i]) << "," << fmt("%.17g", inp[s][i]) << "\n";
    int64_t conv = 0, iters = 0, in_basin = 0;
    for (size_t i = 0; i < rows.size(); ++i)
      conv += rows[i].converged, iters += rows[i].iterations, in_basin += rows[i].converged && basin[i] >= 0;
    const double n = double(rows.size());
    per_set[set.name] = {{"description", set.description},
                         {"in_distribution", set.in_distribution},
                         {"n", rows.size()},
                         {"mean_trajectory_score", mean_of(traj[s])},
                         {"mean_knn_score", mean_of(lat[s])},
                         {"mean_knn_input_score", mean_of(inp[s])},
                         {"converged_fraction", conv / n},
                         {"mean_iterations", iters / n},
                         {"ends_in_training_basin", in_basin / n}};
    std::fprintf(stderr, "  %-20s mean score %.4g, converged %.0f%%, mean %.0f iterations (%.1f s)\n",
                 set.name.c_str(), mean_of(traj[s]), 100 * conv / n, iters / n,
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }

  // ---- Metrics ----------------------------------------------------------------------------------------------
  json metrics;
  std::vector<std::string> ood_names;
  for (size_t s = 1; s < sets.size(); ++s) {
    const std::string& name = sets[s].name;
    ood_names.push_back(name);
    json m = per_set[name];
    const OodMetrics a = ood_metrics(traj[0], traj[s]), b = ood_metrics(lat[0], lat[s]),
                     c = ood_metrics(inp[0], inp[s]);
    m["trajectory_auroc"] = a.auroc, m["trajectory_fpr95"] = a.fpr95;
    m["knn_auroc"] = b.auroc, m["knn_fpr95"] = b.fpr95;
    m["knn_input_auroc"] = c.auroc, m["knn_input_fpr95"] = c.fpr95;
    per_set[name] = m;
  }
  const double minutes = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / 60;
  metrics["settings"] = {{"run", run},
                         {"model", model.describe()},
                         {"in_distribution", sets[0].name},
                         {"samples_per_set", samples},
                         {"train_codes_iterated", train_pick.size(0)},
                         {"train_codes_converged", train_traj.num_converged()},
                         {"distinct_train_attractors", distinct.size()},
                         {"knn_k", knn},
                         {"knn_reference_codes", train_codes.size(0)},
                         {"rotation_degrees", rotation},
                         {"iterate", iterate_json(iterate_options)},
                         {"seed", seed},
                         {"minutes", minutes}};
  if (!skipped.empty()) metrics["skipped"] = skipped;
  metrics["ood_sets"] = ood_names;
  for (const auto& [name, value] : per_set.items()) metrics[name] = value;

  std::filesystem::create_directories(out);
  write_run_info(out, "ood", args);
  write_file_atomic(out + "/scores.csv", csv.str());
  write_json(out + "/metrics.json", metrics);
  const std::string table = format_table(sets[0].name, id.size(), ood_names, metrics, knn);
  write_file_atomic(out + "/table.txt", table);
  if (images) {  // what each set looks like: one row of 10 samples per set, in data units
    std::vector<Tensor> rows;
    for (const auto& set : sets) rows.push_back(nz.invert(row_block(set.x, 0, std::min<int64_t>(10, set.x.size(0)))));
    bool full = true;
    for (const auto& r : rows) full = full && r.size(0) == 10;
    if (full) write_image_grid(out + "/sets.png", concat(rows, 0).to(DType::f32), 10, 2, 2);
  }
  draw_figures(out);
  std::printf("%s\n%.2f min; wrote %s/report.html\n", table.c_str(), minutes, out.c_str());
  return 0;
}

}  // namespace gg::cli
