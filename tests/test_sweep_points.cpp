// A sweep split into its steps (experiments/sweep.h): planned into a folder, its points run one at a time in
// any order (as Slurm array tasks run them), collected into the same table as a sweep run in one go; and the
// sbatch script that submits the points (experiments/slurm.h). tests/slurm_sweep.sh runs it on a real Slurm.
#include <filesystem>
#include <fstream>
#include <iterator>

#include "experiments/slurm.h"
#include "experiments/sweep.h"
#include "tests/experiments_helpers.h"

using namespace gg;
using namespace gg::test;
namespace fs = std::filesystem;

namespace {

SweepOptions tiny_sweep(std::vector<int64_t> k) {
  SweepOptions o;
  o.config = tiny_train_options(2).config;
  o.sets = tiny_train_options(2).sets;
  o.k = std::move(k);
  o.max_iters = 200;
  o.starts = 16;
  return o;
}

// The numbers of a point, wall times aside.
nlohmann::json without_times(nlohmann::json point) {
  point.erase("train_seconds");
  point.erase("dynamics_seconds");
  return point;
}

}  // namespace

TEST_CASE("a sweep run point by point, in reverse, collects to the same numbers as one run in a single process") {
  TempDir tmp;
  const SweepOptions o = tiny_sweep({1, 2, 3});
  const SweepResult whole = sweep_experiment(o, tmp / "whole");

  const SweepPlan plan = plan_sweep(o, tmp / "split");
  REQUIRE(plan.size() == 3);
  CHECK(unfinished_points(plan) == std::vector<size_t>{0, 1, 2});
  CHECK(contains(error_of([&] { collect_sweep(plan); }), "k_1, k_2, k_3"));
  const SweepPlan saved = read_sweep_plan(tmp / "split");  // what a task in another process reads
  CHECK(saved.config == plan.config);
  CHECK(saved.config["sweep"]["k"] == nlohmann::json({1, 2, 3}));  // the flags are folded into the file
  CHECK(saved.config["sweep"]["starts"] == 16);
  run_sweep_point(saved, 2);
  CHECK(unfinished_points(saved) == std::vector<size_t>{0, 1});
  CHECK(contains(error_of([&] { collect_sweep(saved); }), "(k_1, k_2)"));
  run_sweep_point(saved, 0);
  run_sweep_point(saved, 1);
  CHECK(unfinished_points(saved).empty());
  CHECK(contains(error_of([&] { run_sweep_point(saved, 3); }), "point 3 does not exist"));

  const SweepResult split = collect_sweep(read_sweep_plan(tmp / "split"));
  REQUIRE(split.points.size() == 3);
  for (size_t i = 0; i < 3; ++i) CHECK(without_times(split.points[i]) == without_times(whole.points[i]));
  CHECK(read_csv(tmp / "split/sweep.csv").size() == 3);

  // A finished point is read back, not trained again: its checkpoint is not rewritten.
  const auto written = fs::last_write_time(tmp / "split/k_2/checkpoint.safetensors");
  CHECK(run_sweep_point(saved, 1) == split.points[1]);
  CHECK(fs::last_write_time(tmp / "split/k_2/checkpoint.safetensors") == written);
  // A different config in the same folder is a different point: not finished.
  SweepOptions longer = o;
  longer.sets.push_back("training.epochs=3");
  CHECK(unfinished_points(plan_sweep(longer, tmp / "split")).size() == 3);
  // More starts measure the same models again from their checkpoints: nothing is trained again, and the
  // training time stays the one measured when it was trained.
  SweepOptions more = o;
  more.starts = 24;
  const SweepPlan remeasure = plan_sweep(more, tmp / "split");
  CHECK(unfinished_points(remeasure).size() == 3);
  const nlohmann::json again = run_sweep_point(remeasure, 1);
  CHECK(again["starts_train"] == 24);
  CHECK(again["test_mse"] == split.points[1]["test_mse"]);
  CHECK(again["train_seconds"] == split.points[1]["train_seconds"]);
  CHECK(fs::last_write_time(tmp / "split/k_2/checkpoint.safetensors") == written);
  CHECK(unfinished_points(remeasure) == std::vector<size_t>{0, 2});
  CHECK(unfinished_points(plan_sweep(o, tmp / "split")) == std::vector<size_t>{1});  // and back again
  CHECK(contains(error_of([&] { read_sweep_plan(tmp / "nothing"); }), "sweep_config.json is missing"));
}

TEST_CASE("a sweep over k and seeds: one point per pair, k outermost, each seed its own model and its own row") {
  TempDir tmp;
  SweepOptions o = tiny_sweep({1, 2});
  o.seeds = {3, 5};
  const SweepPlan plan = plan_sweep(o, tmp / "s");
  REQUIRE(plan.size() == 4);
  CHECK(plan.point_name(0) == "k_1_seed_3");
  CHECK(plan.point_name(1) == "k_1_seed_5");
  CHECK(plan.point_name(2) == "k_2_seed_3");
  CHECK(plan.point_config(3)["seed"] == 5);
  CHECK(plan.point_config(3)["model"]["code_dim"] == 2);
  CHECK(contains(error_of([&] { plan.point_name(4); }), "point 4 does not exist"));
  CHECK(tiny_sweep({1}).config.value("seed", 0) != 3);  // the grid's seed, not the config's, reaches the model

  const SweepResult r = sweep_experiment(o, tmp / "s");
  REQUIRE(r.points.size() == 4);
  for (size_t i = 0; i < 4; ++i) {
    CHECK(r.points[i]["k"] == plan.point_k(i));
    CHECK(r.points[i]["seed"] == plan.point_seed(i));
    CHECK(fs::exists(plan.point_dir(i) + "/checkpoint.safetensors"));
    CHECK(r.metrics.contains(plan.point_name(i)));
  }
  CHECK(r.points[0]["test_mse"] != r.points[1]["test_mse"]);  // another seed, another model
  const auto rows = read_csv(tmp / "s/sweep.csv");
  REQUIRE(rows.size() == 4);
  CHECK(rows[1].at("seed") == "5");

  CHECK(contains(error_of([] { read_sweep_section({{"seeds", {-1}}}); }), "sweep.seeds: -1 is not a seed >= 0"));
  CHECK(contains(error_of([] { read_sweep_section({{"seeds", nlohmann::json::array()}}); }), "non-empty list"));
}

TEST_CASE("a sweep over training-set sizes (Figure 13) and the field of its k = 2 models over a fixed box (Figure 1)") {
  TempDir tmp;
  SweepOptions grid = tiny_sweep({1, 2});  // the order of a three-axis grid: k, then the size, then the seed
  grid.seeds = {0, 1};
  grid.config["sweep"] = {{"train_sizes", {32, 64}}};
  const SweepPlan three = plan_sweep(grid, tmp / "grid");
  REQUIRE(three.size() == 8);
  CHECK(three.point_name(0) == "k_1_n_32_seed_0");
  CHECK(three.point_name(3) == "k_1_n_64_seed_1");
  CHECK(three.point_name(5) == "k_2_n_32_seed_1");
  CHECK(three.point_config(6)["data"]["limit"] == 64);
  CHECK(three.point_config(6)["model"]["code_dim"] == 2);
  CHECK(three.point_config(6)["seed"] == 0);
  CHECK(three.point_config(6)["training"]["epochs"] == 2);
  grid.config["sweep"]["same_steps"] = true;  // the smaller set gets twice the epochs: as many steps
  CHECK(plan_sweep(grid, tmp / "grid").point_config(0)["training"]["epochs"] == 4);
  CHECK(plan_sweep(grid, tmp / "grid").point_config(6)["training"]["epochs"] == 2);
  grid.config["sweep"].erase("same_steps");

  SweepOptions o = tiny_sweep({2});
  o.config["sweep"] = {{"train_sizes", {48, 160}}, {"field_box", 3}, {"field_grid", 8}};
  const SweepResult r = sweep_experiment(o, tmp / "n");
  const SweepPlan plan = read_sweep_plan(tmp / "n");
  REQUIRE(r.points.size() == 2);
  CHECK(plan.point_name(1) == "k_2_n_160");
  CHECK(r.points[0]["train_size"] == 48);  // data.limit reached the Trainer
  CHECK(r.points[1]["train_size"] == 160);
  CHECK(r.points[0]["test_mse"] != r.points[1]["test_mse"]);
  const auto rows = read_csv(tmp / "n/sweep.csv");
  REQUIRE(rows.size() == 2);
  CHECK(rows[1].at("train_size") == "160");
  for (size_t i = 0; i < 2; ++i) {
    const auto field = read_csv(plan.point_dir(i) + "/dynamics/field_trained.csv");
    REQUIRE(field.size() == 64);  // 8 x 8 cells over [-3, 3]^2, the codes themselves (k = 2)
    CHECK(std::stod(field.front().at("p0")) == doctest::Approx(-3 + 0.375));
    CHECK(std::stod(field.back().at("p1")) == doctest::Approx(3 - 0.375));
    CHECK(r.points[i]["field_grid"]["x_max"] == 3.0);
    CHECK(read_csv(plan.point_dir(i) + "/dynamics/codes_trained.csv").size() == 16);  // the training starts
    CHECK(fs::exists(plan.point_dir(i) + "/dynamics/attractors_trained.csv"));
  }
  // Without field_box, no field is sampled.
  CHECK_FALSE(fs::exists(tmp / "grid/k_2_n_32_seed_0/dynamics"));

  CHECK(contains(error_of([] { read_sweep_section({{"train_sizes", {1}}}); }),
                 "sweep.train_sizes: 1 is not a training-set size >= 2"));
  CHECK(contains(error_of([] { read_sweep_section({{"field_box", -1}}); }), "sweep.field_box: expected a half-width"));
  CHECK(contains(error_of([] { read_sweep_section({{"field_grid", 1}}); }), "sweep.field_grid"));
  CHECK(contains(error_of([] { read_sweep_section({{"same_steps", true}}); }), "goes with sweep.train_sizes"));
}

TEST_CASE("the sbatch script: one array task per unfinished point, the section's resources, threads per CPU") {
  TempDir tmp;
  SweepOptions o = tiny_sweep({4, 8, 16});
  o.slurm = {{"partition", "short"}, {"cpus_per_task", 3}, {"mem", "2G"}};
  o.config["sweep"] = {{"slurm", {{"time", "00:20:00"}, {"sbatch", {"--qos=low"}}, {"partition", "long"}}}};
  const SweepPlan plan = plan_sweep(o, tmp / "s");
  const std::string script = sbatch_script(plan, {0, 2}, "/opt/gradgrad's bin/gradgrad");
  for (const char* line : {"#SBATCH --array=0,2\n", "#SBATCH --cpus-per-task=3\n", "#SBATCH --time=00:20:00\n",
                           "#SBATCH --partition=short\n", "#SBATCH --mem=2G\n", "#SBATCH --qos=low\n",
                           "/s/slurm/%A_%a.out\n"})
    CHECK_MESSAGE(contains(script, line), line);
  CHECK(contains(script, "exec '/opt/gradgrad'\\''s bin/gradgrad' --threads \"${SLURM_CPUS_PER_TASK:-3}\" sweep "
                         "--out '" + plan.out + "' --point \"$SLURM_ARRAY_TASK_ID\"\n"));
  CHECK_FALSE(contains(script, "--account"));

  const SlurmSubmission dry = submit_sweep_to_slurm(plan, "/bin/gradgrad", true);
  CHECK(dry.points == std::vector<size_t>{0, 1, 2});
  CHECK(dry.job_id.empty());
  CHECK(fs::exists(dry.script));
  CHECK(fs::is_directory(tmp / "s/slurm"));
  std::ifstream written(dry.script);
  CHECK(contains(std::string(std::istreambuf_iterator<char>(written), {}), "#SBATCH --array=0,1,2\n"));

  CHECK(contains(error_of([] { read_sweep_section({{"slurm", {{"nodes", 2}}}}); }),
                 "sweep.slurm: unknown key 'nodes'"));
  CHECK(contains(error_of([] { read_sweep_section({{"slurm", {{"sbatch", {"-N 2\n#x"}}}}}); }), "sweep.slurm.sbatch"));
  CHECK(contains(error_of([] { read_sweep_section({{"k", {2, 2}}}); }), "listed twice"));
}
