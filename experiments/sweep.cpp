#include "experiments/sweep.h"

#include <chrono>
#include <cstdio>
#include <filesystem>

#include "datasets/images.h"
#include "dynamics/memorization.h"
#include "engine/gradgrad.h"
#include "experiments/output.h"
#include "experiments/records.h"
#include "experiments/train.h"
#include "regularizers/regularizer.h"

namespace gg {

using nlohmann::json;
namespace fs = std::filesystem;

SweepSettings read_sweep_section(const json& s) {
  SweepSettings o;
  GG_CHECK(s.is_object(), "sweep: expected a JSON object, got " + s.dump());
  for (const auto& [key, v] : s.items()) {
    if (key == "k") {
      GG_CHECK(v.is_array() && !v.empty(), "sweep.k: expected a list of bottleneck sizes");
      o.k.clear();
      for (const auto& x : v) {
        GG_CHECK(x.is_number_integer() && x.get<int64_t>() >= 1, "sweep.k: " + x.dump() + " is not a size >= 1");
        o.k.push_back(x.get<int64_t>());
      }
    } else if (key == "starts" || key == "max_iters" || key == "init_samples") {
      GG_CHECK(v.is_number_integer() && v.get<int64_t>() >= (key == "max_iters" ? 0 : 2),
               "sweep." + key + ": expected a positive integer, got " + v.dump());
      (key == "starts" ? o.starts : key == "max_iters" ? o.max_iters : o.init_samples) = v.get<int64_t>();
    } else if (key == "tol" || key == "rank_fraction") {
      GG_CHECK(v.is_number() && v.get<double>() > 0, "sweep." + key + ": expected a positive number");
      (key == "tol" ? o.tol : o.rank_fraction) = v.get<double>();
    } else if (key == "trajectory_fpr") {
      GG_CHECK(v.is_boolean(), "sweep.trajectory_fpr: expected true or false");
      o.trajectory_fpr = v.get<bool>();
    } else {
      fail("sweep: unknown key '" + key + "' (known: k, starts, max_iters, tol, init_samples, rank_fraction, "
           "trajectory_fpr)");
    }
  }
  return o;
}

namespace {

// sweep.csv's columns and the keys of the points they come from.
const std::vector<std::pair<std::string, std::string>> kCsvColumns = {
    {"k", "k"}, {"test_mse", "test_mse"}, {"train_mse", "train_mse"}, {"memorization_mean", "memorization_mean"},
    {"memorization_std", "memorization_std"}, {"distinct_train", "distinct_train"}, {"distinct_test", "distinct_test"},
    {"distinct_noise", "distinct_noise"}, {"converged_train", "converged_train"}, {"converged_test", "converged_test"},
    {"converged_noise", "converged_noise"}, {"starts", "starts_train"}, {"chamfer_noise_train", "chamfer_noise_train"},
    {"attractor_rank", "attractor_rank"}, {"variance_ratio_init", "variance_ratio_init"},
    {"variance_ratio_init_latent", "variance_ratio_init_latent"}, {"fpr95_noise_vs_train", "fpr95_noise_vs_train"},
    {"auroc_noise_vs_train", "auroc_noise_vs_train"}, {"epochs", "epochs"}, {"parameters", "parameters"},
    {"train_seconds", "train_seconds"}, {"dynamics_seconds", "dynamics_seconds"}};

// Whether `dir` holds a checkpoint of this same config (training.epochs aside), so it can be resumed.
bool resumable(const std::string& dir, const json& config) {
  if (!fs::exists(dir + "/checkpoint.safetensors") || !fs::exists(dir + "/config.json")) return false;
  json a = read_json_file(dir + "/config.json"), b = config;
  a["training"].erase("epochs");
  b["training"].erase("epochs");
  return a == b;
}

// Up to `per_row` decoded attractors (most visited first) in data units; grey tiles fill a short row.
Tensor attractor_row(Autoencoder& model, const Normalizer& nz, const AttractorSet& att, int64_t per_row) {
  const Shape& shape = model.config().input_shape;
  Shape row_shape{per_row};
  row_shape.insert(row_shape.end(), shape.begin(), shape.end());
  Tensor row = Tensor::full(row_shape, 0.5, DType::f32);
  const std::vector<int64_t> order = att.by_count();
  const int64_t n = std::min<int64_t>(per_row, static_cast<int64_t>(order.size()));
  if (n == 0) return row;
  const Tensor z = select_rows(att.points, std::vector<int64_t>(order.begin(), order.begin() + n));
  const Tensor decoded = nz.invert(decode_batched(model, z.to(model.config().dtype))).to(DType::f32);
  return n == per_row ? decoded : concat({decoded, slice(row, 0, n, per_row)}, 0);
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// One model of the sweep: trained (or resumed) in `dir`, then measured. Returns its point; `row` gets its
// decoded training attractors (images).
json sweep_point(const json& config, const SweepSettings& so, const MemorizationReportOptions& mo,
                 const std::string& dir, Tensor& row) {
  Trainer trainer(config, make_regularizer_loss);
  Autoencoder& model = trainer.model();
  const int64_t k = model.config().code_dim;
  fs::create_directories(dir);
  // Figure 6: the untrained model's output/input variance ratio on N(0, I) inputs (and on latent codes).
  const double ratio = variance_ratio_at_init(model, so.init_samples, mo.seed);
  const double ratio_latent = variance_ratio_at_init(model, so.init_samples, mo.seed, true);
  const std::string checkpoint = dir + "/checkpoint.safetensors";
  if (resumable(dir, trainer.config())) {
    trainer.resume(checkpoint);
    std::fprintf(stderr, "k=%lld: resumed %s at epoch %lld\n", (long long)k, checkpoint.c_str(),
                 (long long)trainer.epochs_done());
  }
  write_json(dir + "/config.json", trainer.config());
  write_run_info(dir, "train", "gradgrad sweep (k = " + std::to_string(k) + ")");

  const auto t0 = std::chrono::steady_clock::now();
  const int64_t first = trainer.epochs_done();
  train_to_end(trainer, "k=" + std::to_string(k));
  if (trainer.epochs_done() > first || !fs::exists(checkpoint)) trainer.save_checkpoint(checkpoint);
  const double train_seconds = seconds_since(t0);

  // The dynamics of the trained model (Figures 2, 3c-d, 12).
  const auto t1 = std::chrono::steady_clock::now();
  const MemorizationReport r = memorization_report(model, trainer.train_set().x, trainer.test_set().x, mo);
  const double dynamics_seconds = seconds_since(t1);
  json run_metrics;
  run_metrics["epochs"] = trainer.history();
  run_metrics["final"] = final_metrics(trainer, train_seconds / 60);
  json point = memorization_record(r);
  point["k"] = k;
  for (const char* key : {"test_mse", "train_mse", "epochs", "parameters"}) point[key] = run_metrics["final"][key];
  point["variance_ratio_init"] = ratio;
  point["variance_ratio_init_latent"] = ratio_latent;
  point["train_seconds"] = train_seconds;
  point["dynamics_seconds"] = dynamics_seconds;
  run_metrics["sweep_point"] = point;  // the model's own folder: what `gradgrad train` leaves, and this point
  write_json(dir + "/metrics.json", run_metrics);
  write_reconstructions(trainer, dir);
  if (trainer.train_set().is_images()) {
    const Tensor attractors = attractor_row(model, trainer.normalizer(), r.train.attractors, 16);
    write_image_grid(dir + "/attractors.png", attractors, 16, 2, 3);
    row = slice(attractors, 0, 0, 10);
  }
  std::fprintf(stderr,
               "k=%-4lld test mse %.4g  mem %.3f +- %.3f  attractors train/test/noise %lld/%lld/%lld  chamfer %.3f  "
               "rank %lld  var ratio %.3g  (train %.0f s, dynamics %.0f s)\n",
               (long long)k, point["test_mse"].get<double>(), r.memorization.mean, r.memorization.std,
               (long long)r.train.distinct, (long long)r.test.distinct, (long long)r.noise.distinct,
               r.chamfer_noise_train, (long long)r.attractor_rank, ratio, train_seconds, dynamics_seconds);
  return point;
}

}  // namespace

SweepResult sweep_experiment(const SweepOptions& o, const std::string& out) {
  json file = o.config.is_null() ? read_json_file(o.config_path) : o.config;
  apply_overrides(file, o.sets);
  SweepSettings so = file.contains("sweep") ? read_sweep_section(file["sweep"]) : SweepSettings{};
  if (!o.k.empty()) so.k = o.k;
  so.starts = o.starts.value_or(so.starts);
  so.max_iters = o.max_iters.value_or(so.max_iters);
  so.tol = o.tol.value_or(so.tol);
  GG_CHECK(so.starts >= 1, "sweep: starts must be >= 1");
  for (int64_t k : so.k) GG_CHECK(k >= 1, "sweep: every bottleneck k must be >= 1");
  json train_config = file;
  train_config.erase("sweep");
  GG_CHECK(train_config.contains("model") && train_config["model"].is_object(), "config: needs a model section");

  MemorizationReportOptions mo;
  mo.samples = so.starts;
  mo.iterate.max_iters = so.max_iters;
  mo.iterate.tol = so.tol;
  mo.rank_fraction = so.rank_fraction;
  mo.trajectory_fpr = so.trajectory_fpr;
  mo.seed = train_config.value("seed", 0);

  fs::create_directories(out);
  write_run_info(out, "sweep", o.command);
  SweepResult res;
  res.metrics = {{"settings",
                  {{"config", o.config_path.empty() ? "(given as JSON)" : o.config_path},
                   {"k", so.k},
                   {"starts", so.starts},
                   {"iterate", iterate_json(mo.iterate)},
                   {"init_samples", so.init_samples},
                   {"rank_fraction", so.rank_fraction},
                   {"merge", "cos > 0.99"}}}};
  std::vector<Tensor> attractor_rows;
  const auto start = std::chrono::steady_clock::now();
  for (const int64_t k : so.k) {
    json c = train_config;
    c["model"]["code_dim"] = k;
    const std::string dir = out + "/k_" + std::to_string(k);
    Tensor row;
    res.points.push_back(sweep_point(c, so, mo, dir, row));
    res.model_dirs.push_back(dir);
    res.metrics["k_" + std::to_string(k)] = res.points.back();
    if (row.defined()) attractor_rows.push_back(row);
  }
  res.minutes = seconds_since(start) / 60;
  res.metrics["settings"]["minutes"] = res.minutes;
  write_file_atomic(out + "/sweep.csv", records_csv(res.points, kCsvColumns));
  write_json(out + "/metrics.json", res.metrics);
  if (!attractor_rows.empty())  // Figure 2 right: one row of decoded training attractors per k
    write_image_grid(out + "/attractors_by_k.png", concat(attractor_rows, 0), 10, 2, 2);
  return res;
}

}  // namespace gg
