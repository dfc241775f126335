#include "experiments/sweep.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "datasets/images.h"
#include "dynamics/memorization.h"
#include "engine/gradgrad.h"
#include "experiments/field_analysis.h"
#include "experiments/output.h"
#include "experiments/progress.h"
#include "experiments/records.h"
#include "experiments/train.h"
#include "models/checkpoint.h"
#include "regularizers/regularizer.h"

namespace gg {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

SlurmSettings read_slurm_section(const json& s) {
  SlurmSettings o;
  GG_CHECK(s.is_object(), "sweep.slurm: expected a JSON object");
  for (const auto& [key, v] : s.items()) {
    if (key == "partition" || key == "time" || key == "mem" || key == "account") {
      GG_CHECK(v.is_string(), "sweep.slurm." + key + ": expected a string");
      (key == "partition" ? o.partition : key == "time" ? o.time : key == "mem" ? o.mem : o.account) = v;
    } else if (key == "cpus_per_task") {
      GG_CHECK(v.is_number_integer() && v.get<int64_t>() >= 1, "sweep.slurm.cpus_per_task: expected an integer >= 1");
      o.cpus_per_task = v;
    } else if (key == "sbatch") {
      GG_CHECK(v.is_array(), "sweep.slurm.sbatch: expected a list of sbatch options");
      for (const auto& x : v) {
        GG_CHECK(x.is_string() && x.get<std::string>().rfind("--", 0) == 0 &&
                     x.get<std::string>().find('\n') == std::string::npos,
                 "sweep.slurm.sbatch: each entry is one long sbatch option such as \"--qos=short\"");
        o.sbatch.push_back(x);
      }
    } else {
      fail("sweep.slurm: unknown key '" + key + "' (known: partition, time, cpus_per_task, mem, account, sbatch)");
    }
  }
  return o;
}

// A list of distinct integers >= `least`: one axis of the grid.
std::vector<int64_t> read_grid_axis(const json& v, const std::string& where, const std::string& what, int64_t least) {
  GG_CHECK(v.is_array() && !v.empty(), where + ": expected a non-empty list, each " + what);
  std::vector<int64_t> axis;
  for (const auto& x : v) {
    GG_CHECK(x.is_number_integer() && x.get<int64_t>() >= least, where + ": " + json_brief(x) + " is not " + what);
    GG_CHECK(std::find(axis.begin(), axis.end(), x.get<int64_t>()) == axis.end(),
             where + ": " + json_brief(x) + " is listed twice");
    axis.push_back(x.get<int64_t>());
  }
  return axis;
}

}  // namespace

SweepSettings read_sweep_section(const json& s) {
  SweepSettings o;
  GG_CHECK(s.is_object(), "sweep: expected a JSON object");
  for (const auto& [key, v] : s.items()) {
    if (key == "k") {
      o.k = read_grid_axis(v, "sweep.k", "a bottleneck size >= 1", 1);
    } else if (key == "seeds") {
      o.seeds = read_grid_axis(v, "sweep.seeds", "a seed >= 0", 0);
    } else if (key == "train_sizes") {
      o.train_sizes = read_grid_axis(v, "sweep.train_sizes", "a training-set size >= 2", 2);
    } else if (key == "field_box") {
      GG_CHECK(v.is_number() && v.get<double>() >= 0,
               "sweep.field_box: expected a half-width >= 0 (0: no field), got " + json_brief(v));
      o.field_box = v.get<double>();
    } else if (key == "field_grid") {
      GG_CHECK(v.is_number_integer() && v.get<int64_t>() >= 2 && v.get<int64_t>() <= 1000,
               "sweep.field_grid: expected cells per side in 2..1000, got " + json_brief(v));
      o.field_grid = v.get<int64_t>();
    } else if (key == "starts" || key == "max_iters" || key == "init_samples") {
      GG_CHECK(v.is_number_integer() && v.get<int64_t>() >= (key == "max_iters" ? 0 : 2),
               "sweep." + key + ": expected a positive integer, got " + json_brief(v));
      (key == "starts" ? o.starts : key == "max_iters" ? o.max_iters : o.init_samples) = v.get<int64_t>();
    } else if (key == "tol" || key == "rank_fraction") {
      GG_CHECK(v.is_number() && v.get<double>() > 0, "sweep." + key + ": expected a positive number");
      (key == "tol" ? o.tol : o.rank_fraction) = v.get<double>();
    } else if (key == "trajectory_fpr" || key == "same_steps") {
      GG_CHECK(v.is_boolean(), "sweep." + key + ": expected true or false");
      (key == "same_steps" ? o.same_steps : o.trajectory_fpr) = v.get<bool>();
    } else if (key == "slurm") {
      o.slurm = read_slurm_section(v);
    } else {
      fail("sweep: unknown key '" + key + "' (known: k, train_sizes, same_steps, seeds, starts, max_iters, tol, "
           "init_samples, rank_fraction, trajectory_fpr, field_box, field_grid, slurm)");
    }
  }
  GG_CHECK(!o.same_steps || !o.train_sizes.empty(), "sweep.same_steps: goes with sweep.train_sizes");
  return o;
}

namespace {

// sweep.csv's columns and the keys of the points they come from.
const std::vector<std::pair<std::string, std::string>> kCsvColumns = {
    {"k", "k"}, {"seed", "seed"}, {"train_size", "train_size"}, {"test_mse", "test_mse"}, {"train_mse", "train_mse"},
    {"memorization_mean", "memorization_mean"},
    {"memorization_std", "memorization_std"}, {"distinct_train", "distinct_train"}, {"distinct_test", "distinct_test"},
    {"distinct_noise", "distinct_noise"}, {"converged_train", "converged_train"}, {"converged_test", "converged_test"},
    {"converged_noise", "converged_noise"}, {"starts", "starts_train"}, {"starts_test", "starts_test"},
    {"starts_noise", "starts_noise"}, {"chamfer_noise_train", "chamfer_noise_train"},
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

MemorizationReportOptions measure_options(const SweepPlan& plan, size_t i) {
  MemorizationReportOptions mo;
  mo.samples = plan.settings.starts;
  mo.iterate.max_iters = plan.settings.max_iters;
  mo.iterate.tol = plan.settings.tol;
  mo.rank_fraction = plan.settings.rank_fraction;
  mo.trajectory_fpr = plan.settings.trajectory_fpr;
  mo.seed = plan.point_seed(i);
  return mo;
}

// Point i's record of itself: the config it was run with and its numbers, written last.
std::string point_file(const SweepPlan& plan, size_t i) { return plan.point_dir(i) + "/sweep_point.json"; }
// Its decoded training attractors (images only), for attractors_by_k.png.
std::string attractor_file(const SweepPlan& plan, size_t i) { return plan.point_dir(i) + "/attractor_row.safetensors"; }

SweepPlan plan_from_config(json config, const std::string& out, const std::string& source) {
  SweepPlan plan;
  plan.settings = config.contains("sweep") ? read_sweep_section(config["sweep"]) : SweepSettings{};
  GG_CHECK(config.contains("model") && config["model"].is_object(), "config: needs a model section");
  plan.config = std::move(config);
  plan.out = fs::absolute(out).lexically_normal().string();
  plan.source = source;
  return plan;
}

}  // namespace

int64_t SweepPlan::point_k(size_t i) const {
  GG_CHECK(i < size(), "sweep: point " + std::to_string(i) + " does not exist (the sweep has " +
                           std::to_string(size()) + " points, 0.." + std::to_string(size() - 1) + ")");
  return settings.k[i / (sizes_per_k() * seeds_per_size())];
}

int64_t SweepPlan::point_train_size(size_t i) const {
  point_k(i);  // checks i
  return settings.train_sizes.empty() ? 0 : settings.train_sizes[(i / seeds_per_size()) % sizes_per_k()];
}

int64_t SweepPlan::point_seed(size_t i) const {
  point_k(i);  // checks i
  return settings.seeds.empty() ? config.value("seed", int64_t{0}) : settings.seeds[i % settings.seeds.size()];
}

std::string SweepPlan::point_name(size_t i) const {
  return "k_" + std::to_string(point_k(i)) +
         (settings.train_sizes.empty() ? "" : "_n_" + std::to_string(point_train_size(i))) +
         (settings.seeds.empty() ? "" : "_seed_" + std::to_string(point_seed(i)));
}

std::string SweepPlan::point_dir(size_t i) const { return out + "/" + point_name(i); }

json SweepPlan::point_config(size_t i) const {
  json c = config;
  c.erase("sweep");
  c["model"]["code_dim"] = point_k(i);
  if (!settings.train_sizes.empty()) {
    const int64_t n = point_train_size(i);
    c["data"]["limit"] = n;
    if (settings.same_steps) {  // as many steps as training.epochs takes on the largest set
      const int64_t largest = *std::max_element(settings.train_sizes.begin(), settings.train_sizes.end());
      GG_CHECK(c.contains("training") && c["training"].contains("epochs") &&
                   c["training"]["epochs"].is_number_integer(),
               "sweep.same_steps: the config needs an integer training.epochs");
      c["training"]["epochs"] = (c["training"]["epochs"].get<int64_t>() * largest + n - 1) / n;
    }
  }
  if (!settings.seeds.empty()) c["seed"] = point_seed(i);
  return c;
}

SweepPlan plan_sweep(const SweepOptions& o, const std::string& out) {
  json config = o.config.is_null() ? read_json_file(o.config_path) : o.config;
  if (!config.contains("sweep")) config["sweep"] = json::object();  // the defaults, which --set may reach
  apply_overrides(config, o.sets);
  // The flags are folded into the sweep section, so sweep_config.json alone says what every point runs.
  json& section = config["sweep"];
  if (section.is_null()) section = json::object();
  if (!o.k.empty()) section["k"] = o.k;
  if (!o.seeds.empty()) section["seeds"] = o.seeds;
  if (o.starts) section["starts"] = *o.starts;
  if (o.max_iters) section["max_iters"] = *o.max_iters;
  if (o.tol) section["tol"] = *o.tol;
  for (const auto& [key, value] : o.slurm.items()) section["slurm"][key] = value;
  SweepPlan plan = plan_from_config(config, out, o.config_path.empty() ? "(given as JSON)" : o.config_path);
  write_json(plan.out + "/sweep_config.json", plan.config);
  write_run_info(plan.out, "sweep", o.command);
  return plan;
}

SweepPlan read_sweep_plan(const std::string& out) {
  const std::string path = out + "/sweep_config.json";
  GG_CHECK(fs::exists(path), out + " holds no sweep: " + path + " is missing (`gradgrad sweep --config F --out " +
                                 out + "` writes it)");
  return plan_from_config(read_json_file(path), out, path);
}

json SweepPlan::point_measure(size_t i) const {
  const SweepSettings& s = settings;
  json m = {{"starts", s.starts},
            {"max_iters", s.max_iters},
            {"tol", s.tol},
            {"init_samples", s.init_samples},
            {"rank_fraction", s.rank_fraction},
            {"trajectory_fpr", s.trajectory_fpr},
            {"seed", point_seed(i)}};
  if (point_k(i) == 2 && s.field_box > 0) m["field"] = {{"box", s.field_box}, {"grid", s.field_grid}};
  return m;
}

bool sweep_point_finished(const SweepPlan& plan, size_t i) {
  const std::string path = point_file(plan, i);
  if (!fs::exists(path)) return false;
  const json record = read_json_file(path);
  if (!record.contains("config") || record["config"] != plan.point_config(i) || !record.contains("point"))
    return false;
  if (record.contains("measure")) return record["measure"] == plan.point_measure(i);
  // A record from before "measure" was kept says only how many starts it drew.
  return record["point"].value("starts_train", int64_t{-1}) == plan.settings.starts;
}

std::vector<size_t> unfinished_points(const SweepPlan& plan) {
  std::vector<size_t> left;
  for (size_t i = 0; i < plan.size(); ++i)
    if (!sweep_point_finished(plan, i)) left.push_back(i);
  return left;
}

json run_sweep_point(const SweepPlan& plan, size_t i) {
  const int64_t k = plan.point_k(i);
  const std::string name = plan.point_name(i);
  if (sweep_point_finished(plan, i)) {
    std::fprintf(stderr, "%s: finished before (%s), not run again\n", name.c_str(), point_file(plan, i).c_str());
    return read_json_file(point_file(plan, i))["point"];
  }
  const json config = plan.point_config(i);
  // The same model measured before with other settings (more starts, say): its training time stays the one
  // recorded then, as the checkpoint is resumed and not trained again.
  json measured_before;
  if (fs::exists(point_file(plan, i))) {
    const json record = read_json_file(point_file(plan, i));
    if (record.value("config", json()) == config) measured_before = record["point"];
  }
  const std::string dir = plan.point_dir(i);
  MemorizationReportOptions mo = measure_options(plan, i);
  Trainer trainer(config, make_regularizer_loss);
  Autoencoder& model = trainer.model();
  const RunFolderLock lock(dir);  // a point submitted twice runs once at a time, never mixed
  // Figure 6: the untrained model's output/input variance ratio on N(0, I) inputs (and on latent codes).
  const double ratio = variance_ratio_at_init(model, plan.settings.init_samples, mo.seed);
  const double ratio_latent = variance_ratio_at_init(model, plan.settings.init_samples, mo.seed, true);
  const std::string checkpoint = dir + "/checkpoint.safetensors";
  if (resumable(dir, trainer.config())) {
    trainer.resume(checkpoint);
    std::fprintf(stderr, "%s: resumed %s at epoch %lld\n", name.c_str(), checkpoint.c_str(),
                 (long long)trainer.epochs_done());
  }
  write_json(dir + "/config.json", trainer.config());
  write_run_info(dir, "train", "gradgrad sweep (" + name + ")");

  const auto t0 = std::chrono::steady_clock::now();
  const int64_t first = trainer.epochs_done();
  train_to_end(trainer, name);
  if (trainer.epochs_done() > first || !fs::exists(checkpoint)) trainer.save_checkpoint(checkpoint);
  double train_seconds = seconds_since(t0);
  if (trainer.epochs_done() == first && measured_before.contains("train_seconds")) {
    train_seconds = measured_before["train_seconds"].get<double>();
    std::fprintf(stderr, "%s: trained before, measured again with this sweep's settings\n", name.c_str());
  }

  // The dynamics of the trained model (Figures 2, 3c-d, 12).
  const auto t1 = std::chrono::steady_clock::now();
  StageProgress dynamics_progress(name + " dynamics");
  mo.progress = std::ref(dynamics_progress);
  const MemorizationReport r = memorization_report(model, trainer.train_set().x, trainer.test_set().x, mo);
  json field_grid;
  if (k == 2 && plan.settings.field_box > 0) {  // Figure 1: the field over [-box, box]^2, the codes themselves
    const double b = plan.settings.field_box;
    const int64_t n = plan.settings.field_grid;
    const Tensor& z_train = r.train.trajectories.start;  // the training starts' codes, encoded once by the report
    field_grid = field_detail::write_field_snapshot(model, r, Plane(z_train, 2), z_train, Grid2d{-b, b, -b, b, n, n},
                                                    dir + "/dynamics", "trained");
  }
  const double dynamics_seconds = seconds_since(t1);
  json run_metrics;
  run_metrics["epochs"] = trainer.history();
  run_metrics["final"] = final_metrics(trainer, train_seconds / 60);
  json point = memorization_record(r);
  point["k"] = k;
  point["seed"] = mo.seed;
  point["train_size"] = trainer.train_set().size();
  if (!field_grid.is_null()) point["field_grid"] = field_grid;
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
    save_safetensors(attractor_file(plan, i), {{"attractors", slice(attractors, 0, 0, 10)}});
  }
  std::fprintf(stderr,
               "%-6s test mse %.4g  mem %.3f +- %.3f  attractors train/test/noise %lld/%lld/%lld  chamfer %.3f  "
               "rank %lld  var ratio %.3g  (train %.0f s, dynamics %.0f s)\n",
               name.c_str(), point["test_mse"].get<double>(), r.memorization.mean, r.memorization.std,
               (long long)r.train.distinct, (long long)r.test.distinct, (long long)r.noise.distinct,
               r.chamfer_noise_train, (long long)r.attractor_rank, ratio, train_seconds, dynamics_seconds);
  write_json(point_file(plan, i),
             {{"config", config}, {"measure", plan.point_measure(i)}, {"point", point}});  // last: finished
  return point;
}

SweepResult collect_sweep(const SweepPlan& plan) {
  std::string unfinished;
  for (size_t i : unfinished_points(plan))
    unfinished += (unfinished.empty() ? "" : ", ") + plan.point_name(i);
  GG_CHECK(unfinished.empty(), "sweep " + plan.out + ": not every point has finished (" + unfinished +
                                   "); run them (`gradgrad sweep --out DIR --point I`, or resubmit with --slurm) "
                                   "and collect again");
  const SweepSettings& so = plan.settings;
  SweepResult res;
  res.metrics = {{"settings",
                  {{"config", plan.source},
                   {"k", so.k},
                   {"train_sizes", so.train_sizes},
                   {"same_steps", so.same_steps},
                   {"seeds", so.seeds},
                   {"starts", so.starts},
                   {"iterate", iterate_json(measure_options(plan, 0).iterate)},
                   {"init_samples", so.init_samples},
                   {"rank_fraction", so.rank_fraction},
                   {"merge", "cos > 0.99"},
                   {"field_box", so.field_box}}}};
  std::vector<Tensor> attractor_rows;
  double seconds = 0;
  for (size_t i = 0; i < plan.size(); ++i) {
    res.points.push_back(read_json_file(point_file(plan, i))["point"]);
    res.model_dirs.push_back(plan.point_dir(i));
    res.metrics[plan.point_name(i)] = res.points.back();
    seconds += res.points.back().value("train_seconds", 0.0) + res.points.back().value("dynamics_seconds", 0.0);
    if (fs::exists(attractor_file(plan, i)))
      attractor_rows.push_back(load_safetensors(attractor_file(plan, i)).tensors.at(0).second);
  }
  res.minutes = seconds / 60;
  res.metrics["settings"]["minutes"] = res.minutes;
  write_run_file(plan.out + "/sweep.csv", records_csv(res.points, kCsvColumns));
  write_json(plan.out + "/metrics.json", res.metrics);
  if (!attractor_rows.empty())  // Figure 2 right: one row of decoded training attractors per grid point
    write_image_grid(plan.out + "/attractors_by_k.png", concat(attractor_rows, 0), 10, 2, 2);
  return res;
}

SweepResult sweep_experiment(const SweepOptions& o, const std::string& out) {
  const SweepPlan plan = plan_sweep(o, out);
  for (size_t i = 0; i < plan.size(); ++i) run_sweep_point(plan, i);
  return collect_sweep(plan);
}

}  // namespace gg
