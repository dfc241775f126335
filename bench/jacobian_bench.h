// The harness of `gradgrad bench jacobian`: what a Jacobian penalty costs per training step, next to PyTorch
// in the same run (library gg_bench_jacobian; cli/cmd_bench.cpp only parses the options).
//
// Every row is one Adam training step (forward, loss, backward, optimizer update) of an autoencoder of
// models/autoencoder.h, through the project's own code paths: variant_loss (models/variants.h) for the plain
// and weight-decay steps, regularizers/contractive.h for the contractive penalties (the reconstruction plus
// 0.1 times the batch mean of s_phi, the code reused for the decoder), poisson_objective
// (regularizers/poisson.h) for the Poisson regularizer with its default options.
//
//   plain, weight-decay          the reconstruction step alone, and with 1e-4 sum ||W||^2
//   exact-loop                   ||J||_F^2 from m backward passes, one per code unit
//   exact-reverse                one batched pass with m one-hot cotangents (the vectorized Jacobian)
//   exact-forward                d forward-mode columns (toy only: elsewhere d = 784 columns)
//   exact-gram                   through the first Linear layer's Gram matrix (mlp)
//   hutchinson-1, hutchinson-4   Hutchinson's estimate with k Rademacher probes (the cost model's route)
//   closed-form, plain-1layer    a one-layer sigmoid encoder d -> m (same input and code widths; decoder
//                                m -> d), with Rifai et al.'s formula, and that model's plain step
//   poisson                      poisson_objective, default options (no PyTorch counterpart), eps from
//                                default_kernel_eps; its plan column names the source auto picks (one
//                                probe above 8-wide codes: poisson_source_defaults)
//   poisson-exact                the same with the exact s_phi (source.method "exact"): what exactness costs
//
// Sizes: toy (AE 2-64-2-64-2, batch 256), mlp32 (784-512-32, batch 128), mlp128 (784-512-128, batch 128),
// conv (Table 3 of paper 002: width 32, code 32, relu, batch 64, at most 5 repeats), and the exact penalty's
// scaling with the code size m (784-512-m, batch 128) and with the batch (784-512-32).
//
// Noise. The table is measured in `rounds` rounds, each all of ours then all of the peer's (ABAB), so slow
// drifts of the machine fall on both sides; a row's times pool the repeats of every round (median, min-max,
// p90), and "spread" is the range of the per-round speedups. The machine's busy cores are sampled before
// the run and printed with the table, with a warning when it was not quiet. --busy runs everything with a
// spinning process pinned to the last core (bench/machine_load.h), for ours and the peer alike. "faults"
// is page faults per timed step (after warm-up; 0 when every block comes from the allocator's cache).
//
// Measurements. Each case runs in a child process forked from a parent that has computed nothing (no
// OpenMP team, no tensors), so cases do not share allocator caches or page mappings. Times: a first step
// (not counted; it maps the allocator's blocks), warmup-1 more untimed steps, then `repeats` timed steps:
// median and min-max. A first step slower than 2 s caps the repeats at 3. Memory, per case:
//   rss_growth_mb   the resident-set high-water mark (VmHWM, reset at the child's start through
//                   /proc/self/clear_refs) minus the RSS at the child's start: what the case's model, data,
//                   graphs and allocator cache made resident. Includes memory the allocators keep cached
//                   (ours caches freed blocks; the peer's jemalloc runs with purging off), and OpenBLAS's
//                   buffers, and pages of the program and its libraries that the child touches for the
//                   first time (a fork's child starts with only part of its parent's pages mapped: about
//                   3 MB for ours, which is why the toy rows show 3-4 MB; the peer's Python heap is
//                   mapped from the start)
//   rss_peak_mb     the high-water mark itself (whole process)
//   tensor_peak_mb  ours only: the caching allocator's high-water mark of bytes handed out to tensors
// "x plain" is the step time over the plain step of the same model and batch (closed-form rows: over
// plain-1layer). FLOPs are the cost model's estimates (contractive_cost in regularizers/contractive.h: the
// plain step 3 B (F_enc + F_dec) plus the penalty's route), "floor" those FLOPs at the OpenBLAS SGEMM rate
// measured in this run (n = 1024, f32), and "x floor" the step time over that floor.
//
// The PyTorch peer (bench/torch_jacobian.py, Debian's /usr/bin/python3 with python3-torch, the same thread
// count, jemalloc preloaded with purging off, OPENBLAS_CORETYPE inherited) receives the same case list and
// measures each case the same way (forked children). For the exact penalty it times its three ways (a loop
// over code units, is_grads_batched, functorch vmap of jacrev) and reports the fastest; every exact row of
// ours is compared with that. "speedup" is torch median / ours median.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "models/autoencoder.h"
#include "regularizers/contractive.h"
#include "regularizers/poisson.h"

namespace gg {

inline constexpr double kBenchPenaltyWeight = 0.1;  // lambda of the contractive rows, as in gg_bench
inline constexpr double kBenchWeightDecay = 1e-4;

// The case groups, in table order: toy, mlp32, mlp128, conv, scale-m, scale-batch.
const std::vector<std::string>& jacobian_bench_groups();

struct JacobianCase {
  std::string group, size, method;
  AutoencoderConfig model;
  int64_t batch = 0;
  std::string data;  // "randn" (toy points) or "rand" (pixels in [0, 1])
  PenaltyOptions penalty;
  int repeats = 0, warmup = 0;
  std::string plain_of;  // the method whose step is this row's "x plain" reference
  std::string peer;      // the peer's case key ("" = no counterpart)
  std::string peer_method;
  int64_t probes = 0;
  // The Poisson regularizer's rows ("poisson", "poisson-exact"): no peer, no FLOP model.
  bool poisson() const { return method.rfind("poisson", 0) == 0; }
};
// The options of a Poisson row's step.
PoissonOptions poisson_case_options(const JacobianCase& c);
// The rows of the given groups (unknown names are refused); --quick drops the slowest and shortens scaling.
std::vector<JacobianCase> jacobian_cases(const std::set<std::string>& groups, bool quick, int repeats, int warmup,
                                         Device device = Device::cpu());
// One case's timing and memory, measured in this process (the harness calls it in a forked child).
nlohmann::json run_jacobian_case(const JacobianCase& c);
// Runs f in a forked child and returns the JSON it returned, or {"error": ...} (its exception, or how it died).
nlohmann::json run_in_child(const std::function<nlohmann::json()>& f);
// One case's results of several rounds as one (its rounds' repeats pooled, memory the worst round's, each
// round's median kept in round_medians_ms); an error or skip of any round is the result. (measure.cpp)
nlohmann::json pool_rounds(const std::vector<nlohmann::json>& rounds);
// The peer's JSON of several rounds as one: each case pooled, an exact case's ways way by way, the fastest
// pooled way reported; null when there were no rounds.
nlohmann::json pool_peer_rounds(const std::vector<nlohmann::json>& rounds);

struct JacobianBenchOptions {
  std::vector<std::string> groups;  // empty: every group
  int repeats = 10, warmup = 2;     // >= 1 each
  int threads = 0;                  // 0: OpenMP's default
  int rounds = 2;                   // ours then the peer, this many times over (ABAB), repeats pooled
  bool busy = false;                // a spinning process holds one core for the whole run
  bool quick = false;               // fewer cases and repeats
  bool peer = true;                 // run bench/torch_jacobian.py beside
  Device device = Device::cpu();    // where the models, data and steps run (the peer's too); the GEMM
                                    // floor stays the CPU's SGEMM rate
  std::string command;              // recorded in run.json
};
struct JacobianBenchResult {
  nlohmann::json doc;  // bench_jacobian.json: settings, gemm, rows, peer
  std::string table;   // table.txt
};
// Measures every case (each in a forked child), the SGEMM rate and the peer; writes bench_jacobian.json,
// table.txt and run.json into out_dir. The parent process starts no OpenMP team.
JacobianBenchResult run_jacobian_bench(const JacobianBenchOptions& options, const std::string& out_dir);

}  // namespace gg
