#include "experiments/slurm.h"

#include <cstdio>
#include <filesystem>
#include <sstream>

#include "engine/core.h"
#include "experiments/output.h"

namespace gg {

namespace fs = std::filesystem;

std::string sbatch_script(const SweepPlan& plan, const std::vector<size_t>& points, const std::string& gradgrad) {
  GG_CHECK(!points.empty(), "sbatch_script: no points to run");
  const SlurmSettings& s = plan.settings.slurm;
  std::string array;
  for (size_t i : points) array += (array.empty() ? "" : ",") + std::to_string(i);
  std::ostringstream o;
  o << "#!/bin/bash\n"
    << "# gradgrad sweep on Slurm, written by `gradgrad sweep --slurm`: one array task per unfinished point of\n"
    << "# " << plan.out << "/sweep_config.json (task i trains and measures grid point i, k outermost,\n"
    << "# into k_<k>/ or k_<k>_seed_<s>/).\n"
    << "# Submit the same command again to rerun what did not finish; then `gradgrad sweep --collect DIR`.\n"
    << "#SBATCH --job-name=gradgrad-sweep\n"
    << "#SBATCH --array=" << array << "\n"
    << "#SBATCH --output=" << plan.out << "/slurm/%A_%a.out\n"
    << "#SBATCH --ntasks=1\n"
    << "#SBATCH --cpus-per-task=" << s.cpus_per_task << "\n"
    << "#SBATCH --time=" << s.time << "\n";
  if (!s.partition.empty()) o << "#SBATCH --partition=" << s.partition << "\n";
  if (!s.mem.empty()) o << "#SBATCH --mem=" << s.mem << "\n";
  if (!s.account.empty()) o << "#SBATCH --account=" << s.account << "\n";
  for (const std::string& option : s.sbatch) o << "#SBATCH " << option << "\n";
  // The engine's threads are the task's CPUs, so tasks sharing a node do not oversubscribe it.
  o << "set -euo pipefail\n"
    << "exec " << shell_quoted(gradgrad) << " --threads \"${SLURM_CPUS_PER_TASK:-" << s.cpus_per_task
    << "}\" sweep --out " << shell_quoted(plan.out) << " --point \"$SLURM_ARRAY_TASK_ID\"\n";
  return o.str();
}

SlurmSubmission submit_sweep_to_slurm(const SweepPlan& plan, const std::string& gradgrad, bool dry_run) {
  SlurmSubmission sub;
  sub.points = unfinished_points(plan);
  sub.script = plan.out + "/sweep.sbatch";
  if (sub.points.empty()) return sub;
  fs::create_directories(plan.out + "/slurm");  // sbatch does not create the folder of --output
  write_run_file(sub.script, sbatch_script(plan, sub.points, gradgrad));
  fs::permissions(sub.script, fs::perms::owner_exec, fs::perm_options::add);
  if (dry_run) return sub;
  std::string answer;
  if (run_shell("command -v sbatch", answer) != 0)
    fail("sweep --slurm: sbatch was not found on PATH (is this a Slurm login node?); " + sub.script +
         " is written: submit it with sbatch yourself, or use --dry-run to only write it");
  answer.clear();
  const int rc = run_shell("sbatch --parsable " + shell_quoted(sub.script), answer);
  GG_CHECK(rc == 0, "sweep --slurm: sbatch refused " + sub.script + " (exit status " + std::to_string(rc) + "): " +
                        answer);
  sub.job_id = answer.substr(0, answer.find_first_of(";\n"));  // --parsable: "jobid[;cluster]"
  return sub;
}

}  // namespace gg
