// gg_bench: what the engine costs, side by side with PyTorch measured in the same run.
//
//   gg_bench [--json FILE] [--repeats R] [--warmup W] [--threads N] [--quick] [--no-peer]
//
// Cases: matrix multiply GFLOP/s (ours through Eigen, and OpenBLAS called directly: the best BLAS here);
// the overhead of one small op; a full training step (forward, loss, backward, Adam) of the autoencoder in
// bench/autoencoder.h at toy and MNIST sizes, plain and with the exact Jacobian penalty. Each is the median
// over repeated runs after warm-up, with its 10th-90th percentile spread; the PyTorch peer
// (bench/torch_peer.py) runs the same cases with the same thread count, and the table prints the ratios.
#include <cblas.h>
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "bench/autoencoder.h"
#include "bench/timing.h"
#include "engine/backend/backend.h"

using namespace gg;
using json = nlohmann::json;

namespace {

using bench::Stats;
using bench::time_runs;

json to_json(const Stats& s) {
  return {{"median_ms", s.median_ms}, {"p10_ms", s.p10_ms}, {"p90_ms", s.p90_ms}, {"repeats", s.repeats}};
}

struct Size {
  std::string name;
  int64_t d, h, m, batch;
};

json run_peer(const std::string& path, int threads, int repeats, int warmup, bool quick) {
  const char* py = "/usr/bin/python3";
  if (std::system((std::string(py) + " -c 'import torch' 2>/dev/null").c_str()) != 0) {
    std::fprintf(stderr, "peer: PyTorch not importable by %s (install python3-torch: scripts/setup --bench)\n", py);
    return nullptr;
  }
  const std::string env = bench::peer_environment(threads);
  std::string out = "/tmp/gg_bench_peer_" + std::to_string(getpid()) + ".json";
  std::string cmd = env + py + " " + path + " --json " + out + " --threads " + std::to_string(threads) +
                    " --repeats " + std::to_string(repeats) + " --warmup " + std::to_string(warmup) +
                    (quick ? " --quick" : "");
  std::fprintf(stderr, "peer: %s\n", cmd.c_str());
  if (std::system(cmd.c_str()) != 0) {
    std::fprintf(stderr, "peer: the PyTorch script failed\n");
    return nullptr;
  }
  std::ifstream in(out);
  json j = json::parse(in);
  std::remove(out.c_str());
  return j;
}

}  // namespace

int main(int argc, char** argv) {
  bench::ensure_best_blas_kernels(argv);
  std::string json_path, peer_path = "bench/torch_peer.py";
  int repeats = 20, warmup = 3, threads = omp_get_max_threads();
  bool quick = false, peer = true;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "gg_bench: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--json") json_path = next();
    else if (a == "--repeats") repeats = std::stoi(next());
    else if (a == "--warmup") warmup = std::stoi(next());
    else if (a == "--threads") threads = std::stoi(next());
    else if (a == "--peer-script") peer_path = next();
    else if (a == "--quick") quick = true;
    else if (a == "--no-peer") peer = false;
    else {
      std::fprintf(stderr, "usage: gg_bench [--json FILE] [--repeats R] [--warmup W] [--threads N] [--quick] [--no-peer]\n");
      return 2;
    }
  }
  if (quick) repeats = std::min(repeats, 3), warmup = std::min(warmup, 1);
  omp_set_num_threads(threads);
  std::fprintf(stderr, "gg_bench: %d threads, OPENBLAS_CORETYPE=%s\n", threads,
               std::getenv("OPENBLAS_CORETYPE") ? std::getenv("OPENBLAS_CORETYPE") : "(unset)");

  json ours;
  ours["threads"] = threads;
  ours["openblas_coretype"] = std::getenv("OPENBLAS_CORETYPE") ? std::getenv("OPENBLAS_CORETYPE") : "";

  // Matrix multiply.
  std::vector<int64_t> ns = quick ? std::vector<int64_t>{256, 512} : std::vector<int64_t>{256, 512, 1024, 2048};
  for (int64_t n : ns) {
    Generator gen(1);
    Tensor a = Tensor::rand({n, n}, gen), b = Tensor::rand({n, n}, gen), c = Tensor::empty({n, n});
    const int reps = n >= 2048 ? std::max(3, repeats / 4) : repeats;
    Stats mine = time_runs([&] { Tensor r = matmul(a, b); }, warmup, reps);
    Stats blas = time_runs([&] {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a.data<float>(), n, b.data<float>(), n,
                  0.0f, c.data<float>(), n);
    }, warmup, reps);
    const double flop = 2.0 * n * n * n;
    ours["matmul"].push_back({{"n", n}, {"gflops", flop / mine.median_ms / 1e6}, {"stats", to_json(mine)},
                              {"openblas_gflops", flop / blas.median_ms / 1e6}});
    std::fprintf(stderr, "matmul %ld: %.0f GFLOP/s (OpenBLAS direct %.0f)\n", long(n), flop / mine.median_ms / 1e6,
                 flop / blas.median_ms / 1e6);
  }

  // One small op: what a user pays per op beyond the arithmetic.
  {
    Tensor a = Tensor::ones({1}), b = Tensor::ones({1});
    Tensor w = Tensor::ones({1}).requires_grad_();
    auto per_op_us = [&](const std::function<void()>& f) {
      Stats s = time_runs([&] { for (int i = 0; i < 1000; ++i) f(); }, 1, std::max(5, repeats));
      return s.median_ms;  // ms per 1000 ops = us per op
    };
    ours["op_overhead_us"] = {{"add", per_op_us([&] { Tensor c = a + b; })},
                              {"tanh", per_op_us([&] { Tensor c = tanh(a); })},
                              {"add_recorded", per_op_us([&] { Tensor c = w + b; })}};
    std::fprintf(stderr, "op overhead: %s\n", ours["op_overhead_us"].dump().c_str());
  }

  // Training steps.
  std::vector<Size> sizes = {{"toy", 2, 64, 2, 256}, {"mnist32", 784, 512, 32, 128}, {"mnist128", 784, 512, 128, 128}};
  for (const Size& sz : sizes) {
    Generator gen(2);
    Tensor x = sz.name == "toy" ? Tensor::randn({sz.batch, sz.d}, gen) : Tensor::rand({sz.batch, sz.d}, gen);
    x.requires_grad_();
    std::vector<bench::Penalty> methods = {bench::Penalty::none, bench::Penalty::exact_vectorized,
                                           bench::Penalty::exact_gram, bench::Penalty::exact_loop};
    for (bench::Penalty method : methods) {
      if (method == bench::Penalty::exact_loop && quick && sz.m > 32) continue;
      bench::Autoencoder ae(sz.d, sz.h, sz.m, 0);
      Adam opt(ae.params);
      auto step = [&] {
        Tensor loss = ae.loss(x, method);
        opt.step(grad({loss}, ae.params));
      };
      const int reps = method == bench::Penalty::exact_loop && sz.m > 32 ? std::min(repeats, 5) : repeats;
      step();  // first step maps the allocator's blocks
      backend_for(Device::cpu()).reset_peak_bytes();
      Stats s = time_runs(step, warmup, reps);
      json row = {{"size", sz.name}, {"method", bench::penalty_name(method)}, {"stats", to_json(s)},
                  {"peak_mb", backend_for(Device::cpu()).peak_bytes() / 1048576.0}};
      ours["steps"].push_back(row);
      std::fprintf(stderr, "ours %s %s: %.3f ms\n", sz.name.c_str(), bench::penalty_name(method), s.median_ms);
    }
  }

  json peer_json = peer ? run_peer(peer_path, threads, repeats, warmup, quick) : json(nullptr);

  // The table: every row against the peer's matching case (for the exact penalty, its fastest way).
  auto peer_step = [&](const std::string& size, bool exact) -> const json* {
    if (peer_json.is_null()) return nullptr;
    const json* best = nullptr;
    for (const json& r : peer_json["steps"])
      if (r["size"] == size && (r["mode"] == (exact ? "exact" : "plain")))
        if (!best || r["median_ms"].get<double>() < (*best)["median_ms"].get<double>()) best = &r;
    return best;
  };
  std::printf("\n%-10s %-17s %12s %19s %12s %-17s %9s\n", "size", "ours", "median ms", "p10-p90 ms", "torch ms",
              "torch method", "speedup");
  json rows;
  for (const json& r : ours["steps"]) {
    const std::string size = r["size"], method = r["method"];
    const json* p = peer_step(size, method != "plain");
    const double mine = r["stats"]["median_ms"];
    char spread[64];
    std::snprintf(spread, sizeof spread, "%.3f-%.3f", r["stats"]["p10_ms"].get<double>(), r["stats"]["p90_ms"].get<double>());
    if (p) {
      const double theirs = (*p)["median_ms"];
      std::printf("%-10s %-17s %12.3f %19s %12.3f %-17s %8.2fx\n", size.c_str(), method.c_str(), mine, spread, theirs,
                  (*p)["method"].get<std::string>().c_str(), theirs / mine);
      rows.push_back({{"size", size}, {"method", method}, {"ours_ms", mine}, {"torch_ms", theirs},
                      {"torch_method", (*p)["method"]}, {"speedup", theirs / mine}});
    } else {
      std::printf("%-10s %-17s %12.3f %19s %12s %-17s %9s\n", size.c_str(), method.c_str(), mine, spread, "-", "-", "-");
    }
  }
  std::printf("\n%-8s %14s %18s %14s\n", "matmul n", "ours GFLOP/s", "OpenBLAS GFLOP/s", "torch GFLOP/s");
  for (const json& r : ours["matmul"]) {
    double t = 0;
    if (!peer_json.is_null())
      for (const json& q : peer_json["matmul"])
        if (q["n"] == r["n"]) t = q["gflops"];
    std::printf("%-8ld %14.1f %18.1f %14.1f\n", long(r["n"].get<int64_t>()), r["gflops"].get<double>(),
                r["openblas_gflops"].get<double>(), t);
  }
  std::printf("\nsmall-op overhead (us): ours add %.2f, tanh %.2f, add recorded %.2f",
              ours["op_overhead_us"]["add"].get<double>(), ours["op_overhead_us"]["tanh"].get<double>(),
              ours["op_overhead_us"]["add_recorded"].get<double>());
  if (!peer_json.is_null())
    std::printf("; torch add %.2f, tanh %.2f", peer_json["op_overhead_us"]["add"].get<double>(),
                peer_json["op_overhead_us"]["tanh"].get<double>());
  std::printf("\n");
  if (!peer_json.is_null())
    std::printf("peer: torch %s, settings %s\n", peer_json["torch_version"].get<std::string>().c_str(),
                peer_json["settings"].dump().c_str());

  if (!json_path.empty()) {
    std::ofstream(json_path) << json{{"ours", ours}, {"peer", peer_json}, {"rows", rows}}.dump(2) << "\n";
    std::fprintf(stderr, "wrote %s\n", json_path.c_str());
  }
  return 0;
}
