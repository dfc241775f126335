// gradgrad train: trains an autoencoder from a JSON config into a run folder (experiments/train.h).
#include <cstdio>

#include "cli/commands.h"
#include "experiments/train.h"

namespace gg::cli {

Action add_train(CLI::App& app, const std::string& command) {
  auto o = std::make_shared<TrainOptions>();
  auto out = std::make_shared<std::string>();
  CLI::App* sub = app.add_subcommand(
      "train", "train an autoencoder from a JSON config; leaves metrics, checkpoint, figures, report.html");
  sub->add_option("--config", o->config_path, "the training config (JSON); with --resume, default DIR/config.json")
      ->check(CLI::ExistingFile);
  sub->add_option("--out", *out, "the run folder")->required()->type_name("DIR");
  add_set_option(*sub, o->sets);
  sub->add_flag("--resume", o->resume, "continue the run in DIR from its checkpoint");
  sub->add_option("--track-dynamics", o->track_dynamics,
                  "paper 002's figure 3: measure the latent dynamics every N epochs (0: off)")
      ->check(at_least(0))
      ->type_name("N");
  sub->add_option("--track-starts", o->track.starts,
                  "with --track-dynamics: codes iterated per snapshot from each of train, test and N(0, I_k)")
      ->check(at_least(1))
      ->capture_default_str();
  return [o, out, &command] {
    if (o->config_path.empty() && !o->resume) throw UsageError("train: --config is required (or --resume a run)");
    o->command = command;
    const TrainResult r = train_experiment(*o, *out);
    std::printf("test mse %.6g after %lld epochs (%.2f min)\n", r.test_mse, (long long)r.epochs, r.minutes);
    return report(*out);
  };
}

}  // namespace gg::cli
