// The harness of `gradgrad bench jacobian` (bench/jacobian_bench.h): fork per case, the GEMM rate, the
// PyTorch peer, and the rows and table that compare them.
#include "bench/jacobian_bench.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>

#include "bench/machine_load.h"
#include "bench/timing.h"
#include "datasets/share_dir.h"
#include "engine/threads.h"
#include "experiments/output.h"

namespace gg {

namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

// SGEMM rates at n = 1024: OpenBLAS called directly (the floor's rate) and our matmul.
json gemm_rate(int repeats) {
  const int64_t n = 1024;
  Generator gen(1);
  const Tensor a = Tensor::rand({n, n}, gen), b = Tensor::rand({n, n}, gen), c = Tensor::empty({n, n});
  const double flop = 2.0 * double(n) * double(n) * double(n);
  json out = {{"n", n}};
  const bench::Stats ours = bench::time_runs([&] { Tensor r = matmul(a, b); }, 2, repeats);
  out["ours_gflops"] = flop / ours.median_ms / 1e6;
  if (bench::SgemmFn sgemm = bench::find_sgemm()) {
    const bench::Stats blas = bench::time_runs([&] {
      sgemm(bench::kCblasRowMajor, bench::kCblasNoTrans, bench::kCblasNoTrans, int(n), int(n), int(n), 1.0f,
            a.data<float>(), int(n), b.data<float>(), int(n), 0.0f, c.data<float>(), int(n));
    }, 2, repeats);
    out["openblas_gflops"] = flop / blas.median_ms / 1e6;
    out["floor_gflops"] = out["openblas_gflops"];
    out["floor_source"] = "openblas cblas_sgemm";
  } else {
    out["floor_gflops"] = out["ours_gflops"];
    out["floor_source"] = "our matmul (cblas_sgemm not found)";
  }
  return out;
}

// The two peers: PyTorch from Python (bench/torch_jacobian.py) and LibTorch from C++ (bench/libtorch_peer.cpp,
// built when CMake finds libtorch-dev). Both take the same case list and write the same JSON.
enum class Peer { torch, libtorch };

// The command that runs a peer on `device`, or "" (with the reason on stderr) when this machine cannot.
std::string peer_command(Peer peer, Device device) {
  if (peer == Peer::torch) {
    // Debian's python3-torch here; on a GPU machine the python3 on the PATH is the one with CUDA's PyTorch.
    std::string py = "/usr/bin/python3";
    if (device != Device::cpu() || std::system((py + " -c 'import torch' 2>/dev/null").c_str()) != 0) py = "python3";
    if (std::system((py + " -c 'import torch' 2>/dev/null").c_str()) == 0)
      return py + " " + shell_quoted(share_path("bench/torch_jacobian.py", "the PyTorch peer")) + " --device " +
             (device == Device::cpu() ? "cpu" : "cuda");
    std::fprintf(stderr, "peer: PyTorch is not importable by %s (scripts/setup --bench installs python3-torch)\n",
                 py.c_str());
    return "";
  }
  if (device != Device::cpu()) {
    std::fprintf(stderr, "peer: no LibTorch peer on %s (Debian's libtorch-dev is a CPU build)\n", device.str().c_str());
    return "";
  }
  // Beside the gradgrad command in a build tree, in <prefix>/libexec/gradgrad when installed.
  const std::string bin = executable_dir();
  for (const std::string& path : {bin + "/gg_libtorch_peer", bin + "/../libexec/gradgrad/gg_libtorch_peer"})
    if (access(path.c_str(), X_OK) == 0) return shell_quoted(path);
  std::fprintf(stderr, "peer: gg_libtorch_peer was not built (scripts/setup --bench installs libtorch-dev)\n");
  return "";
}

// A peer on the same cases: its JSON, or null when it cannot run or fails.
json run_peer(Peer peer, const std::vector<JacobianCase>& cases, int threads, bool quick, Device device) {
  const std::string program = peer_command(peer, device);
  if (program.empty()) return nullptr;
  json list = json::array();
  std::set<std::string> seen;
  for (const JacobianCase& c : cases) {
    if (c.peer.empty() || !seen.insert(c.peer).second) continue;
    json model;
    to_json(model, c.model);
    list.push_back({{"key", c.peer}, {"model", model}, {"batch", c.batch}, {"data", c.data},
                    {"method", c.peer_method}, {"probes", c.probes}, {"lambda", kBenchPenaltyWeight},
                    {"weight_decay", kBenchWeightDecay}, {"repeats", c.repeats}, {"warmup", c.warmup}});
  }
  const std::string base = (fs::temp_directory_path() / ("gg_bench_jacobian_" + std::to_string(getpid()))).string();
  std::ofstream(base + "_cases.json") << list.dump();
  const std::string cmd = bench::peer_environment(threads) + program + " --cases " + base +
                          "_cases.json --json " + base + "_peer.json --threads " + std::to_string(threads) +
                          (quick ? " --quick" : "");
  std::fprintf(stderr, "peer: %s\n", cmd.c_str());
  const int rc = std::system(cmd.c_str());
  json out = nullptr;
  if (rc == 0) {
    out = read_json_file(base + "_peer.json");
  } else {
    std::fprintf(stderr, "peer: %s failed (exit status %d)\n", program.c_str(), rc);
  }
  std::remove((base + "_cases.json").c_str());
  std::remove((base + "_peer.json").c_str());
  return out;
}

// More busy cores than this before the run, and the table says the machine was not quiet.
constexpr double kQuietBusyCores = 0.25;

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

// Rows: ours, the cost model's FLOPs, and the peer's matching case.
json make_rows(const std::vector<JacobianCase>& cases, const std::vector<json>& results, const json& peer,
               const json& libtorch, double floor_gflops) {
  std::map<std::string, double> plain_ms;  // size/method -> median (the "x plain" references)
  for (size_t i = 0; i < cases.size(); ++i)
    if (!results[i].contains("error")) plain_ms[cases[i].size + "/" + cases[i].method] = results[i]["median_ms"];
  auto peer_case = [&](const std::string& key) -> json {
    if (peer.is_null() || key.empty() || !peer["cases"].contains(key)) return nullptr;
    return peer["cases"][key];
  };
  json rows = json::array();
  for (size_t i = 0; i < cases.size(); ++i) {
    const JacobianCase& c = cases[i];
    json model;
    to_json(model, c.model);
    json row = {{"group", c.group}, {"size", c.size}, {"method", c.method}, {"batch", c.batch}, {"model", model}};
    const json& r = results[i];
    if (r.contains("error")) {
      row["error"] = r["error"];
      rows.push_back(row);
      continue;
    }
    row["ours"] = r;
    const double ms = r["median_ms"];
    if (plain_ms.count(c.size + "/" + c.plain_of)) row["ratio_to_plain"] = ms / plain_ms[c.size + "/" + c.plain_of];
    if (!c.poisson()) {
      const bool penalty = c.method != "plain" && c.method != "plain-1layer" && c.method != "weight-decay";
      const ContractiveCost cost = contractive_cost(c.model, c.batch, c.penalty);
      const double flops = cost.plain_step + (penalty ? cost.planned : 0.0);
      row["plan"] = penalty ? cost.plan.method + (cost.plan.route.empty() ? "" : "/" + cost.plan.route) : "";
      row["gflop"] = flops / 1e9;
      row["floor_ms"] = flops / floor_gflops / 1e6;
      row["x_floor"] = ms / (flops / floor_gflops / 1e6);
    } else {
      const ContractivePlan p = contractive_cost(c.model, c.batch, poisson_case_options(c).source).plan;
      row["plan"] = "s: " + p.method + (p.route.empty() ? "" : "/" + p.route);
    }
    const json p = peer_case(c.peer);
    if (!p.is_null() && !p.contains("error")) {
      row["torch"] = p;
      row["speedup"] = p["median_ms"].get<double>() / ms;
      if (r.contains("round_medians_ms") && p.contains("round_medians_ms")) {  // each round's ratio
        std::vector<double> each;
        for (size_t k = 0; k < r["round_medians_ms"].size() && k < p["round_medians_ms"].size(); ++k)
          each.push_back(p["round_medians_ms"][k].get<double>() / r["round_medians_ms"][k].get<double>());
        row["speedup_min"] = *std::min_element(each.begin(), each.end());
        row["speedup_max"] = *std::max_element(each.begin(), each.end());
      }
      const json pp = peer_case(c.size + "/" + (c.plain_of == "plain-1layer" ? "plain-1layer" : "plain"));
      if (!pp.is_null() && !pp.contains("error"))
        row["torch"]["ratio_to_plain"] = p["median_ms"].get<double>() / pp["median_ms"].get<double>();
    } else if (!p.is_null()) {
      row["torch_error"] = p["error"];
    }
    if (!libtorch.is_null() && libtorch["cases"].contains(c.peer)) {
      const json& lt = libtorch["cases"][c.peer];
      row["libtorch"] = lt;
      if (!lt.contains("error")) row["speedup_libtorch"] = lt["median_ms"].get<double>() / ms;
    }
    rows.push_back(row);
  }
  return rows;
}

std::string format_table(const json& rows, const json& gemm, const json& peer, const std::vector<JacobianCase>& cases,
                         int threads, bool peer_asked, const json& machine, const json& libtorch) {
  std::string t;
  char line[512];
  std::snprintf(
      line, sizeof line,
      "%-8s %-14s %-21s %10s %19s %9s %6s %7s %8s %8s %8s %7s | %10s %9s %7s %-16s %8s %7s %11s | %11s %7s\n",
      "size", "method", "plan", "median ms", "min-max ms", "p90 ms", "faults", "x plain", "RSS+ MB",
      "tens. MB", "GFLOP", "x floor", "torch ms", "p90 ms", "x plain", "torch way", "RSS+ MB", "speedup",
      "spread", "libtorch ms", "speedup");
  t += line;
  auto opt = [](const json& j, const char* key, const char* f) {
    return j.contains(key) ? fmt(f, j[key].get<double>()) : std::string("-");
  };
  for (const json& row : rows) {
    const std::string size = row["size"], method = row["method"];
    if (row.contains("error")) {
      t += size + " " + method + ": FAILED: " + row["error"].get<std::string>() + "\n";
      continue;
    }
    const json& o = row["ours"];
    const std::string spread = fmt("%.3f", o["min_ms"].get<double>()) + "-" + fmt("%.3f", o["max_ms"].get<double>());
    const json torch = row.value("torch", json::object());
    const std::string ratio_spread =
        row.contains("speedup_min") ? fmt("%.2f", row["speedup_min"].get<double>()) + "-" + fmt("%.2f", row["speedup_max"].get<double>()) : "-";
    std::snprintf(line, sizeof line,
                  "%-8s %-14s %-21s %10.3f %19s %9s %6s %7s %8.1f %8.1f %8s %7s | %10s %9s %7s %-16s %8s %7s "
                  "%11s | %11s %7s\n",
                  size.c_str(), method.c_str(), row.value("plan", std::string()).c_str(),
                  o["median_ms"].get<double>(), spread.c_str(), opt(o, "p90_ms", "%.3f").c_str(),
                  opt(o, "faults_per_step", "%.0f").c_str(), opt(row, "ratio_to_plain", "%.2f").c_str(),
                  o["rss_growth_mb"].get<double>(), o["tensor_peak_mb"].get<double>(),
                  opt(row, "gflop", "%.3f").c_str(), opt(row, "x_floor", "%.1f").c_str(),
                  opt(torch, "median_ms", "%.3f").c_str(), opt(torch, "p90_ms", "%.3f").c_str(),
                  opt(torch, "ratio_to_plain", "%.2f").c_str(), torch.value("way", std::string("-")).c_str(),
                  opt(torch, "rss_growth_mb", "%.1f").c_str(), opt(row, "speedup", "%.2fx").c_str(),
                  ratio_spread.c_str(),
                  opt(row.value("libtorch", json::object()), "median_ms", "%.3f").c_str(),
                  opt(row, "speedup_libtorch", "%.2fx").c_str());
    t += line;
  }
  t += "\nSGEMM n=1024 f32: OpenBLAS " + opt(gemm, "openblas_gflops", "%.1f") + " GFLOP/s, ours " +
       opt(gemm, "ours_gflops", "%.1f") + " GFLOP/s; floor at " + opt(gemm, "floor_gflops", "%.1f") + " GFLOP/s (" +
       gemm["floor_source"].get<std::string>() + ")\n";
  if (!peer.is_null())
    t += "peer: torch " + peer.value("torch_version", std::string("?")) + ", " + std::to_string(threads) +
         " threads, settings " + peer.value("settings", json::object()).dump() + "\n";
  else
    t += std::string("peer: not run") + (peer_asked ? " (see the messages above)" : " (--no-peer)") + "\n";
  if (!libtorch.is_null())
    t += "libtorch peer: LibTorch " + libtorch.value("torch_version", std::string("?")) +
         " from C++ (bench/libtorch_peer.cpp), the same cases; its exact penalty is the loop over code units "
         "(no vmap in C++)\n";
  t += "machine: " + std::to_string(machine["cores"].get<int>()) + " cores, " +
       fmt("%.2f", machine["busy_cores_before"].get<double>()) + " of them busy before the run (sampled over 0.5 s); " +
       std::to_string(machine["rounds"].get<int>()) + " rounds, ours then the peer's, repeats pooled; OMP_WAIT_POLICY=" +
       machine["omp_wait_policy"].get<std::string>() + ", GOMP_SPINCOUNT=" + machine["gomp_spincount"].get<std::string>() +
       ", GLIBC_TUNABLES=" + machine.value("glibc_tunables", "(unset)") + "; our threads " +
       (machine.value("adaptive_threads", false) ? "follow the load (engine/threads.h)"
                                                 : "do not follow the load (GG_ADAPTIVE_THREADS=0)") +
       "\n";
  if (machine["busy"].get<bool>())
    t += "--busy: a spinning process held core " + std::to_string(machine["spin_core"].get<int>()) +
         " for the whole run, ours and the peer's\n";
  else if (machine["busy_cores_before"].get<double>() > kQuietBusyCores)
    t += "WARNING: the machine was busy before the run; these times are not those of a quiet machine\n";
  t += "auto picks:";
  for (const JacobianCase& c : cases)
    if (c.method == "plain" && c.group != "scale-batch") {
      const ContractivePlan p = contractive_cost(c.model, c.batch, {}).plan;
      t += " " + c.size + " " + p.method + (p.route.empty() ? "" : "/" + p.route) + ";";
    }
  t += "\npoisson rows have no PyTorch counterpart. Times in ms per Adam step; see bench/jacobian_bench.h for what "
       "each column measures.\n";
  return t;
}

}  // namespace

JacobianBenchResult run_jacobian_bench(const JacobianBenchOptions& o, const std::string& out_dir) {
  GG_CHECK(o.repeats >= 1 && o.warmup >= 1 && o.threads >= 0, "bench jacobian: repeats and warmup must be >= 1");
  const std::set<std::string> groups =
      o.groups.empty() ? std::set<std::string>(jacobian_bench_groups().begin(), jacobian_bench_groups().end())
                       : std::set<std::string>(o.groups.begin(), o.groups.end());
  const int repeats = o.quick ? std::min(o.repeats, 3) : o.repeats, warmup = o.quick ? std::min(o.warmup, 1) : o.warmup;
  GG_CHECK(o.rounds >= 1, "bench jacobian: rounds must be >= 1");
  set_num_threads(o.threads);  // an ICV only: the parent starts no threads (children inherit it)
  const int threads = num_threads();
  const char* wait_policy = std::getenv("OMP_WAIT_POLICY");
  const char* spin_count = std::getenv("GOMP_SPINCOUNT");
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  json machine = {{"cores", bench::online_cores()}, {"busy_cores_before", bench::busy_cores(0.5)},
                  {"rounds", o.rounds}, {"busy", o.busy}, {"omp_wait_policy", wait_policy ? wait_policy : "(unset)"},
                  {"gomp_spincount", spin_count ? spin_count : "(unset)"},
                  {"glibc_tunables", tunables ? tunables : "(unset)"}, {"adaptive_threads", adaptive_threads()}};
  const std::vector<JacobianCase> cases = jacobian_cases(groups, o.quick, repeats, warmup, o.device);
  const char* coretype = std::getenv("OPENBLAS_CORETYPE");
  std::fprintf(stderr, "bench jacobian: %d threads, OPENBLAS_CORETYPE=%s%s\n", threads, coretype ? coretype : "(unset)",
               o.quick ? ", --quick" : "");

  const json gemm = run_in_child([&] { return gemm_rate(o.quick ? 5 : 20); });
  GG_CHECK(!gemm.contains("error"), "bench: measuring the GEMM rate failed: " + gemm.value("error", std::string()));
  const double floor_gflops = gemm["floor_gflops"];
  std::fprintf(stderr, "SGEMM n=1024: %.0f GFLOP/s (%s)\n", floor_gflops, gemm["floor_source"].get<std::string>().c_str());
  std::unique_ptr<bench::SpinningLoad> load;
  if (o.busy) {
    load = std::make_unique<bench::SpinningLoad>();
    machine["spin_core"] = load->core();
  }
  std::vector<std::vector<json>> rounds_of(cases.size());  // per case, its result in each round
  std::vector<json> peer_rounds, libtorch_rounds;
  for (int round = 1; round <= o.rounds; ++round) {
    for (size_t i = 0; i < cases.size(); ++i) {
      const JacobianCase& c = cases[i];
      json r = run_in_child([&] { return run_jacobian_case(c); });
      if (r.contains("error"))
        std::fprintf(stderr, "ours %-6s %-14s: FAILED: %s\n", c.size.c_str(), c.method.c_str(),
                     r["error"].get<std::string>().c_str());
      else
        std::fprintf(stderr, "ours %-6s %-14s: %9.3f ms (round %d)\n", c.size.c_str(), c.method.c_str(),
                     r["median_ms"].get<double>(), round);
      rounds_of[i].push_back(r);
    }
    if (o.peer) peer_rounds.push_back(run_peer(Peer::torch, cases, threads, o.quick, o.device));
    if (o.peer) libtorch_rounds.push_back(run_peer(Peer::libtorch, cases, threads, o.quick, o.device));
  }
  load.reset();
  std::vector<json> results;
  for (const std::vector<json>& each : rounds_of) results.push_back(pool_rounds(each));
  const json peer = pool_peer_rounds(peer_rounds), libtorch = pool_peer_rounds(libtorch_rounds);

  JacobianBenchResult res;
  const json rows = make_rows(cases, results, peer, libtorch, floor_gflops);
  res.table = format_table(rows, gemm, peer, cases, threads, o.peer, machine, libtorch);
  res.doc = {{"benchmark", "jacobian"},
             {"settings",
              {{"threads", threads}, {"openblas_coretype", coretype ? coretype : ""}, {"quick", o.quick},
               {"device", o.device.str()},
               {"repeats", repeats}, {"warmup", warmup}, {"penalty_weight", kBenchPenaltyWeight},
               {"weight_decay", kBenchWeightDecay}}},
             {"machine", machine},
             {"gemm", gemm},
             {"rows", rows},
             {"peer", peer},
             {"libtorch", libtorch}};
  fs::create_directories(out_dir);
  write_json(out_dir + "/bench_jacobian.json", res.doc);
  write_run_file(out_dir + "/table.txt", res.table);
  write_run_info(out_dir, "bench", o.command);
  return res;
}

}  // namespace gg
