// A sweep on a Slurm cluster: one array task per unfinished grid point (`gradgrad sweep --slurm`).
//
// DIR/sweep.sbatch is an sbatch script whose array lists the points that have not finished; task i runs
// `gradgrad --threads C sweep --out DIR --point i` with C = the task's CPUs, which trains and measures point
// i into DIR/k_<k>/ exactly as a local sweep would. DIR must be on a file system the compute nodes share, and
// the gradgrad binary at the same path there. Submitting again (after a failure, a time limit, a preempted
// task) leaves the finished points out; `gradgrad sweep --collect DIR` gathers them once all have finished.
#pragma once

#include <string>
#include <vector>

#include "experiments/sweep.h"

namespace gg {

struct SlurmSubmission {
  std::string script;            // DIR/sweep.sbatch
  std::vector<size_t> points;    // the array's indices: the points that had not finished
  std::string job_id;            // sbatch's answer; empty when nothing was submitted
};

// The sbatch script for `points` of the plan, run by `gradgrad` (an absolute path) on the cluster.
std::string sbatch_script(const SweepPlan& plan, const std::vector<size_t>& points, const std::string& gradgrad);

// Writes DIR/sweep.sbatch for the unfinished points and, unless `dry_run` or every point has finished, hands
// it to `sbatch --parsable`; fails with sbatch's own message when it refuses, or when sbatch is not installed.
SlurmSubmission submit_sweep_to_slurm(const SweepPlan& plan, const std::string& gradgrad, bool dry_run);

}  // namespace gg
