#include "experiments/train.h"

#include <chrono>
#include <cstdio>
#include <filesystem>

#include "datasets/images.h"
#include "experiments/output.h"
#include "experiments/progress.h"
#include "regularizers/regularizer.h"

namespace gg {

using nlohmann::json;
namespace fs = std::filesystem;

void train_to_end(Trainer& trainer, const std::string& label, const std::function<void(const EpochRecord&)>& on_epoch) {
  const int64_t epochs = trainer.total_epochs(), per_epoch = trainer.batches_per_epoch();
  const int64_t first = trainer.epochs_done();
  char status[160] = "";
  std::snprintf(status, sizeof status, "%lld/%lld epochs already done", (long long)first, (long long)epochs);
  ProgressBar bar(label, std::max<int64_t>(1, (epochs - first) * per_epoch),
                  trainer.config()["training"]["batch_size"].get<int64_t>());
  while (trainer.epochs_done() < epochs) {
    const int64_t e = trainer.epochs_done();
    const EpochRecord r = trainer.train_epoch([&](int64_t i, double loss) {
      std::snprintf(status, sizeof status, "epoch %lld/%lld loss %.4g", (long long)e + 1, (long long)epochs, loss);
      bar.update((e - first) * per_epoch + i + 1, status);
    });
    std::snprintf(status, sizeof status, "epoch %lld/%lld loss %.4g test mse %.4g", (long long)r.epoch,
                  (long long)epochs, r.loss, r.test_mse);
    if (on_epoch) on_epoch(r);
  }
  bar.finish(status);
}

json final_metrics(Trainer& trainer, double minutes) {
  const double test_mse = trainer.history().empty() ? trainer.reconstruction_error(trainer.test_set())
                                                    : trainer.history().back().test_mse;
  return {{"test_mse", test_mse},
          {"train_mse", trainer.reconstruction_error(trainer.train_set())},
          {"epochs", trainer.epochs_done()},
          {"minutes_this_run", minutes},
          {"parameters", trainer.model().num_parameters()},
          {"model", trainer.model().describe()}};
}

void write_reconstructions(Trainer& t, const std::string& out) {
  NoGradGuard no_grad;
  const Dataset& test = t.test_set();
  const int64_t n = std::min<int64_t>(test.size(), test.is_images() ? 16 : 1000);
  std::vector<int64_t> first(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) first[size_t(i)] = i;
  const Dataset shown = subset(test, first);
  const Tensor x = shown.x.to(t.model().config().dtype);
  const Tensor recon = t.model()(x);
  const Normalizer& nz = t.normalizer();
  if (test.is_images()) {
    write_image_grid(out + "/reconstructions.png", concat({nz.invert(x), nz.invert(recon)}, 0).to(DType::f32),
                     static_cast<int>(n), 2, 3);
  } else if (x.dim() == 2 && x.size(1) == 2) {
    Dataset both = shown;
    both.x = concat({nz.invert(x), nz.invert(recon)}, 1);  // x0, x1 = data; x2, x3 = reconstruction
    write_points_csv(out + "/reconstructions.csv", both);
  }
}

TrainResult train_experiment(const TrainOptions& o, const std::string& out) {
  json user = !o.config.is_null()            ? o.config
              : !o.config_path.empty()       ? read_json_file(o.config_path)
              : o.resume                     ? read_json_file(out + "/config.json")
                                             : throw Error("train: needs a config (a file, or --resume of a run)");
  apply_overrides(user, o.sets);
  GG_CHECK(o.track_dynamics >= 0, "train: track_dynamics is a number of epochs (0: off)");
  Trainer trainer(user, make_regularizer_loss);
  const RunFolderLock lock(out);  // one run per folder; a killed run's temporary files go
  const std::string checkpoint = out + "/checkpoint.safetensors";
  if (o.resume) {
    trainer.resume(checkpoint);
    std::fprintf(stderr, "resumed %s at epoch %lld\n", checkpoint.c_str(), (long long)trainer.epochs_done());
  }
  write_json(out + "/config.json", trainer.config());
  write_run_info(out, "train", o.command);
  std::fprintf(stderr, "%s: %lld parameters, %lld training samples\n", trainer.model().describe().c_str(),
               (long long)trainer.model().num_parameters(), (long long)trainer.train_set().size());

  const int64_t epochs = trainer.total_epochs(), every = trainer.config()["training"]["checkpoint_every"];
  const int64_t first_epoch = trainer.epochs_done(), track = o.track_dynamics;
  const auto start = std::chrono::steady_clock::now();
  // The snapshots of track_dynamics: those of an earlier run of this folder up to where it resumes, then
  // one at initialization (a fresh run), every `track` epochs and at the end.
  json dynamics = json::array();
  double tracking_seconds = 0;
  auto snapshot = [&](int64_t epoch) {
    dynamics.push_back(dynamics_snapshot(trainer, epoch, out, o.track));
    tracking_seconds += dynamics.back()["seconds"].get<double>();
  };
  if (o.resume && fs::exists(out + "/metrics.json")) {
    const json old = read_json_file(out + "/metrics.json");
    if (old.contains("dynamics") && old["dynamics"].is_array())
      for (const json& d : old["dynamics"])
        if (d.is_object() && d.contains("epoch") && d["epoch"].is_number_integer() && d["epoch"] <= first_epoch)
          dynamics.push_back(d);
  }
  if (track > 0 && first_epoch == 0) snapshot(0);
  train_to_end(trainer, "train", [&](const EpochRecord& r) {
    if ((every > 0 && r.epoch % every == 0) || r.epoch == epochs) trainer.save_checkpoint(checkpoint);
    if (track > 0 && (r.epoch % track == 0 || r.epoch == epochs)) snapshot(r.epoch);
  });
  if (trainer.epochs_done() == first_epoch && !fs::exists(checkpoint)) trainer.save_checkpoint(checkpoint);
  const double minutes = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / 60;

  json metrics;
  metrics["epochs"] = trainer.history();
  metrics["final"] = final_metrics(trainer, minutes);
  if (!dynamics.empty()) metrics["dynamics"] = dynamics;
  if (track > 0) metrics["final"]["minutes_tracking_dynamics"] = tracking_seconds / 60;
  write_json(out + "/metrics.json", metrics);
  write_reconstructions(trainer, out);

  TrainResult r;
  r.test_mse = metrics["final"]["test_mse"];
  r.train_mse = metrics["final"]["train_mse"];
  r.epochs = trainer.epochs_done();
  r.minutes = minutes;
  r.metrics = metrics;
  return r;
}

}  // namespace gg
