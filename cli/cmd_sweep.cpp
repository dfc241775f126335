// gradgrad sweep: memorization vs generalization over the bottleneck size k, paper 002 section 3.2
// (Figure 2, with Figure 12's attractor rank and Figure 6's variance ratio at initialization).
//
// The config is a training config (models/training.h) with an optional "sweep" section:
//   {"k": [2, 4, 8, 16, 32],   bottleneck sizes: model.code_dim of each model (--k overrides)
//    "starts": 1000,            starts drawn from each of train, test and N(0, I_k) (the paper: 5000)
//    "max_iters": 3000, "tol": 1e-6,   appendix D's iteration for Figures 2, 3 (--max-iters, --tol)
//    "init_samples": 1000,      N(0, I) inputs for the variance ratio at initialization (Figure 6)
//    "rank_fraction": 0.9,      Figure 12: components explaining this share of the variance of D(Z*)
//    "trajectory_fpr": true}    also Figure 3d's FPR95 / AUROC of noise vs training trajectories
// `--set sweep.starts=500` and `--set training.epochs=5` both work. One model per k is trained in DIR/k_<k>/
// (config.json, checkpoint.safetensors, metrics.json, loss curves, reconstructions, its decoded attractors);
// a k whose folder already holds a checkpoint of the same config is resumed (or only re-measured when it is
// complete) instead of trained again. The sweep folder gets sweep.csv, metrics.json, attractors_by_k.png
// (Figure 2 right) and the curves against k (plot_sweep).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "cli/commands.h"
#include "cli/experiments_common.h"
#include "cli/output.h"
#include "cli/progress.h"
#include "datasets/batching.h"
#include "datasets/images.h"
#include "dynamics/memorization.h"
#include "engine/gradgrad.h"
#include "regularizers/regularizer.h"

namespace gg::cli {

using nlohmann::json;

namespace {

namespace fs = std::filesystem;

struct SweepOptions {
  std::vector<int64_t> k = {2, 4, 8, 16, 32};
  int64_t starts = 1000;
  int64_t max_iters = 3000;
  double tol = 1e-6;
  int64_t init_samples = 1000;
  double rank_fraction = 0.9;
  bool trajectory_fpr = true;
};

SweepOptions read_sweep_section(const json& s) {
  SweepOptions o;
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

std::string num(double v) {
  if (std::isnan(v)) return "nan";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.10g", v);
  return buf;
}

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

}  // namespace

int run_sweep(const Args& args) {
  const std::string config_path = args.require("config"), out = args.require("out");
  const std::string k_arg = args.get("k", "");
  const std::string starts_arg = args.get("starts", ""), iters_arg = args.get("max-iters", ""),
                    tol_arg = args.get("tol", "");
  json file = read_json_file(config_path);
  apply_overrides(file, args.sets());
  SweepOptions so = file.contains("sweep") ? read_sweep_section(file["sweep"]) : SweepOptions{};
  if (!k_arg.empty()) so.k = parse_int_list(k_arg, "--k");
  so.starts = args.get_int("starts", so.starts);
  so.max_iters = args.get_int("max-iters", so.max_iters);
  so.tol = args.get_double("tol", so.tol);
  args.finish();
  GG_CHECK(so.starts >= 1, "--starts must be >= 1");
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
  write_run_info(out, "sweep", args);
  json settings = {{"config", config_path},
                   {"k", so.k},
                   {"starts", so.starts},
                   {"iterate", {{"tol", so.tol}, {"max_iters", so.max_iters}}},
                   {"init_samples", so.init_samples},
                   {"rank_fraction", so.rank_fraction},
                   {"merge", "cos > 0.99"}};
  json metrics = {{"settings", settings}};
  std::ostringstream csv;
  csv << "k,test_mse,train_mse,memorization_mean,memorization_std,distinct_train,distinct_test,distinct_noise,"
         "converged_train,converged_test,converged_noise,starts,chamfer_noise_train,attractor_rank,"
         "variance_ratio_init,variance_ratio_init_latent,fpr95_noise_vs_train,auroc_noise_vs_train,epochs,"
         "parameters,train_seconds,dynamics_seconds\n";
  std::vector<Tensor> attractor_rows;
  bool images = false;
  const auto sweep_start = std::chrono::steady_clock::now();

  for (const int64_t k : so.k) {
    json c = train_config;
    c["model"]["code_dim"] = k;
    Trainer trainer(c, make_regularizer_loss);
    Autoencoder& model = trainer.model();
    images = trainer.train_set().is_images();
    const std::string dir = out + "/k_" + std::to_string(k);
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
    write_json(dir + "/run.json", {{"kind", "train"}, {"command", "gradgrad sweep (k = " + std::to_string(k) + ")"}});

    // ---- Training, one progress line per model ---------------------------------------------------------------
    const auto t0 = std::chrono::steady_clock::now();
    const int64_t epochs = trainer.total_epochs(), per_epoch = trainer.batches_per_epoch();
    const int64_t first = trainer.epochs_done();
    char status[160] = "";
    std::snprintf(status, sizeof status, "%lld/%lld epochs already done", (long long)first, (long long)epochs);
    {
      const std::string label = "k=" + std::to_string(k);
      ProgressBar bar(label, std::max<int64_t>(1, (epochs - first) * per_epoch),
                      trainer.config()["training"]["batch_size"].get<int64_t>());
      while (trainer.epochs_done() < epochs) {
        const int64_t e = trainer.epochs_done();
        const EpochRecord r = trainer.train_epoch([&](int64_t i, double loss) {
          std::snprintf(status, sizeof status, "epoch %lld/%lld loss %.4g", (long long)e + 1, (long long)epochs,
                        loss);
          bar.update((e - first) * per_epoch + i + 1, status);
        });
        std::snprintf(status, sizeof status, "epoch %lld/%lld loss %.4g test mse %.4g", (long long)r.epoch,
                      (long long)epochs, r.loss, r.test_mse);
      }
      bar.finish(status);
    }
    if (trainer.epochs_done() > first || !fs::exists(checkpoint)) trainer.save_checkpoint(checkpoint);
    const double train_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    // ---- The dynamics of the trained model (Figures 2, 3c-d, 12) -------------------------------------------
    const auto t1 = std::chrono::steady_clock::now();
    const Dataset& train = trainer.train_set();
    const Dataset& test = trainer.test_set();
    const MemorizationReport r = memorization_report(model, train.x, test.x, mo);
    const double dynamics_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
    const double test_mse = trainer.history().empty() ? trainer.reconstruction_error(test) : trainer.history().back().test_mse;
    const double train_mse = trainer.reconstruction_error(train);

    json point = {{"k", k},
                  {"test_mse", test_mse},
                  {"train_mse", train_mse},
                  {"memorization_mean", r.memorization.mean},
                  {"memorization_std", r.memorization.std},
                  {"distinct_train", r.train.distinct},
                  {"distinct_test", r.test.distinct},
                  {"distinct_noise", r.noise.distinct},
                  {"converged_train", r.train.converged},
                  {"converged_test", r.test.converged},
                  {"converged_noise", r.noise.converged},
                  {"starts_train", r.train.starts},
                  {"starts_test", r.test.starts},
                  {"starts_noise", r.noise.starts},
                  {"chamfer_noise_train", r.chamfer_noise_train},
                  {"attractor_rank", r.attractor_rank},
                  {"variance_ratio_init", ratio},
                  {"variance_ratio_init_latent", ratio_latent},
                  {"fpr95_noise_vs_train", r.fpr95_noise_vs_train},
                  {"auroc_noise_vs_train", r.auroc_noise_vs_train},
                  {"epochs", trainer.epochs_done()},
                  {"parameters", model.num_parameters()},
                  {"train_seconds", train_seconds},
                  {"dynamics_seconds", dynamics_seconds}};
    csv << k << "," << num(test_mse) << "," << num(train_mse) << "," << num(r.memorization.mean) << ","
        << num(r.memorization.std) << "," << r.train.distinct << "," << r.test.distinct << "," << r.noise.distinct
        << "," << r.train.converged << "," << r.test.converged << "," << r.noise.converged << "," << r.train.starts
        << "," << num(r.chamfer_noise_train) << "," << r.attractor_rank << "," << num(ratio) << ","
        << num(ratio_latent) << "," << num(r.fpr95_noise_vs_train) << "," << num(r.auroc_noise_vs_train) << ","
        << trainer.epochs_done() << "," << model.num_parameters() << "," << num(train_seconds) << ","
        << num(dynamics_seconds) << "\n";
    metrics["k_" + std::to_string(k)] = point;

    // The model's own folder: what `gradgrad train` leaves, plus this point of the sweep.
    json run_metrics;
    run_metrics["epochs"] = trainer.history();
    run_metrics["final"] = {{"test_mse", test_mse}, {"train_mse", train_mse}, {"epochs", trainer.epochs_done()},
                            {"parameters", model.num_parameters()}, {"model", model.describe()},
                            {"minutes_this_run", train_seconds / 60}};
    run_metrics["sweep_point"] = point;
    write_json(dir + "/metrics.json", run_metrics);
    if (images) {
      NoGradGuard no_grad;
      const Normalizer& nz = trainer.normalizer();
      const int64_t n = std::min<int64_t>(16, test.size());
      const Tensor x = row_block(test.x, 0, n).to(model.config().dtype);
      write_image_grid(dir + "/reconstructions.png", concat({nz.invert(x), nz.invert(model(x))}, 0).to(DType::f32),
                       static_cast<int>(n), 2, 3);
      const Tensor row = attractor_row(model, nz, r.train.attractors, 16);
      write_image_grid(dir + "/attractors.png", row, 16, 2, 3);
      attractor_rows.push_back(slice(row, 0, 0, 10));
    }
    draw_figures(dir);
    std::printf("k=%-4lld test mse %.4g  mem %.3f +- %.3f  attractors train/test/noise %lld/%lld/%lld  "
                "chamfer %.3f  rank %lld  var ratio %.3g  (train %.0f s, dynamics %.0f s)\n",
                (long long)k, test_mse, r.memorization.mean, r.memorization.std, (long long)r.train.distinct,
                (long long)r.test.distinct, (long long)r.noise.distinct, r.chamfer_noise_train,
                (long long)r.attractor_rank, ratio, train_seconds, dynamics_seconds);
    std::fflush(stdout);
  }

  const double minutes = std::chrono::duration<double>(std::chrono::steady_clock::now() - sweep_start).count() / 60;
  metrics["settings"]["minutes"] = minutes;
  write_file_atomic(out + "/sweep.csv", csv.str());
  write_json(out + "/metrics.json", metrics);
  if (images && !attractor_rows.empty())  // Figure 2 right: one row of decoded training attractors per k
    write_image_grid(out + "/attractors_by_k.png", concat(attractor_rows, 0), 10, 2, 2);
  draw_figures(out);
  std::printf("%zu models in %.2f min; wrote %s/sweep.csv and %s/report.html\n", so.k.size(), minutes, out.c_str(),
              out.c_str());
  return 0;
}

}  // namespace gg::cli
