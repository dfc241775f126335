// The experiments of the library layer (experiments/) on a tiny two-moons run in a scratch folder: what each
// returns and what it writes. Training, its dynamics snapshots, the latent field, paper 000's visualization
// and the toy sets; the paper-002 experiments are in test_experiments_dynamics.cpp.
#include <cmath>
#include <filesystem>

#include "experiments/datasets.h"
#include "experiments/field.h"
#include "experiments/visualize.h"
#include "tests/experiments_helpers.h"

using namespace gg;
using namespace gg::test;
namespace fs = std::filesystem;

TEST_CASE("train_experiment leaves a complete run folder and returns its final numbers") {
  TempDir tmp;
  const std::string run = tmp / "run";
  const TrainResult r = tiny_run(run, 3);
  CHECK(r.epochs == 3);
  CHECK(std::isfinite(r.test_mse));
  CHECK(r.test_mse > 0);
  for (const char* f : {"config.json", "metrics.json", "checkpoint.safetensors", "run.json", "reconstructions.csv"})
    CHECK_MESSAGE(fs::exists(run + "/" + f), f);
  const nlohmann::json m = read_json_file(run + "/metrics.json");
  CHECK(m == r.metrics);
  REQUIRE(m["epochs"].size() == 3);
  CHECK(m["final"]["test_mse"].get<double>() == doctest::Approx(m["epochs"][2]["test_mse"].get<double>()));
  CHECK(read_json_file(run + "/config.json")["training"]["epochs"] == 3);
  CHECK(read_json_file(run + "/run.json")["kind"] == "train");
  // 128 test points and their reconstructions, in data units: x0, x1 then x2, x3.
  const auto rows = read_csv(run + "/reconstructions.csv");
  CHECK(rows.size() == 128);
  CHECK(rows[0].count("x3") == 1);

  // Resumed with more epochs, the run continues where it stopped instead of starting again.
  TrainOptions more = tiny_train_options(5);
  more.resume = true;
  const TrainResult r2 = train_experiment(more, run);
  CHECK(r2.epochs == 5);
  CHECK(r2.metrics["epochs"].size() == 5);
  CHECK(r2.metrics["epochs"][0]["loss"] == m["epochs"][0]["loss"]);
}

TEST_CASE("train_experiment with track_dynamics records a snapshot at 0, every N epochs and at the end") {
  TempDir tmp;
  TrainOptions o = tiny_train_options(3);
  o.track_dynamics = 2;
  o.track.starts = 48;
  o.track.max_iters = 200;
  o.track.grid = 8;
  const TrainResult r = train_experiment(o, tmp / "run");
  const nlohmann::json& dyn = r.metrics["dynamics"];
  REQUIRE(dyn.size() == 3);  // epochs 0, 2 and 3
  CHECK(dyn[0]["epoch"] == 0);
  CHECK(dyn[1]["epoch"] == 2);
  CHECK(dyn[2]["epoch"] == 3);
  for (const auto& d : dyn) {
    CHECK(d["starts_train"] == 48);
    CHECK(d["distinct_train"].get<int64_t>() >= 1);
    CHECK(d["distinct_train"].get<int64_t>() <= d["converged_train"].get<int64_t>());
    CHECK(d["merge_rule"] == "distance");  // k = 2
    CHECK(d["frame"]["nx"] == 8);
  }
  for (int e : {0, 2, 3}) {
    const std::string base = tmp / ("run/dynamics/field_epoch_" + std::to_string(e) + ".csv");
    REQUIRE(fs::exists(base));
    CHECK(read_csv(base).size() == 64);  // 8 x 8 cells
  }
  // The last snapshot's test error is the last epoch's.
  CHECK(dyn[2]["test_mse"].get<double>() == doctest::Approx(r.metrics["epochs"][2]["test_mse"].get<double>()));
}

TEST_CASE("field_experiment: every converged endpoint lands in exactly one pooled attractor") {
  TempDir tmp;
  FieldOptions o = options_on_tiny_run<FieldOptions>(tmp);
  o.grid = 10;
  o.starts = 64;
  o.noise_starts = 32;
  o.iterate.max_iters = 400;
  const FieldResult r = field_experiment(o, tmp / "field");
  const nlohmann::json& m = r.metrics;
  CHECK(r.code_dim == 2);
  CHECK(r.merge_rule == "distance");
  CHECK(m["train"]["starts"] == 64);
  CHECK(m["noise"]["starts"] == 32);
  CHECK(r.distinct_train >= 1);
  CHECK(r.distinct_train <= m["train"]["converged"].get<int64_t>());
  CHECK(r.tol_effective == doctest::Approx(1e-6 * r.code_scale * r.code_scale));
  CHECK(m == read_json_file(tmp / "field/metrics.json"));

  // attractors.csv: one row per pooled attractor; its per-source counts add up to the converged endpoints.
  const auto att = read_csv(tmp / "field/attractors.csv");
  REQUIRE(int64_t(att.size()) == r.attractors);
  double train = 0, grid = 0, total = 0;
  int64_t def2 = 0;
  for (const auto& a : att) {
    train += num(a, "count_train"), grid += num(a, "count_grid"), total += num(a, "count");
    CHECK(num(a, "count") == num(a, "count_train") + num(a, "count_test") + num(a, "count_noise") + num(a, "count_grid"));
    def2 += a.at("is_attractor") == "1";
  }
  CHECK(train == m["train"]["converged"].get<double>());
  CHECK(def2 == r.attractors_definition_2);
  const auto basins = read_csv(tmp / "field/basins.csv");
  REQUIRE(basins.size() == 100);  // 10 x 10 cells
  double grid_converged = 0;
  for (const auto& b : basins) grid_converged += b.at("converged") == "1";
  CHECK(grid == grid_converged);
  CHECK(read_csv(tmp / "field/field.csv").size() == 100);
  // Two moons are 2-D data: the potential over the input plane and the decoded attractors in data units.
  CHECK(read_csv(tmp / "field/potential.csv").size() == 100);
  CHECK(read_csv(tmp / "field/decoded_attractors.csv").size() == att.size());
  CHECK(read_csv(tmp / "field/data.csv").size() == 256);
  CHECK(r.summary().find("k = 2") == 0);
}

TEST_CASE("visualize_experiment: per corruption, both conditions of every sample and their means") {
  TempDir tmp;
  VisualizeOptions o = options_on_tiny_run<VisualizeOptions>(tmp);
  o.samples = 40;
  o.corruptions = {"noise:0.5"};
  const VisualizeResult r = visualize_experiment(o, tmp / "viz");
  const auto rows = read_csv(tmp / "viz/viz_noise_0.5.csv");
  REQUIRE(rows.size() == 80);
  double s_clean = 0;
  for (size_t i = 0; i < 40; ++i) {
    CHECK(rows[i].at("corrupted") == "0");
    s_clean += num(rows[i], "s") / 40;
  }
  CHECK(rows[40].at("corrupted") == "1");
  const nlohmann::json& m = r.metrics["noise:0.5"];
  CHECK(m["s_clean"].get<double>() == doctest::Approx(s_clean).epsilon(1e-6));
  CHECK(m["s_clean"].get<double>() > 0);
  CHECK(std::isfinite(m["L_pois_eq9"].get<double>()));
  CHECK(read_json_file(tmp / "viz/run.json")["kind"] == "visualize");
}

TEST_CASE("visualize_experiment --gradient-noise: each source's gradient spread, paired against the first") {
  TempDir tmp;
  VisualizeOptions o = options_on_tiny_run<VisualizeOptions>(tmp);  // main.json's Poisson term, batch 64
  o.samples = 64;
  o.corruptions = {"noise:0.1"};
  o.gradient_noise = 4;
  o.noise_sources = {"exact", "hutchinson:1", "hutchinson:64"};
  const VisualizeResult r = visualize_experiment(o, tmp / "viz");
  const nlohmann::json& n = r.metrics["gradient_noise"];
  CHECK(n == read_json_file(tmp / "viz/metrics.json")["gradient_noise"]);
  CHECK(n["draws"] == 4);
  CHECK(n["batch"] == 64);
  REQUIRE(n["sources"].size() == 3);
  CHECK(n["sources"][0]["paired_difference"].get<double>() == 0.0);
  const double one = n["sources"][1]["paired_difference"], many = n["sources"][2]["paired_difference"];
  CHECK(one > 0);
  CHECK(many < one / 4);  // 64 probes: the source's noise shrinks with their number
  for (const auto& row : n["sources"]) {
    CHECK(row["mean_sq"].get<double>() > 0);
    CHECK(row["variance"].get<double>() > 0);
  }
  CHECK(n["objective_over_batches"]["variance"].get<double>() > 0);
  o.noise_sources = {"exact", "hutchinson:x"};
  CHECK_THROWS_WITH_AS(visualize_experiment(o, tmp / "viz3"),
                       doctest::Contains("--noise-sources: 'hutchinson:x' is not METHOD[:PROBES]"), Error);
  o.noise_sources = {"magic"};
  CHECK_THROWS_WITH_AS(visualize_experiment(o, tmp / "viz3"), doctest::Contains("--noise-sources 'magic'"),
                       Error);
  o.noise_sources = {"exact"};
  o.gradient_noise = 5;  // 5 batches of 64 from 256 training samples
  CHECK_THROWS_WITH_AS(visualize_experiment(o, tmp / "viz2"),
                       doctest::Contains("--gradient-noise 5 needs 320 training samples, the run has 256"),
                       Error);
}

TEST_CASE(
    "visualize_experiment with a sweep: s, v and |grad v| per run, estimator and strength, with errors") {
  TempDir tmp;
  VisualizeOptions o = options_on_tiny_run<VisualizeOptions>(tmp);
  o.samples = 32;
  o.sweep = {"noise:0..0.4", "zoom:0..0.2"};
  o.sweep_points = 3;
  o.compare = {o.run};  // the same run twice: the rows must agree
  o.estimators = {"paper", "importance"};
  const VisualizeResult r = visualize_experiment(o, tmp / "sweep");
  const auto rows = read_csv(tmp / "sweep/sweep.csv");
  REQUIRE(rows.size() == 2 * 2 * 2 * 3);  // runs x estimators x kinds x strengths
  CHECK(rows[0].at("corruption") == "noise");
  CHECK(num(rows[0], "amount") == 0);
  CHECK(num(rows[2], "amount") == doctest::Approx(0.4));
  CHECK(num(rows[4], "amount") == doctest::Approx(0.1));  // zoom 0, 0.1, 0.2
  for (size_t i = 0; i < 12; ++i) {
    CHECK(num(rows[i], "v") == num(rows[i + 12], "v"));  // deterministic in the seed
    CHECK(num(rows[i], "s_se") > 0);
    CHECK(std::isfinite(num(rows[i], "grad_v_se")));
  }
  // s does not depend on the estimator; strength 0 leaves the inputs clean, whatever the kind.
  CHECK(num(rows[0], "s") == num(rows[6], "s"));
  CHECK(num(rows[0], "s") == doctest::Approx(num(rows[3], "s")).epsilon(1e-12));
  CHECK(r.metrics["sweep"].size() == rows.size());
  CHECK(contains(error_of([] { sweep_specs("noise:0.5", 4); }), "is not kind:lo..hi"));
  CHECK(contains(error_of([] { sweep_specs("noise:0.5..0.1", 4); }), "needs lo < hi"));
  CHECK(contains(error_of([] { sweep_specs("blur:0..1", 4); }), "unknown kind 'blur'"));
  CHECK(contains(error_of([] { sweep_specs("noise:-1..0", 4); }), "sigma must be a finite number >= 0"));
}

TEST_CASE("datasets_experiment writes every toy set with the requested size") {
  TempDir tmp;
  DatasetsOptions o;
  o.toy.n = 100;
  const nlohmann::json summary = datasets_experiment(o, tmp / "d");
  for (const std::string& name : toy_registry().names()) {
    CAPTURE(name);
    REQUIRE(summary.contains(name));
    CHECK(summary[name]["samples"] == 100);
    CHECK(read_csv(tmp / ("d/" + name + ".csv")).size() == 100);
  }
  CHECK(read_json_file(tmp / "d/metrics.json") == summary);
}
