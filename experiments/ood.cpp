#include "experiments/ood.h"

#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "datasets/batching.h"
#include "datasets/corruption.h"
#include "datasets/images.h"
#include "dynamics/attractors.h"
#include "dynamics/ood.h"
#include "dynamics/roc.h"
#include "engine/gradgrad.h"
#include "experiments/output.h"
#include "experiments/records.h"
#include "experiments/run_folder.h"

namespace gg {

using nlohmann::json;

namespace {

struct EvalSet {
  std::string name;
  std::string description;
  bool in_distribution = false;
  Tensor x;  // normalized, f32, [n, ...]
};

const char* const kMethods[3] = {"trajectory", "knn", "knn_input"};

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

// The ID set, the companion image set, Gaussian noise like the training data, and the ID samples rotated.
std::vector<EvalSet> make_sets(Trainer& trainer, const OodOptions& o, json& skipped) {
  const Normalizer& nz = trainer.normalizer();
  const Dataset& train = trainer.train_set();  // normalized
  const Dataset& test = trainer.test_set();
  const bool images = train.is_images();
  std::vector<EvalSet> sets;
  const Dataset id = subset(test, pick_rows(test.size(), o.samples, o.seed));
  const std::string data_name = trainer.config()["data"]["name"];
  sets.push_back({data_name + "-test", "the run's test split, normalized as in training", true, id.x});

  const std::string companion = companion_set(trainer);
  if (!companion.empty()) {
    std::string why;
    const Dataset other = load_compatible_set(trainer, companion, "test", why);
    if (other.size() > 0) {
      const Dataset pick = subset(other, pick_rows(other.size(), o.samples, o.seed + 1));
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
  const Tensor mu = images ? mean(raw_train) : mean(raw_train, {0}, true);
  const Tensor sigma = images ? sqrt(var(raw_train)) : sqrt(var(raw_train, {0}, true));
  Generator gen(o.seed + 2);
  Shape shape = train.x.shape();
  shape[0] = id.size();
  Tensor noise = Tensor::randn(shape, gen, DType::f64) * sigma + mu;
  if (images) noise = clamp(noise, 0.0, 1.0);
  const std::string desc = images ? "clamp(N(mu, sigma^2), 0, 1) per pixel, mu " + fmt("%.4g", mu.item()) +
                                        ", sigma " + fmt("%.4g", sigma.item()) + " of the training pixels"
                                  : "N(mu, diag(sigma^2)) with the training features' mean and std";
  sets.push_back({"gaussian-noise", desc, false, nz.apply(noise).to(DType::f32)});

  // The ID samples rotated (images about their centre, points about their mean), in data units.
  if (o.rotation != 0) {
    const Tensor raw_id = nz.invert(id.x);
    const std::vector<double> degrees(static_cast<size_t>(id.size()), o.rotation);
    Tensor rotated;
    if (images)
      rotated = rotate_images(raw_id, degrees);
    else if (raw_id.dim() == 2 && raw_id.size(1) == 2)
      rotated = rotate_points(raw_id, degrees);
    if (rotated.defined())
      sets.push_back({"rotated-" + fmt("%g", o.rotation),
                      "the ID samples rotated by " + fmt("%g", o.rotation) + " degrees (counter-clockwise)", false,
                      nz.apply(rotated).to(DType::f32)});
    else
      skipped["rotated"] = "rotation needs images or 2-D points";
  }
  return sets;
}

// Figure 5's table: one row per method, FPR95 and AUROC (percent) per OOD set.
std::string format_table(const std::string& id_name, int64_t n_id, const std::vector<OodSetResult>& sets,
                         int64_t knn) {
  std::ostringstream t;
  t << "OOD detection, in-distribution: " << id_name << " (" << n_id << " samples). Percent; FPR95 lower is "
    << "better, AUROC higher is better.\n\n";
  char buf[256];
  std::snprintf(buf, sizeof buf, "%-22s", "method");
  t << buf;
  for (const auto& s : sets) {
    std::snprintf(buf, sizeof buf, " | %-21s", s.name.c_str());
    t << buf;
  }
  std::snprintf(buf, sizeof buf, "\n%-22s", "");
  t << buf;
  for (size_t i = 0; i < sets.size(); ++i) t << " | FPR95 v    AUROC ^   ";
  t << "\n" << std::string(22 + sets.size() * 24, '-') << "\n";
  const std::string k = std::to_string(knn);
  const std::string labels[3] = {"d(attractors)", "kNN latent (K=" + k + ")", "kNN input (K=" + k + ")"};
  for (int m = 0; m < 3; ++m) {
    std::snprintf(buf, sizeof buf, "%-22s", labels[m].c_str());
    t << buf;
    for (const auto& s : sets) {
      const double fpr = m == 0 ? s.trajectory_fpr95 : m == 1 ? s.knn_fpr95 : s.knn_input_fpr95;
      const double auc = m == 0 ? s.trajectory_auroc : m == 1 ? s.knn_auroc : s.knn_input_auroc;
      std::snprintf(buf, sizeof buf, " | %7.2f    %7.2f   ", 100 * fpr, 100 * auc);
      t << buf;
    }
    t << "\n";
  }
  return t.str();
}

}  // namespace

OodResult ood_experiment(const OodOptions& o, const std::string& out) {
  GG_CHECK(o.samples >= 1 && o.train_samples >= 1 && o.knn >= 1, "ood: samples, train_samples and knn must be >= 1");
  const auto start = std::chrono::steady_clock::now();
  std::unique_ptr<Trainer> trainer = load_model(o.source);
  Autoencoder& model = trainer->model();
  const Dataset& train = trainer->train_set();
  json skipped = json::object();
  const std::vector<EvalSet> sets = make_sets(*trainer, o, skipped);

  // ---- Training attractors and kNN references --------------------------------------------------------------
  std::fprintf(stderr, "ood: %s, %zu sets of up to %lld samples; training attractors from %lld training codes\n",
               model.describe().c_str(), sets.size(), (long long)o.samples, (long long)o.train_samples);
  const Tensor train_pick = subset(train, pick_rows(train.size(), o.train_samples, o.seed + 3)).x;
  const Trajectories train_traj = iterate(model, encode_batched(model, train_pick), o.iterate);
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

  // ---- Scores: per set, the three methods (scores[set][method]) ---------------------------------------------
  std::ostringstream csv;
  csv << ood_csv_header() << ",knn_input_score\n";
  std::vector<std::array<std::vector<double>, 3>> scores(sets.size());
  CsvWriter profile("set,step,moving,q25,median,q75,mean");  // d(z_t, Z*_train) along the paths, per set
  json per_set = json::object();
  for (size_t s = 0; s < sets.size(); ++s) {
    const EvalSet& set = sets[s];
    const auto t0 = std::chrono::steady_clock::now();
    const Tensor z0 = encode_batched(model, set.x.to(model.config().dtype));
    Trajectories tr;
    const TrajectoryScores ts = trajectory_distance_scores(model, z0, z_star_train, o.iterate, &tr);
    // Does the sample end in the basin of a training attractor (section 4.2's question (i))? Same attractor
    // by section 3.2's rule, cos > 0.99, against the converged training endpoints.
    const std::vector<int64_t> basin = match_attractors(tr.final, z_star_train);
    scores[s] = {ts.score, knn_scores(z0, train_codes, o.knn), knn_scores(set.x, train.x, o.knn)};
    const std::vector<OodSampleRow> rows = ood_rows(set.name, set.in_distribution, ts, scores[s][1]);
    const PathDistanceProfile p = path_distance_profile(ts);
    for (size_t t = 0; t < p.median.size(); ++t)
      profile << set.name << "," << t << "," << p.moving[t] << "," << p.q25[t] << "," << p.median[t] << ","
              << p.q75[t] << "," << p.mean[t] << "\n";
    int64_t conv = 0, iters = 0, in_basin = 0;
    for (size_t i = 0; i < rows.size(); ++i) {
      csv << ood_csv_line(rows[i]) << "," << fmt("%.17g", scores[s][2][i]) << "\n";
      conv += rows[i].converged, iters += rows[i].iterations, in_basin += rows[i].converged && basin[i] >= 0;
    }
    const double n = double(rows.size());
    per_set[set.name] = {{"description", set.description},
                         {"in_distribution", set.in_distribution},
                         {"n", rows.size()},
                         {"mean_trajectory_score", mean_of(scores[s][0])},
                         {"mean_knn_score", mean_of(scores[s][1])},
                         {"mean_knn_input_score", mean_of(scores[s][2])},
                         {"converged_fraction", conv / n},
                         {"mean_iterations", iters / n},
                         {"ends_in_training_basin", in_basin / n}};
    std::fprintf(stderr, "  %-20s mean score %.4g, converged %.0f%%, mean %.0f iterations (%.1f s)\n",
                 set.name.c_str(), mean_of(scores[s][0]), 100 * conv / n, iters / n,
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }

  // ---- Metrics and ROC curves of every OOD set against the ID set -------------------------------------------
  OodResult res;
  res.in_distribution = sets[0].name;
  CsvWriter roc("set,method,threshold,fpr,tpr");
  for (size_t s = 1; s < sets.size(); ++s) {
    OodSetResult r;
    r.name = sets[s].name;
    json& m = per_set[r.name];
    double* auroc_of[3] = {&r.trajectory_auroc, &r.knn_auroc, &r.knn_input_auroc};
    double* fpr_of[3] = {&r.trajectory_fpr95, &r.knn_fpr95, &r.knn_input_fpr95};
    for (int k = 0; k < 3; ++k) {
      const OodMetrics a = ood_metrics(scores[0][size_t(k)], scores[s][size_t(k)]);
      *auroc_of[k] = a.auroc, *fpr_of[k] = a.fpr95;
      m[std::string(kMethods[k]) + "_auroc"] = a.auroc;
      m[std::string(kMethods[k]) + "_fpr95"] = a.fpr95;
      const RocCurve c = roc_curve(scores[0][size_t(k)], scores[s][size_t(k)]);
      for (size_t i = 0; i < c.fpr.size(); ++i)
        roc << r.name << "," << kMethods[k] << "," << c.threshold[i] << "," << c.fpr[i] << "," << c.tpr[i] << "\n";
    }
    res.sets.push_back(r);
  }
  res.minutes = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / 60;
  json& metrics = res.metrics;
  metrics["settings"] = {{"source", o.source},
                         {"model", model.describe()},
                         {"in_distribution", sets[0].name},
                         {"samples_per_set", o.samples},
                         {"train_codes_iterated", train_pick.size(0)},
                         {"train_codes_converged", train_traj.num_converged()},
                         {"distinct_train_attractors", distinct.size()},
                         {"knn_k", o.knn},
                         {"knn_reference_codes", train_codes.size(0)},
                         {"rotation_degrees", o.rotation},
                         {"iterate", iterate_json(o.iterate)},
                         {"seed", o.seed},
                         {"minutes", res.minutes}};
  if (!skipped.empty()) metrics["skipped"] = skipped;
  metrics["ood_sets"] = json::array();
  for (const auto& r : res.sets) metrics["ood_sets"].push_back(r.name);
  for (const auto& [name, value] : per_set.items()) metrics[name] = value;

  std::filesystem::create_directories(out);
  write_run_info(out, "ood", o.command);
  write_run_file(out + "/scores.csv", csv.str());
  roc.write(out + "/roc.csv");
  profile.write(out + "/trajectory_profile.csv");
  write_json(out + "/metrics.json", metrics);
  res.table = format_table(sets[0].name, sets[0].x.size(0), res.sets, o.knn);
  write_run_file(out + "/table.txt", res.table);
  if (train.is_images()) {  // what each set looks like: one row of 10 samples per set, in data units
    std::vector<Tensor> rows;
    bool full = true;
    for (const auto& set : sets) {
      rows.push_back(trainer->normalizer().invert(row_block(set.x, 0, std::min<int64_t>(10, set.x.size(0)))));
      full = full && rows.back().size(0) == 10;
    }
    if (full) write_image_grid(out + "/sets.png", concat(rows, 0).to(DType::f32), 10, 2, 2);
  }
  return res;
}

}  // namespace gg
