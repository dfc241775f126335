// gradgrad train: trains an autoencoder from a JSON config and leaves config.json, metrics.json, the
// checkpoint, figures and report.html in the run folder.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli/commands.h"
#include "cli/field_common.h"
#include "cli/output.h"
#include "cli/progress.h"
#include "datasets/images.h"
#include "models/training.h"
#include "regularizers/regularizer.h"

namespace gg::cli {

using nlohmann::json;

namespace {

// What the figures need besides metrics.json: for 2-D points, the test set and its reconstructions in data
// units (reconstructions.csv); for images, originals above their reconstructions (reconstructions.png).
void write_reconstructions(Trainer& t, const std::string& out) {
  NoGradGuard no_grad;
  const Dataset& test = t.test_set();
  const int64_t n = std::min<int64_t>(test.size(), test.is_images() ? 16 : 1000);
  std::vector<int64_t> first(n);
  for (int64_t i = 0; i < n; ++i) first[i] = i;
  const Dataset shown = subset(test, first);
  const Tensor x = shown.x.to(t.model().config().dtype);
  const Tensor recon = t.model()(x);
  const Normalizer& nz = t.normalizer();
  if (test.is_images()) {
    write_image_grid(out + "/reconstructions.png", concat({nz.invert(x), nz.invert(recon)}, 0), static_cast<int>(n), 2, 3);
  } else if (x.size(1) == 2) {
    Dataset both = shown;
    both.x = concat({nz.invert(x), nz.invert(recon)}, 1);  // x0, x1 = data; x2, x3 = reconstruction
    write_points_csv(out + "/reconstructions.csv", both);
  }
}

}  // namespace

int run_train(const Args& args) {
  const std::string config_path = args.get("config", ""), out = args.require("out");
  const bool resume = args.flag("resume");
  // --track-dynamics N: paper 002's Figure 3, measured every N epochs, at initialization and at the end.
  const int64_t track = args.get_int("track-dynamics", 0);
  GG_CHECK(track >= 0, "--track-dynamics must be a number of epochs (0: off)");
  args.finish();
  namespace fs = std::filesystem;
  json user = resume && config_path.empty() ? read_json_file(out + "/config.json") : read_json_file(config_path);
  apply_overrides(user, args.sets());
  Trainer trainer(user, make_regularizer_loss);
  fs::create_directories(out);
  const std::string checkpoint = out + "/checkpoint.safetensors";
  if (resume) {
    trainer.resume(checkpoint);
    std::fprintf(stderr, "resumed %s at epoch %lld\n", checkpoint.c_str(), (long long)trainer.epochs_done());
  }
  write_json(out + "/config.json", trainer.config());
  write_run_info(out, "train", args);
  std::fprintf(stderr, "%s: %lld parameters, %lld training samples\n", trainer.model().describe().c_str(),
               (long long)trainer.model().num_parameters(), (long long)trainer.train_set().size());

  const json& tc = trainer.config()["training"];
  const int64_t epochs = trainer.total_epochs(), every = tc["checkpoint_every"], batch = tc["batch_size"];
  const int64_t per_epoch = trainer.batches_per_epoch();
  const auto start = std::chrono::steady_clock::now();
  ProgressBar bar("train", (epochs - trainer.epochs_done()) * per_epoch, batch);
  const int64_t first_epoch = trainer.epochs_done();
  // The snapshots of --track-dynamics: those of an earlier run of this folder up to where it resumes, then
  // one at initialization (a fresh run), every `track` epochs and at the end.
  json dynamics = json::array();
  double tracking_seconds = 0;
  if (resume && fs::exists(out + "/metrics.json")) {
    const json old = read_json_file(out + "/metrics.json");
    if (old.contains("dynamics") && old["dynamics"].is_array())
      for (const json& d : old["dynamics"])
        if (d.value("epoch", int64_t(-1)) <= first_epoch) dynamics.push_back(d);
  }
  if (track > 0 && first_epoch == 0) {
    dynamics.push_back(dynamics_snapshot(trainer, 0, out));
    tracking_seconds += dynamics.back()["seconds"].get<double>();
  }
  char status[160] = "";
  while (trainer.epochs_done() < epochs) {
    const int64_t e = trainer.epochs_done();
    const EpochRecord r = trainer.train_epoch([&](int64_t i, double loss) {
      std::snprintf(status, sizeof status, "epoch %lld/%lld loss %.4g", (long long)e + 1, (long long)epochs, loss);
      bar.update((e - first_epoch) * per_epoch + i + 1, status);
    });
    std::snprintf(status, sizeof status, "epoch %lld/%lld loss %.4g test mse %.4g", (long long)r.epoch,
                  (long long)epochs, r.loss, r.test_mse);
    if ((every > 0 && r.epoch % every == 0) || r.epoch == epochs) trainer.save_checkpoint(checkpoint);
    if (track > 0 && (r.epoch % track == 0 || r.epoch == epochs)) {
      dynamics.push_back(dynamics_snapshot(trainer, r.epoch, out));
      tracking_seconds += dynamics.back()["seconds"].get<double>();
    }
  }
  bar.finish(status);
  const double minutes = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / 60;

  json metrics;
  metrics["epochs"] = trainer.history();
  metrics["final"] = {{"test_mse", trainer.history().empty() ? 0.0 : trainer.history().back().test_mse},
                      {"train_mse", trainer.reconstruction_error(trainer.train_set())},
                      {"epochs", trainer.epochs_done()},
                      {"minutes_this_run", minutes},
                      {"parameters", trainer.model().num_parameters()},
                      {"model", trainer.model().describe()}};
  if (!dynamics.empty()) metrics["dynamics"] = dynamics;
  if (track > 0) metrics["final"]["minutes_tracking_dynamics"] = tracking_seconds / 60;
  write_json(out + "/metrics.json", metrics);
  write_reconstructions(trainer, out);
  draw_figures(out);
  std::printf("test mse %.6g after %lld epochs (%.2f min); wrote %s/report.html\n",
              metrics["final"]["test_mse"].get<double>(), (long long)trainer.epochs_done(), minutes, out.c_str());
  return 0;
}

}  // namespace gg::cli
