// gradgrad bench jacobian: what a Jacobian penalty costs per training step, next to PyTorch in the same run.
//
//   gradgrad bench jacobian [--out DIR] [--json FILE] [--repeats N] [--warmup N] [--threads N] [--quick]
//                           [--no-peer] [--cases toy,mlp32,mlp128,conv,scale-m,scale-batch]
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
//   poisson                      poisson_objective, default options (no PyTorch counterpart)
//
// Sizes: toy (AE 2-64-2-64-2, batch 256), mlp32 (784-512-32, batch 128), mlp128 (784-512-128, batch 128),
// conv (Table 3 of paper 002: width 32, code 32, relu, batch 64, at most 5 repeats), and the exact penalty's
// scaling with the code size m (784-512-m, batch 128) and with the batch (784-512-32).
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
#include <omp.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "bench/timing.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "engine/backend/backend.h"
#include "models/optim.h"
#include "models/variants.h"
#include "regularizers/contractive.h"
#include "regularizers/poisson.h"

namespace gg::cli {

namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

constexpr double kPenaltyWeight = 0.1;  // lambda of the contractive rows, as in gg_bench
constexpr double kWeightDecay = 1e-4;
constexpr double kSlowStepMs = 2000;  // a first step slower than this caps the repeats
constexpr int kSlowCap = 3;

const std::vector<std::string> kGroups = {"toy", "mlp32", "mlp128", "conv", "scale-m", "scale-batch"};

struct Case {
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
};

AutoencoderConfig mlp_model(int64_t d, int64_t h, int64_t m) {
  AutoencoderConfig c;
  c.input_shape = {d};
  c.hidden = {h};
  c.code_dim = m;
  c.activation = "tanh";  // gg_bench's autoencoder: tanh on both encoder layers, linear output
  c.code_activation = "tanh";
  return c;
}

AutoencoderConfig one_layer_sigmoid(const AutoencoderConfig& like) {
  AutoencoderConfig c = like;
  c.hidden = {};
  c.code_activation = "sigmoid";
  return c;
}

AutoencoderConfig conv_model() {  // configs/mnist/conv.json's model
  AutoencoderConfig c;
  c.arch = "conv";
  c.input_shape = {1, 28, 28};
  c.width = 32;
  c.code_dim = 32;
  c.activation = "relu";
  c.output_activation = "sigmoid";
  return c;
}

// The rows of one size: every method that applies. `loop` adds the m-pass baseline.
void add_size(std::vector<Case>& out, const std::string& group, const std::string& size, const AutoencoderConfig& model,
              int64_t batch, const std::string& data, const std::vector<std::string>& methods, int repeats, int warmup) {
  for (const std::string& method : methods) {
    Case c;
    c.group = group, c.size = size, c.method = method, c.model = model, c.batch = batch, c.data = data;
    c.repeats = repeats, c.warmup = warmup;
    c.plain_of = "plain";
    c.peer_method = method;
    if (method == "exact-loop" || method == "exact-reverse" || method == "exact-forward" || method == "exact-gram") {
      c.penalty.method = "exact";
      c.penalty.route = method.substr(6);
      if (method != "exact-loop") c.peer_method = "exact";
    } else if (method.rfind("hutchinson-", 0) == 0) {
      c.penalty.method = "hutchinson";
      c.penalty.probes = c.probes = std::stoll(method.substr(11));
      c.peer_method = "hutchinson";
    } else if (method == "closed-form" || method == "plain-1layer") {
      c.model = one_layer_sigmoid(model);
      c.penalty.method = "closed_form";
      c.plain_of = "plain-1layer";
      if (method == "plain-1layer") c.peer_method = "plain";
    }
    if (method == "poisson") c.peer_method.clear();
    if (!c.peer_method.empty())
      c.peer = size + "/" + (method == "plain-1layer" ? "plain-1layer" : c.peer_method) +
               (c.probes ? "-" + std::to_string(c.probes) : "");
    out.push_back(c);
  }
}

std::vector<Case> make_cases(const std::set<std::string>& groups, bool quick, int repeats, int warmup) {
  std::vector<Case> cases;
  const std::vector<std::string> mlp = {"plain", "weight-decay", "exact-loop", "exact-reverse", "exact-gram",
                                        "hutchinson-1", "hutchinson-4", "closed-form", "plain-1layer", "poisson"};
  if (groups.count("toy")) {
    std::vector<std::string> toy = mlp;
    toy.insert(toy.begin() + 4, "exact-forward");
    add_size(cases, "toy", "toy", mlp_model(2, 64, 2), 256, "randn", toy, repeats, warmup);
  }
  if (groups.count("mlp32")) add_size(cases, "mlp32", "mlp32", mlp_model(784, 512, 32), 128, "rand", mlp, repeats, warmup);
  if (groups.count("mlp128")) {
    std::vector<std::string> methods = mlp;
    if (quick) methods.erase(methods.begin() + 2);  // the 128-pass loop
    add_size(cases, "mlp128", "mlp128", mlp_model(784, 512, 128), 128, "rand", methods, repeats, warmup);
  }
  if (groups.count("conv")) {
    const std::vector<std::string> methods =
        quick ? std::vector<std::string>{"plain", "exact-reverse", "hutchinson-1"}
              : std::vector<std::string>{"plain", "weight-decay", "exact-loop", "exact-reverse", "hutchinson-1",
                                         "hutchinson-4", "poisson"};
    add_size(cases, "conv", "conv", conv_model(), 64, "rand", methods, quick ? 1 : std::min(repeats, 5),
             std::min(warmup, 1));
  }
  const std::vector<std::string> scaling = {"plain", "exact-reverse", "exact-gram"};
  const int scale_repeats = quick ? std::min(repeats, 2) : repeats;
  if (groups.count("scale-m"))
    for (int64_t m : quick ? std::vector<int64_t>{8, 64} : std::vector<int64_t>{8, 16, 32, 64, 128, 256})
      add_size(cases, "scale-m", "m=" + std::to_string(m), mlp_model(784, 512, m), 128, "rand", scaling,
               scale_repeats, warmup);
  if (groups.count("scale-batch"))
    for (int64_t b : quick ? std::vector<int64_t>{32, 256} : std::vector<int64_t>{32, 64, 128, 256, 512})
      add_size(cases, "scale-batch", "B=" + std::to_string(b), mlp_model(784, 512, 32), b, "rand", scaling,
               scale_repeats, warmup);
  return cases;
}

// ---- One case, in a child process -------------------------------------------------------------------------

Tensor case_loss(const Case& c, Autoencoder& model, const Tensor& x, Generator& gen) {
  if (c.method == "plain" || c.method == "plain-1layer") {
    VariantConfig v;
    v.kind = "plain";
    return variant_loss(model, x, v, gen).total;
  }
  if (c.method == "weight-decay") {
    VariantConfig v;
    v.kind = "weight_decay";
    v.lambda = kWeightDecay;
    return variant_loss(model, x, v, gen).total;
  }
  if (c.method == "poisson") return poisson_objective(model, x, PoissonOptions{}, gen).total;
  const ContractiveSource src = contractive_source(model, x, c.penalty, gen);
  return mse(model.decode(src.z), x) + kPenaltyWeight * mean(src.s);
}

json run_case(const Case& c) {
  const bool reset = bench::reset_peak_rss();
  const double rss_start = bench::proc_status_kb("VmRSS") / 1024.0;
  Backend& backend = backend_for(Device::cpu());
  backend.reset_peak_bytes();

  Autoencoder model(c.model);
  Adam opt(model.parameters());
  Generator data_gen(2), gen(7);
  Shape shape{c.batch};
  shape.insert(shape.end(), c.model.input_shape.begin(), c.model.input_shape.end());
  const Tensor x = c.data == "randn" ? Tensor::randn(shape, data_gen) : Tensor::rand(shape, data_gen);
  const std::vector<Tensor> params = model.parameters();
  double loss_value = 0;
  auto step = [&] {
    const Tensor loss = case_loss(c, model, x, gen);
    opt.step(grad({loss}, params));
    loss_value = loss.item();
  };
  const auto t0 = std::chrono::steady_clock::now();
  step();
  const double first_ms = bench::elapsed_ms(t0);
  int repeats = c.repeats, warmup = std::max(c.warmup - 1, 0);
  std::string note;
  if (first_ms > kSlowStepMs && repeats > kSlowCap) {
    repeats = kSlowCap, warmup = 0;
    note = "repeats capped to " + std::to_string(kSlowCap) + " (slow step)";
  }
  const bench::Stats s = bench::time_runs(step, warmup, repeats);
  const double rss_peak = bench::peak_rss_kb() / 1024.0;
  json out = {{"median_ms", s.median_ms}, {"min_ms", s.min_ms}, {"max_ms", s.max_ms}, {"repeats", s.repeats},
              {"first_ms", first_ms}, {"rss_start_mb", rss_start}, {"rss_peak_mb", rss_peak},
              {"rss_growth_mb", rss_peak - rss_start}, {"rss_reset", reset},
              {"tensor_peak_mb", backend.peak_bytes() / 1048576.0}, {"loss", loss_value}};
  if (!note.empty()) out["note"] = note;
  return out;
}

// Runs f in a forked child and returns the JSON it wrote (or {"error": ...}).
json in_child(const std::function<json()>& f) {
  int fd[2];
  GG_CHECK(pipe(fd) == 0, "bench: pipe() failed");
  std::fflush(nullptr);
  const pid_t pid = fork();
  GG_CHECK(pid >= 0, "bench: fork() failed");
  if (pid == 0) {
    close(fd[0]);
    std::string text;
    try {
      text = f().dump();
    } catch (const std::exception& e) {
      text = json{{"error", e.what()}}.dump();
    }
    for (size_t done = 0; done < text.size();) {
      const ssize_t n = write(fd[1], text.data() + done, text.size() - done);
      if (n <= 0) break;
      done += size_t(n);
    }
    close(fd[1]);
    _exit(0);
  }
  close(fd[1]);
  std::string text;
  char buf[65536];
  for (ssize_t n; (n = read(fd[0], buf, sizeof buf)) > 0;) text.append(buf, size_t(n));
  close(fd[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (text.empty())
    return {{"error", "the child process died (status " + std::to_string(status) + ", signal " +
                          std::to_string(WIFSIGNALED(status) ? WTERMSIG(status) : 0) + ")"}};
  return json::parse(text);
}

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

// ---- The peer -------------------------------------------------------------------------------------------

json run_peer(const std::vector<Case>& cases, int threads, bool quick) {
  const std::string py = "/usr/bin/python3", script = std::string(GG_SOURCE_DIR) + "/bench/torch_jacobian.py";
  if (std::system((py + " -c 'import torch' 2>/dev/null").c_str()) != 0) {
    std::fprintf(stderr, "peer: PyTorch is not importable by %s (scripts/setup --bench installs python3-torch)\n",
                 py.c_str());
    return nullptr;
  }
  json list = json::array();
  std::set<std::string> seen;
  for (const Case& c : cases) {
    if (c.peer.empty() || !seen.insert(c.peer).second) continue;
    json model;
    to_json(model, c.model);
    list.push_back({{"key", c.peer}, {"model", model}, {"batch", c.batch}, {"data", c.data},
                    {"method", c.peer_method}, {"probes", c.probes}, {"lambda", kPenaltyWeight},
                    {"weight_decay", kWeightDecay}, {"repeats", c.repeats}, {"warmup", c.warmup}});
  }
  const std::string base = (fs::temp_directory_path() / ("gg_bench_jacobian_" + std::to_string(getpid()))).string();
  std::ofstream(base + "_cases.json") << list.dump();
  const std::string cmd = bench::peer_environment(threads) + py + " " + script + " --cases " + base +
                          "_cases.json --json " + base + "_peer.json --threads " + std::to_string(threads) +
                          (quick ? " --quick" : "");
  std::fprintf(stderr, "peer: %s\n", cmd.c_str());
  const int rc = std::system(cmd.c_str());
  json out = nullptr;
  if (rc == 0) {
    std::ifstream in(base + "_peer.json");
    out = json::parse(in);
  } else {
    std::fprintf(stderr, "peer: the PyTorch script failed (exit status %d)\n", rc);
  }
  std::remove((base + "_cases.json").c_str());
  std::remove((base + "_peer.json").c_str());
  return out;
}

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

}  // namespace

int run_bench(const Args& args) {
  GG_CHECK(args.positional().size() == 1 && args.positional()[0] == "jacobian",
           "expects the benchmark's name: `gradgrad bench jacobian`");
  const std::string out_dir = args.get("out", "runs/bench_jacobian");
  const std::string json_path = args.get("json", "");
  const bool quick = args.flag("quick"), peer = !args.flag("no-peer");
  int repeats = int(args.get_int("repeats", 10)), warmup = int(args.get_int("warmup", 2));
  const int threads = int(args.get_int("threads", omp_get_max_threads()));
  const std::string case_list = args.get("cases", "");
  args.finish();
  GG_CHECK(repeats >= 1 && warmup >= 1 && threads >= 1, "--repeats, --warmup and --threads must be >= 1");
  std::set<std::string> groups;
  if (case_list.empty()) groups.insert(kGroups.begin(), kGroups.end());
  std::stringstream list(case_list);
  for (std::string g; std::getline(list, g, ',');) {
    if (g.empty()) continue;
    GG_CHECK(std::find(kGroups.begin(), kGroups.end(), g) != kGroups.end(),
             "--cases: unknown case group '" + g + "' (known: toy, mlp32, mlp128, conv, scale-m, scale-batch)");
    groups.insert(g);
  }
  bench::ensure_best_blas_kernels();  // re-runs this command with the AVX-512 kernels where that helps
  if (quick) repeats = std::min(repeats, 3), warmup = std::min(warmup, 1);
  omp_set_num_threads(threads);  // an ICV only: the parent starts no threads (children inherit it)
  const char* coretype = std::getenv("OPENBLAS_CORETYPE");
  std::fprintf(stderr, "bench jacobian: %d threads, OPENBLAS_CORETYPE=%s%s\n", threads, coretype ? coretype : "(unset)",
               quick ? ", --quick" : "");

  const json gemm = in_child([&] { return gemm_rate(quick ? 5 : 20); });
  GG_CHECK(!gemm.contains("error"), "bench: measuring the GEMM rate failed: " + gemm.value("error", std::string()));
  const double floor_gflops = gemm["floor_gflops"];
  std::fprintf(stderr, "SGEMM n=1024: %.0f GFLOP/s (%s)\n", floor_gflops, gemm["floor_source"].get<std::string>().c_str());

  const std::vector<Case> cases = make_cases(groups, quick, repeats, warmup);
  std::vector<json> results;
  for (const Case& c : cases) {
    json r = in_child([&] { return run_case(c); });
    if (r.contains("error"))
      std::fprintf(stderr, "ours %-6s %-14s: FAILED: %s\n", c.size.c_str(), c.method.c_str(),
                   r["error"].get<std::string>().c_str());
    else
      std::fprintf(stderr, "ours %-6s %-14s: %9.3f ms\n", c.size.c_str(), c.method.c_str(), r["median_ms"].get<double>());
    results.push_back(r);
  }
  const json peer_json = peer ? run_peer(cases, threads, quick) : json(nullptr);

  // Rows: ours, the cost model's FLOPs, and the peer's matching case.
  std::map<std::string, double> plain_ms;  // size/method -> median (the "x plain" references)
  for (size_t i = 0; i < cases.size(); ++i)
    if (!results[i].contains("error")) plain_ms[cases[i].size + "/" + cases[i].method] = results[i]["median_ms"];
  auto peer_case = [&](const std::string& key) -> json {
    if (peer_json.is_null() || key.empty() || !peer_json["cases"].contains(key)) return nullptr;
    return peer_json["cases"][key];
  };
  json rows = json::array();
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
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
    if (c.method != "poisson") {
      const bool penalty = c.method != "plain" && c.method != "plain-1layer" && c.method != "weight-decay";
      const ContractiveCost cost = contractive_cost(c.model, c.batch, c.penalty);
      const double flops = cost.plain_step + (penalty ? cost.planned : 0.0);
      row["plan"] = penalty ? cost.plan.method + (cost.plan.route.empty() ? "" : "/" + cost.plan.route) : "";
      row["gflop"] = flops / 1e9;
      row["floor_ms"] = flops / floor_gflops / 1e6;
      row["x_floor"] = ms / (flops / floor_gflops / 1e6);
    }
    const json p = peer_case(c.peer);
    if (!p.is_null() && !p.contains("error")) {
      row["torch"] = p;
      row["speedup"] = p["median_ms"].get<double>() / ms;
      const json pp = peer_case(c.size + "/" + (c.plain_of == "plain-1layer" ? "plain-1layer" : "plain"));
      if (!pp.is_null() && !pp.contains("error"))
        row["torch"]["ratio_to_plain"] = p["median_ms"].get<double>() / pp["median_ms"].get<double>();
    } else if (!p.is_null()) {
      row["torch_error"] = p["error"];
    }
    rows.push_back(row);
  }

  // The table.
  std::ostringstream t;
  char line[512];
  std::snprintf(line, sizeof line, "%-8s %-14s %-18s %10s %19s %7s %8s %8s %8s %7s | %10s %7s %-16s %8s %7s\n", "size",
                "method", "plan", "median ms", "min-max ms", "x plain", "RSS+ MB", "tens. MB", "GFLOP", "x floor",
                "torch ms", "x plain", "torch way", "RSS+ MB", "speedup");
  t << line;
  for (const json& row : rows) {
    const std::string size = row["size"], method = row["method"];
    if (row.contains("error")) {
      t << size << " " << method << ": FAILED: " << row["error"].get<std::string>() << "\n";
      continue;
    }
    const json& o = row["ours"];
    auto opt = [&](const json& j, const char* key, const char* f) {
      return j.contains(key) ? fmt(f, j[key].get<double>()) : std::string("-");
    };
    const std::string spread = fmt("%.3f", o["min_ms"].get<double>()) + "-" + fmt("%.3f", o["max_ms"].get<double>());
    const json torch = row.value("torch", json::object());
    std::snprintf(line, sizeof line, "%-8s %-14s %-18s %10.3f %19s %7s %8.1f %8.1f %8s %7s | %10s %7s %-16s %8s %7s\n",
                  size.c_str(), method.c_str(), row.value("plan", std::string()).c_str(), o["median_ms"].get<double>(),
                  spread.c_str(), opt(row, "ratio_to_plain", "%.2f").c_str(), o["rss_growth_mb"].get<double>(),
                  o["tensor_peak_mb"].get<double>(), opt(row, "gflop", "%.3f").c_str(),
                  opt(row, "x_floor", "%.1f").c_str(), opt(torch, "median_ms", "%.3f").c_str(),
                  opt(torch, "ratio_to_plain", "%.2f").c_str(), torch.value("way", std::string("-")).c_str(),
                  opt(torch, "rss_growth_mb", "%.1f").c_str(), opt(row, "speedup", "%.2fx").c_str());
    t << line;
  }
  t << "\nSGEMM n=1024 f32: OpenBLAS "
    << (gemm.contains("openblas_gflops") ? fmt("%.1f", gemm["openblas_gflops"].get<double>()) : std::string("-"))
    << " GFLOP/s, ours "
    << fmt("%.1f", gemm["ours_gflops"].get<double>()) << " GFLOP/s; floor at " << fmt("%.1f", floor_gflops)
    << " GFLOP/s (" << gemm["floor_source"].get<std::string>() << ")\n";
  if (!peer_json.is_null())
    t << "peer: torch " << peer_json.value("torch_version", std::string("?")) << ", " << threads
      << " threads, settings " << peer_json.value("settings", json::object()).dump() << "\n";
  else
    t << "peer: not run" << (peer ? " (see the messages above)" : " (--no-peer)") << "\n";
  t << "auto picks:";
  for (const Case& c : cases)
    if (c.method == "plain" && c.group != "scale-batch") {
      const ContractivePlan p = contractive_cost(c.model, c.batch, {}).plan;
      t << " " << c.size << " " << p.method << (p.route.empty() ? "" : "/" + p.route) << ";";
    }
  t << "\n";
  t << "poisson rows have no PyTorch counterpart. Times in ms per Adam step; see `gradgrad help` and "
       "cli/cmd_bench.cpp for what each column measures.\n";
  std::printf("\n%s", t.str().c_str());

  const json doc = {{"benchmark", "jacobian"},
                    {"settings",
                     {{"threads", threads}, {"openblas_coretype", coretype ? coretype : ""}, {"quick", quick},
                      {"repeats", repeats}, {"warmup", warmup}, {"penalty_weight", kPenaltyWeight},
                      {"weight_decay", kWeightDecay}}},
                    {"gemm", gemm},
                    {"rows", rows},
                    {"peer", peer_json}};
  fs::create_directories(out_dir);
  write_json(out_dir + "/bench_jacobian.json", doc);
  write_file_atomic(out_dir + "/table.txt", t.str());
  write_run_info(out_dir, "bench", args);
  if (!json_path.empty()) write_json(json_path, doc);
  std::fprintf(stderr, "wrote %s/bench_jacobian.json and table.txt%s%s\n", out_dir.c_str(),
               json_path.empty() ? "" : " and ", json_path.c_str());

  draw_figures(out_dir);  // cli/plots.py's "bench" kind: bench/plot_jacobian.py's scaling and method figures
  return 0;
}

}  // namespace gg::cli
