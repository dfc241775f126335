// The option blocks several commands share, and the registries `gradgrad help` prints.
#include <cstdio>

#include "cli/commands.h"
#include "datasets/corruption.h"
#include "datasets/toy.h"
#include "experiments/output.h"
#include "experiments/run_folder.h"
#include "models/optim.h"
#include "models/variants.h"
#include "regularizers/regularizer.h"
#include "regularizers/score.h"

namespace gg::cli {

namespace {
template <class Factory>
void print_registry(const Registry<Factory>& registry, const char* key) {
  std::printf("\n  %ss (%s):\n", registry.what().c_str(), key);
  for (const auto& e : registry.entries()) std::printf("    %-16s %s\n", e.name.c_str(), e.summary.c_str());
}
}  // namespace

void print_registries() {
  std::printf("\nRegistered names, for the configs' sections and the commands' options:\n");
  print_registry(variant_registry(), "variant.kind");
  print_registry(regularizer_registry(), "regularizer[].kind; \"none\" or [] for none");
  print_registry(score_registry(), "the poisson regularizer's score");
  print_registry(corruption_registry(), "\"kind:amount\" in variant.corruption, the poisson corruption, --corruptions");
  print_registry(optimizer_registry(), "optimizer.name");
  print_registry(toy_registry(), "data.name, besides mnist, fashion-mnist and IDX or image folders");
}

CLI::Validator at_least(int64_t n) {
  return CLI::Validator(
      [n](std::string& s) -> std::string {
        size_t used = 0;
        long long v = 0;
        try {
          v = std::stoll(s, &used);
        } catch (const std::exception&) {
          used = 0;
        }
        if (used == 0 || used != s.size()) return "'" + s + "' is not an integer";
        return v < n ? s + " is below " + std::to_string(n) : std::string();
      },
      "INT>=" + std::to_string(n));
}

CLI::Validator positive() {
  return CLI::Validator(
      [](std::string& s) -> std::string {
        size_t used = 0;
        double v = 0;
        try {
          v = std::stod(s, &used);
        } catch (const std::exception&) {
          used = 0;
        }
        if (used == 0 || used != s.size()) return "'" + s + "' is not a number";
        return v > 0 ? std::string() : s + " is not positive";
      },
      "NUMBER>0");
}

void add_run_options(CLI::App& sub, std::string& run, std::string& out, const std::string& name) {
  sub.add_option("--run", run, "a finished training run (config.json, checkpoint.safetensors)")
      ->required()
      ->type_name("RUN_DIR");
  sub.add_option("--out", out, "where the results go (default RUN_DIR/" + name + ")")->type_name("DIR");
}

void add_model_options(CLI::App& sub, ModelSource& source, std::string& out, const std::string& name) {
  CLI::Option* run =
      sub.add_option("--run", source.run, "a finished training run (config.json, checkpoint.safetensors)")
          ->type_name("RUN_DIR");
  CLI::Option* model =
      sub.add_option("--model", source.model,
                     "or a model trained elsewhere: a config naming its data and listing its "
                     "layers (docs/pretrained.md)")
          ->type_name("FILE")
          ->excludes(run);
  CLI::Option* weights =
      sub.add_option("--weights", source.weights, "--model's parameters: a safetensors file, PyTorch's names")
          ->type_name("FILE");
  model->needs(weights);
  weights->needs(model);
  sub.add_option("--out", out, "where the results go (default RUN_DIR/" + name + "; required with --model)")
      ->type_name("DIR");
}

std::string output_folder(const ModelSource& source, const std::string& out, const std::string& name) {
  if (source.run.empty() && source.model.empty())
    throw UsageError("give the model: --run RUN_DIR, or --model FILE --weights FILE");
  if (!out.empty()) return out;
  if (source.run.empty()) throw UsageError("--model needs --out DIR: there is no run folder to write into");
  return source.run + "/" + name;
}

void add_iterate_options(CLI::App& sub, IterateOptions& it) {
  sub.add_option("--tol", it.tol, "stop a trajectory at ||z_{t+1} - z_t||^2 < tol")
      ->check(positive())
      ->capture_default_str();
  sub.add_option("--max-iters", it.max_iters, "at most this many applications of f")
      ->check(at_least(1))
      ->capture_default_str();
}

void add_set_option(CLI::App& sub, std::vector<std::string>& sets) {
  sub.add_option("--set", sets, "override a config value (repeatable), e.g. --set training.epochs=20")
      ->type_name("KEY.PATH=VALUE")
      ->allow_extra_args(false);
}

void add_seed_option(CLI::App& sub, uint64_t& seed) {
  sub.add_option("--seed", seed, "fixes every draw")->capture_default_str();
}

int report(const std::string& dir) {
  draw_figures(dir);
  std::printf("wrote %s/report.html\n", dir.c_str());
  return 0;
}

}  // namespace gg::cli
