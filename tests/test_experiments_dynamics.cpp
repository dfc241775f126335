// The paper-002 experiments of the library layer (experiments/ood.h, probe.h, sweep.h) on a tiny two-moons
// run, the ROC curve they write (dynamics/roc.h) and the metric records they share (experiments/records.h).
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

#include "dynamics/ood.h"
#include "dynamics/roc.h"
#include "experiments/ood.h"
#include "experiments/probe.h"
#include "experiments/records.h"
#include "experiments/sweep.h"
#include "tests/experiments_helpers.h"

using namespace gg;
using namespace gg::test;
namespace fs = std::filesystem;

TEST_CASE("roc_curve: from (0, 0) to (1, 1) - its area is the Mann-Whitney AUROC and it passes through FPR95") {
  const std::vector<double> id = {0.1, 0.2, 0.2, 0.4, 0.5, 0.9, 1.0, 1.1, 0.3, 0.3};
  const std::vector<double> ood = {0.3, 0.6, 0.2, 1.5, 2.0, 0.8, 0.35};
  const RocCurve c = roc_curve(id, ood);
  REQUIRE(c.fpr.size() == c.tpr.size());
  CHECK(c.fpr.front() == 0);
  CHECK(c.tpr.front() == 0);
  CHECK(c.fpr.back() == 1);
  CHECK(c.tpr.back() == 1);
  for (size_t i = 1; i < c.fpr.size(); ++i) {
    CHECK(c.fpr[i] >= c.fpr[i - 1]);
    CHECK(c.tpr[i] >= c.tpr[i - 1]);
    CHECK(c.threshold[i] > c.threshold[i - 1]);
  }
  CHECK(roc_area(c) == doctest::Approx(auroc(id, ood)).epsilon(1e-12));  // ties (0.2, 0.3) counted 1/2
  size_t first = 0;
  while (c.tpr[first] < 0.95) ++first;
  CHECK(c.fpr[first] == doctest::Approx(fpr_at_tpr(id, ood, 0.95)));
  CHECK(roc_area(roc_curve({0, 1}, {2, 3})) == 1.0);  // separated: AUROC 1
  CHECK_THROWS(roc_curve({}, {1}));
  CHECK_THROWS(roc_curve({std::nan("")}, {1}));
}

TEST_CASE("ood_experiment: the sets of a points run, their metrics and ROC curves, one file each") {
  TempDir tmp;
  OodOptions o = options_on_tiny_run<OodOptions>(tmp);
  o.samples = 50;
  o.train_samples = 64;
  o.knn = 5;
  const OodResult r = ood_experiment(o, tmp / "ood");
  CHECK(r.in_distribution == "two-moons-test");
  REQUIRE(r.sets.size() == 2);  // no companion image set for points: noise and rotated
  CHECK(r.sets[0].name == "gaussian-noise");
  CHECK(r.sets[1].name == "rotated-90");
  for (const OodSetResult& s : r.sets)
    for (double a : {s.trajectory_auroc, s.knn_auroc, s.knn_input_auroc, s.trajectory_fpr95, s.knn_fpr95}) {
      CHECK(a >= 0);
      CHECK(a <= 1);
    }
  CHECK(r.metrics == read_json_file(tmp / "ood/metrics.json"));
  CHECK(r.metrics["ood_sets"].size() == 2);
  CHECK(read_csv(tmp / "ood/scores.csv").size() == 150);  // 50 samples in each of three sets
  CHECK(r.table.find("d(attractors)") != std::string::npos);
  // trajectory_profile.csv: per set and step, quartiles of d(z_t, Z*_train) in order and the paths still
  // moving, which never grow; at t = 0 the mean is the mean distance of the codes themselves.
  std::map<std::string, int64_t> last_moving, profile_steps;
  for (const auto& row : read_csv(tmp / "ood/trajectory_profile.csv")) {
    CHECK(num(row, "q25") <= num(row, "median"));
    CHECK(num(row, "median") <= num(row, "q75"));
    const int64_t moving = int64_t(num(row, "moving")), step = int64_t(num(row, "step"));
    CHECK(step == profile_steps[row.at("set")]++);
    if (step > 0) CHECK(moving <= last_moving[row.at("set")]);
    last_moving[row.at("set")] = moving;
  }
  CHECK(profile_steps.size() == 3);
  for (const auto& [set, moving] : last_moving)
    CHECK(moving == 0);  // every path has stopped by the last step

  // roc.csv: per OOD set and method a curve whose trapezoid area is that method's AUROC.
  std::map<std::string, std::vector<std::pair<double, double>>> curves;
  for (const auto& row : read_csv(tmp / "ood/roc.csv"))
    curves[row.at("set") + "/" + row.at("method")].emplace_back(num(row, "fpr"), num(row, "tpr"));
  REQUIRE(curves.size() == 6);
  for (const OodSetResult& s : r.sets) {
    const std::map<std::string, double> want = {
        {"trajectory", s.trajectory_auroc}, {"knn", s.knn_auroc}, {"knn_input", s.knn_input_auroc}};
    for (const auto& [method, auc] : want) {
      const auto& p = curves[s.name + "/" + method];
      REQUIRE(p.size() >= 2);
      double area = 0;
      for (size_t i = 1; i < p.size(); ++i) area += (p[i].first - p[i - 1].first) * 0.5 * (p[i].second + p[i - 1].second);
      CHECK(area == doctest::Approx(auc).epsilon(1e-6));
      CHECK(p.back() == std::pair<double, double>(1.0, 1.0));
    }
  }
}

TEST_CASE("probe_experiment: a full orthonormal basis reconstructs the code, so it matches D(E(x))") {
  TempDir tmp;
  ProbeOptions o = options_on_tiny_run<ProbeOptions>(tmp);
  o.test = 40;
  const ProbeResult r = probe_experiment(o, tmp / "probe");
  CHECK(r.dictionary_size == 2);  // N = k noise codes
  CHECK(r.atom_counts == std::vector<int64_t>{1, 2});
  REQUIRE(r.sets.size() == 1);
  const ProbeSetResult& s = r.sets[0];
  CHECK(s.name == "two-moons-test");
  REQUIRE(s.random_basis_mse.size() == 2);
  CHECK(s.random_basis_mse[1] == doctest::Approx(s.autoencoder_mse).epsilon(1e-6));  // all k atoms
  CHECK(s.attractors_mse[0] > 0);
  CHECK(read_csv(tmp / "probe/probe.csv").size() == 4);  // 2 dictionaries x 2 atom counts
  CHECK(r.metrics["two-moons-test"]["autoencoder_mse"].get<double>() == doctest::Approx(s.autoencoder_mse));
  CHECK_THROWS(probe_experiment([&] {
    ProbeOptions bad = o;
    bad.sets = {"no-such-set"};
    return bad;
  }(), tmp / "probe2"));
}

TEST_CASE("sweep_experiment: one model per k, sweep.csv from the same points - a finished k is read back, not rerun") {
  TempDir tmp;
  SweepOptions o;
  o.config = tiny_train_options(2).config;
  o.sets = tiny_train_options(2).sets;
  o.k = {1, 2};
  o.max_iters = 200;
  o.starts = 32;
  const SweepResult r = sweep_experiment(o, tmp / "sweep");
  REQUIRE(r.points.size() == 2);
  CHECK(r.points[0]["k"] == 1);
  CHECK(r.points[1]["k"] == 2);
  CHECK(r.model_dirs[1] == tmp / "sweep/k_2");
  for (const auto& p : r.points) {
    CHECK(p["starts_train"] == 32);
    CHECK(p["epochs"] == 2);
    CHECK(p["distinct_train"].get<int64_t>() <= p["converged_train"].get<int64_t>());
  }
  const auto rows = read_csv(tmp / "sweep/sweep.csv");
  REQUIRE(rows.size() == 2);
  CHECK(num(rows[1], "test_mse") == doctest::Approx(r.points[1]["test_mse"].get<double>()).epsilon(1e-8));
  CHECK(num(rows[0], "starts") == 32);
  // Each source's own starts: a test set smaller than `starts` gives fewer.
  CHECK(num(rows[0], "starts_test") == r.points[0]["starts_test"].get<double>());
  CHECK(num(rows[0], "starts_noise") == 32);
  const nlohmann::json k2 = read_json_file(tmp / "sweep/k_2/metrics.json");
  CHECK(k2["sweep_point"] == r.points[1]);
  CHECK(k2["epochs"].size() == 2);
  CHECK(fs::exists(tmp / "sweep/k_2/checkpoint.safetensors"));

  const SweepResult again = sweep_experiment(o, tmp / "sweep");  // finished: read back from sweep_point.json
  CHECK(again.points[1]["test_mse"] == r.points[1]["test_mse"]);
  CHECK(again.points[1]["distinct_train"] == r.points[1]["distinct_train"]);

  SweepOptions bad = o;
  bad.config["sweep"] = {{"no_such_key", 1}};
  CHECK(contains(error_of([&] { sweep_experiment(bad, tmp / "bad"); }), "no_such_key"));
}

TEST_CASE("read_sweep_section reads every key and refuses unknown ones and values out of range") {
  const SweepSettings s = read_sweep_section(
      {{"k", {3, 5}}, {"starts", 10}, {"max_iters", 7}, {"tol", 1e-4}, {"trajectory_fpr", false}});
  CHECK(s.k == std::vector<int64_t>{3, 5});
  CHECK(s.starts == 10);
  CHECK(s.max_iters == 7);
  CHECK(s.tol == 1e-4);
  CHECK_FALSE(s.trajectory_fpr);
  CHECK(contains(error_of([] { read_sweep_section({{"kk", 1}}); }), "unknown key 'kk'"));
  CHECK_THROWS(read_sweep_section({{"k", {0}}}));
  CHECK_THROWS(read_sweep_section({{"tol", -1}}));
}

TEST_CASE("memorization_record and records_csv: one record, named columns, NaN as null and nan") {
  MemorizationReport r;
  r.train.distinct = 3, r.train.converged = 9, r.train.starts = 10;
  r.memorization.mean = 0.5, r.memorization.std = 0.25;
  r.attractor_rank = 2;
  r.chamfer_noise_train = std::nan("");
  const nlohmann::json j = memorization_record(r);
  CHECK(j["distinct_train"] == 3);
  CHECK(j["starts_train"] == 10);
  CHECK(j["chamfer_noise_train"].is_null());
  CHECK(j["attractor_rank"] == 2);
  const std::string csv = records_csv({j, {{"distinct_train", 4}}}, {{"d", "distinct_train"}, {"m", "memorization_mean"},
                                                                    {"c", "chamfer_noise_train"}});
  CHECK(csv == "d,m,c\n3,0.5,nan\n4,nan,nan\n");
}
