// The harness of `gradgrad bench jacobian` (bench/jacobian_bench.h): its cases, a forked child's answer, and
// one case measured in this process (a single step: a check that it runs, not a timing).
#include <cmath>
#include <set>

#include "bench/jacobian_bench.h"
#include "bench/machine_load.h"
#include "tests/models_helpers.h"

using namespace gg;
using namespace gg::test;

TEST_CASE("jacobian_cases: the toy group has every method, each with its plain reference and peer key") {
  const std::vector<JacobianCase> toy = jacobian_cases({"toy"}, false, 5, 2);
  std::set<std::string> methods;
  for (const JacobianCase& c : toy) {
    methods.insert(c.method);
    CHECK(c.group == "toy");
    CHECK(c.batch == 256);
    CHECK(c.repeats == 5);
    CHECK(c.plain_of == (c.method == "closed-form" || c.method == "plain-1layer" ? "plain-1layer" : "plain"));
    CHECK(c.peer.empty() == c.poisson());
  }
  CHECK(toy.size() == 12);
  CHECK(methods.count("exact-forward") == 1);  // toy only: elsewhere d = 784 forward columns
  const auto find = [&](const std::string& m) {
    for (const JacobianCase& c : toy)
      if (c.method == m) return c;
    FAIL("no case " << m);
    return JacobianCase{};
  };
  CHECK(find("hutchinson-4").penalty.probes == 4);
  CHECK(find("hutchinson-4").peer == "toy/hutchinson-4");
  CHECK(find("exact-gram").penalty.route == "gram");
  CHECK(find("closed-form").model.hidden.empty());  // the one-layer sigmoid encoder
  CHECK(find("closed-form").model.code_activation == "sigmoid");

  // --quick drops mlp128's 128-pass loop and shortens the scaling sweeps.
  const std::vector<JacobianCase> quick = jacobian_cases({"mlp128", "scale-m"}, true, 10, 2);
  for (const JacobianCase& c : quick) CHECK(c.method != "exact-loop");
  int scale_sizes = 0;
  for (const JacobianCase& c : quick) scale_sizes += c.group == "scale-m" && c.method == "plain";
  CHECK(scale_sizes == 2);
  CHECK(contains(error_of([] { jacobian_cases({"toys"}, false, 1, 1); }), "unknown case group 'toys'"));
}

TEST_CASE("jacobian_cases: --device puts every case's model (and so its data) on that device") {
  for (const JacobianCase& c : jacobian_cases({"toy", "conv"}, true, 1, 1, Device::cuda(0)))
    CHECK(c.model.device == Device::cuda(0));
  for (const JacobianCase& c : jacobian_cases({"toy"}, true, 1, 1)) CHECK(c.model.device == Device::cpu());
}

TEST_CASE("run_in_child returns the child's JSON, or its error") {
  const nlohmann::json ok = run_in_child([] { return nlohmann::json{{"answer", 42}}; });
  CHECK(ok["answer"] == 42);
  const nlohmann::json bad = run_in_child([]() -> nlohmann::json { throw std::runtime_error("boom"); });
  CHECK(bad["error"] == "boom");
}

TEST_CASE("run_jacobian_case measures one step of a toy case: times, memory and a finite loss") {
  JacobianCase c;
  for (const JacobianCase& x : jacobian_cases({"toy"}, true, 1, 1))
    if (x.method == "exact-reverse") c = x;
  REQUIRE(c.method == "exact-reverse");
  const nlohmann::json r = run_jacobian_case(c);
  CHECK(r["repeats"] == 1);
  CHECK(r["median_ms"].get<double>() > 0);
  CHECK(r["min_ms"].get<double>() <= r["max_ms"].get<double>());
  CHECK(std::isfinite(r["loss"].get<double>()));
  CHECK(r["tensor_peak_mb"].get<double>() > 0);
  CHECK(r["times_ms"].size() == 1);
  CHECK(r["faults_per_step"].get<double>() >= 0);
}

TEST_CASE("pool_rounds pools every round's repeats and keeps each round's median, an error wins") {
  const nlohmann::json a = {{"median_ms", 2.0}, {"times_ms", {1.0, 2.0, 3.0}}, {"rss_growth_mb", 5.0}};
  const nlohmann::json b = {{"median_ms", 5.0}, {"times_ms", {4.0, 5.0, 6.0}}, {"rss_growth_mb", 7.0}};
  const nlohmann::json p = pool_rounds({a, b});
  CHECK(p["median_ms"] == 3.5);  // of all six
  CHECK(p["min_ms"] == 1.0);
  CHECK(p["max_ms"] == 6.0);
  CHECK(p["repeats"] == 6);
  CHECK(p["rss_growth_mb"] == 7.0);  // the worse round
  CHECK(p["round_medians_ms"] == nlohmann::json{2.0, 5.0});
  CHECK(pool_rounds({a, {{"error", "boom"}}})["error"] == "boom");

  // The peer: an exact case pools way by way and reports the fastest pooled way.
  auto peer = [](double loop, double vmap) {
    const nlohmann::json l = {{"median_ms", loop}, {"times_ms", {loop}}, {"way", "loop"}};
    const nlohmann::json v = {{"median_ms", vmap}, {"times_ms", {vmap}}, {"way", "vmap"}};
    return nlohmann::json{{"cases", {{"toy/exact", {{"ways", {{"loop", l}, {"vmap", v}}}}}}}};
  };
  const nlohmann::json pooled = pool_peer_rounds({peer(1.0, 4.0), peer(3.0, 1.5)});
  // Pooled medians: loop 2.0, vmap 2.75, so loop, although vmap was faster in the second round alone.
  CHECK(pooled["cases"]["toy/exact"]["way"] == "loop");
  CHECK(pooled["cases"]["toy/exact"]["median_ms"] == 2.0);
  CHECK(pooled["cases"]["toy/exact"]["ways"].size() == 2);
}

TEST_CASE("a SpinningLoad holds a core while it lives, as busy_cores sees") {
  const int cores = bench::online_cores();
  REQUIRE(cores >= 1);
  double held = 0;
  {
    bench::SpinningLoad load;
    CHECK(load.core() >= 0);
    held = bench::busy_cores(0.3);
  }
  CHECK(held >= 0.8);  // its own core at least, whatever else the machine does
  CHECK(held <= cores + 0.01);
}
