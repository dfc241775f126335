// gradgrad bench jacobian: what a Jacobian penalty costs per training step, next to PyTorch in the same run.
// The harness is bench/jacobian_bench.h; this file parses its options.
#include <cstdio>

#include "bench/jacobian_bench.h"
#include "bench/timing.h"
#include "cli/commands.h"
#include "engine/backend/backend.h"
#include "experiments/output.h"

namespace gg::cli {

Action add_bench(CLI::App& app, const std::string& command) {
  auto o = std::make_shared<JacobianBenchOptions>();
  auto out = std::make_shared<std::string>("runs/bench_jacobian");
  auto json_path = std::make_shared<std::string>();
  auto no_peer = std::make_shared<bool>(false);
  auto device = std::make_shared<std::string>("cpu");
  CLI::App* bench = app.add_subcommand(
      "bench", "time a training step with each Jacobian penalty (exact, Hutchinson, closed form) against PyTorch");
  bench->require_subcommand(1);
  CLI::App* sub = bench->add_subcommand("jacobian", "the Jacobian penalties' step times, memory and FLOPs, with "
                                                    "PyTorch beside (bench/jacobian_bench.h says what each column is)");
  sub->add_option("--out", *out, "the folder (bench_jacobian.json, table.txt, figures)")
      ->type_name("DIR")
      ->capture_default_str();
  sub->add_option("--json", *json_path, "also write bench_jacobian.json here")->type_name("FILE");
  sub->add_option("--repeats", o->repeats, "timed steps per case")->check(at_least(1))->capture_default_str();
  sub->add_option("--warmup", o->warmup, "untimed steps first")->check(at_least(1))->capture_default_str();
  sub->add_option("--threads", o->threads, "OpenMP threads, ours and the peer's (0: the default)")
      ->check(at_least(0))
      ->capture_default_str();
  sub->add_flag("--quick", o->quick, "fewer cases and repeats");
  sub->add_option("--rounds", o->rounds, "rounds of ours then the peer's (ABAB), their repeats pooled")
      ->check(at_least(1))
      ->capture_default_str();
  sub->add_flag("--busy", o->busy, "run everything with a spinning process holding the last core");
  sub->add_flag("--no-peer", *no_peer, "do not run the PyTorch peer");
  sub->add_option("--device", *device, "where the models, data and steps run (cpu, cuda), the peer's too")
      ->capture_default_str();
  sub->add_option("--cases", o->groups, "case groups (default all)")
      ->delimiter(',')
      ->check(CLI::IsMember(jacobian_bench_groups()))
      ->type_name("GROUP,...");
  return [=, &command] {
    bench::ensure_best_blas_kernels();  // re-runs this command with the AVX-512 kernels where that helps
    o->peer = !*no_peer;
    o->device = parse_device(*device);
    // Refused by name before any case runs. Asked in a forked child like the cases: CUDA cannot be used in
    // a child forked after the parent initialised it, so the parent never touches the GPU.
    if (o->device != Device::cpu()) {
      const nlohmann::json r = run_in_child([&] {
        backend_for(o->device);
        return nlohmann::json::object();
      });
      if (r.contains("error")) fail("bench jacobian: " + r["error"].get<std::string>());
    }
    o->command = command;
    const JacobianBenchResult r = run_jacobian_bench(*o, *out);
    std::printf("\n%s", r.table.c_str());
    if (!json_path->empty()) write_json(*json_path, r.doc);
    return report(*out);  // plots/run.py's "bench" kind: bench/plot_jacobian.py's figures
  };
}

}  // namespace gg::cli
