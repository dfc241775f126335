// gradgrad sweep: train over bottleneck sizes k and measure the dynamics of each (experiments/sweep.h), in
// this process, or as a Slurm array job (experiments/slurm.h) collected afterwards.
#include <cstdio>

#include "cli/commands.h"
#include "datasets/share_dir.h"
#include "experiments/output.h"
#include "experiments/slurm.h"
#include "experiments/sweep.h"

namespace gg::cli {

namespace {

// What a sweep on Slurm asks for per task, over the config's sweep.slurm.
struct SlurmFlags {
  bool slurm = false, dry_run = false;
  std::string partition, time, mem, account;
  int64_t cpus_per_task = 0;

  void add(CLI::App& sub) {
    sub.add_flag("--slurm", slurm, "submit the sweep as a Slurm array job, one task per unfinished point");
    sub.add_flag("--dry-run", dry_run, "with --slurm: only write DIR/sweep.sbatch");
    sub.add_option("--partition", partition, "with --slurm: the partition (over sweep.slurm.partition)");
    sub.add_option("--time", time, "with --slurm: each task's time limit, as sbatch takes it (over sweep.slurm.time)");
    sub.add_option("--cpus-per-task", cpus_per_task, "with --slurm: CPUs, and threads, per task")->check(at_least(1));
    sub.add_option("--mem", mem, "with --slurm: memory per task, e.g. 4G (over sweep.slurm.mem)");
    sub.add_option("--account", account, "with --slurm: the account to charge (over sweep.slurm.account)");
  }
  nlohmann::json given() const {
    nlohmann::json j = nlohmann::json::object();
    for (auto [key, value] :
         {std::pair{"partition", &partition}, {"time", &time}, {"mem", &mem}, {"account", &account}})
      if (!value->empty()) j[key] = *value;
    if (cpus_per_task) j["cpus_per_task"] = cpus_per_task;
    return j;
  }
};

}  // namespace

Action add_sweep(CLI::App& app, const std::string& command) {
  auto o = std::make_shared<SweepOptions>();
  auto out = std::make_shared<std::string>();
  auto collect = std::make_shared<std::string>();
  auto point = std::make_shared<int64_t>(-1);
  auto slurm = std::make_shared<SlurmFlags>();
  auto it = std::make_shared<IterateOptions>();
  auto starts = std::make_shared<int64_t>(0);
  CLI::App* sub =
      app.add_subcommand("sweep", "paper 002, figure 2: train over bottleneck sizes k (and seeds), measure each");
  sub->add_option("--config", o->config_path, "a training config with an optional \"sweep\" section")
      ->check(CLI::ExistingFile);
  sub->add_option("--out", *out, "the sweep folder (one model per grid point in DIR/k_<k>[_seed_<s>])")
      ->type_name("DIR");
  sub->add_option("--point", *point, "run only grid point I of the sweep already planned in --out (a Slurm task)")
      ->check(at_least(0))
      ->type_name("I");
  sub->add_option("--collect", *collect, "gather a sweep's finished points into its table, figures and report")
      ->check(CLI::ExistingDirectory)
      ->type_name("DIR");
  sub->add_option("--k", o->k, "bottleneck sizes, over the config's sweep.k")
      ->delimiter(',')
      ->check(at_least(1))
      ->type_name("K,...");
  sub->add_option("--seeds", o->seeds, "train each k once per seed, over the config's sweep.seeds")
      ->delimiter(',')
      ->check(at_least(0))
      ->type_name("S,...");
  CLI::Option* starts_opt =
      sub->add_option("--starts", *starts, "starts from each of train, test, noise (over sweep.starts)")
          ->check(at_least(1));
  CLI::Option* tol_opt = sub->add_option("--tol", it->tol, "stop at ||z_{t+1} - z_t||^2 < tol (over sweep.tol)")
                             ->check(positive());
  CLI::Option* iters_opt =
      sub->add_option("--max-iters", it->max_iters, "applications of f at most (over sweep.max_iters)")
          ->check(at_least(1));
  add_set_option(*sub, o->sets);
  slurm->add(*sub);
  return [=, &command] {
    o->command = command;
    if (*starts_opt) o->starts = *starts;
    if (*tol_opt) o->tol = it->tol;
    if (*iters_opt) o->max_iters = it->max_iters;
    o->slurm = slurm->given();
    if (!collect->empty()) {
      if (!out->empty() || !o->config_path.empty() || *point >= 0 || slurm->slurm)
        throw UsageError("sweep --collect DIR takes no --out, --config, --point or --slurm");
      const SweepResult r = collect_sweep(read_sweep_plan(*collect));
      std::printf("%zu points (%.1f min of training and measuring); wrote %s/sweep.csv\n", r.points.size(), r.minutes,
                  collect->c_str());
      return report(*collect);
    }
    if (out->empty()) throw UsageError("sweep needs --out DIR (or --collect DIR)");
    if (*point >= 0) {
      if (!o->config_path.empty() || slurm->slurm)
        throw UsageError("sweep --point I runs a point of the sweep planned in --out; it takes no --config or --slurm");
      const SweepPlan plan = read_sweep_plan(*out);
      run_sweep_point(plan, static_cast<size_t>(*point));
      draw_figures(plan.point_dir(static_cast<size_t>(*point)));
      return 0;
    }
    if (o->config_path.empty()) throw UsageError("sweep needs --config F (or --collect DIR, or --point I)");
    if (slurm->slurm) {
      const SweepPlan plan = plan_sweep(*o, *out);
      const SlurmSubmission s = submit_sweep_to_slurm(plan, executable_dir() + "/gradgrad", slurm->dry_run);
      if (s.points.empty())
        std::printf("every point of %s has finished: nothing to submit; gradgrad sweep --collect %s\n", out->c_str(),
                    out->c_str());
      else if (s.job_id.empty())
        std::printf("wrote %s (%zu of %zu points); submit it with sbatch\n", s.script.c_str(), s.points.size(),
                    plan.size());
      else
        std::printf("submitted %s: job %s, %zu of %zu points; when it has finished: gradgrad sweep --collect %s\n",
                    s.script.c_str(), s.job_id.c_str(), s.points.size(), plan.size(), out->c_str());
      return 0;
    }
    if (slurm->dry_run) throw UsageError("--dry-run goes with --slurm");
    const SweepResult r = sweep_experiment(*o, *out);
    for (const std::string& dir : r.model_dirs) draw_figures(dir);
    std::printf("%zu models in %.2f min; wrote %s/sweep.csv\n", r.points.size(), r.minutes, out->c_str());
    return report(*out);
  };
}

}  // namespace gg::cli
