// gradgrad poisson-check (experiments/poisson_check.h): every estimator of paper 000's potential against the
// grid solution, from a shipped config, small enough for the suite; its files, its table and its refusals.
#include <filesystem>
#include <fstream>
#include <set>

#include "datasets/toy.h"
#include "experiments/output.h"
#include "experiments/poisson_check.h"
#include "tests/cli_helpers.h"
#include "tests/models_helpers.h"

using namespace gg;
using gg::test::contains;
using gg::test::error_of;
namespace fs = std::filesystem;

namespace {

const std::vector<std::string> kSmall = {
    "--grid",        "24", "--samples", "256",        "--ritz-steps", "60",
    "--cost-epochs", "1",  "--set",     "data.n=256", "--set",        "regularizer.quadrature_points=64"};

std::string joined(const std::vector<std::string>& words) {
  std::string out;
  for (const std::string& w : words) out += " " + w;
  return out;
}

}  // namespace

TEST_CASE("gradgrad poisson-check on the shipped mixture config: the table, its files and its figures") {
  const fs::path out = fs::temp_directory_path() / "gg_poisson_check";
  fs::remove_all(out);
  const std::string config = std::string(GG_SOURCE_DIR) + "/configs/gaussian_mixture/poisson.json";
  const test::Outcome o =
      test::gradgrad("poisson-check --config " + config + " --out " + out.string() + joined(kSmall));
  INFO(o.output);
  REQUIRE(o.status == 0);
  CHECK(contains(o.output, "ritz_box"));
  for (const char* file : {"poisson_check.json", "poisson_check.csv", "potentials.csv", "run.json",
                           "poisson_check.png", "poisson_check_errors.png", "report.html"})
    CHECK_MESSAGE(fs::exists(out / file), file);
  const nlohmann::json check = read_json_file((out / "poisson_check.json").string());
  CHECK(check["data"] == "gaussian-mixture");
  CHECK(check["grid"]["n"] == 24);
  std::set<std::string> names;
  for (const auto& row : check["estimators"]) {
    names.insert(row["estimator"].get<std::string>());
    // Each row's split and residual are what the identity says they are.
    CHECK(row["green_residual"].get<double>() ==
          doctest::Approx(check["grid"]["R"].get<double>() - row["flux_minus_coupling"].get<double>())
              .epsilon(1e-9));
    const bool trained = !row["training_name"].is_null();
    CHECK(row["ms_per_step"].is_null() != trained);  // each training estimator has its cost, the others none
    if (trained) CHECK(row["cost_vs_plain"].get<double>() > 0);
  }
  CHECK(names == std::set<std::string>{"grid", "paper", "importance", "ritz", "ritz_box", "ritz_omega",
                                       "ritz_oracle", "weighted"});
  CHECK(check["estimators"][0]["v_error"] == 0);  // the grid row is the reference
  // potentials.csv: one row per node, a column per potential.
  std::ifstream nodes(out / "potentials.csv");
  std::string header, line;
  std::getline(nodes, header);
  CHECK(header ==
        "x0,x1,p,s,v_grid,v_paper,v_weighted,v_importance,v_ritz,v_ritz_box,v_ritz_omega,v_ritz_oracle");
  int rows = 0;
  while (std::getline(nodes, line)) ++rows;
  CHECK(rows == 25 * 25);
  fs::remove_all(out);
}

TEST_CASE("poisson-check refuses a config it cannot check, naming why") {
  const fs::path out = fs::temp_directory_path() / "gg_poisson_check_refused";
  PoissonCheckOptions o;
  o.config_path = std::string(GG_SOURCE_DIR) + "/configs/two_moons/plain.json";
  CHECK(contains(error_of([&] { poisson_check_experiment(o, out.string()); }), "no \"poisson\" term"));
  o.config_path = std::string(GG_SOURCE_DIR) + "/configs/spiral/poisson.json";
  CHECK(contains(error_of([&] { poisson_check_experiment(o, out.string()); }),
                 "data.name must be \"two-moons\" or \"gaussian-mixture\", got \"spiral\""));
  o.config_path = std::string(GG_SOURCE_DIR) + "/configs/two_moons/poisson.json";
  o.grid = 4;
  CHECK(contains(error_of([&] { poisson_check_experiment(o, out.string()); }), "--grid must be >= 8"));
  fs::remove_all(out);
}

TEST_CASE("two_moons_density is the density two_moons draws from, affine_image maps a mixture's density") {
  const GaussianMixture moons = two_moons_density(0.1);
  moons.validate();
  // The data's mean log-density under the mixture equals the mixture's own samples' (the entropy), which it
  // would not if the curves or the noise differed.
  const Tensor data = two_moons(ToyOptions{.n = 8000, .noise = 0.1, .seed = 1}).x.to(DType::f64);
  const double on_data = mean(moons.log_density(data)).item();
  const double own = mean(moons.log_density(moons.sample(8000, 2).x.to(DType::f64))).item();
  MESSAGE("mean log p: two_moons samples " << on_data << ", the mixture's own " << own);
  CHECK(on_data == doctest::Approx(own).epsilon(0.02));
  const double shifted = mean(moons.log_density(data + 0.3)).item();
  CHECK(shifted < on_data - 0.5);  // a moved copy does not fit
  // p'(y) = p(shift + scale y) prod(scale) for y = (x - shift) / scale.
  const GaussianMixture mapped = affine_image(moons, {0.5, 0.25}, {0.8, 0.5});
  const Tensor x = Tensor::from_data(std::vector<double>{0.2, 0.9, 1.1, -0.3}, {2, 2}, DType::f64);
  const Tensor y = (x - Tensor::from_data(std::vector<double>{0.5, 0.25}, {1, 2}, DType::f64)) /
                   Tensor::from_data(std::vector<double>{0.8, 0.5}, {1, 2}, DType::f64);
  const std::vector<double> lp = moons.log_density(x).to_vector(), lq = mapped.log_density(y).to_vector();
  for (size_t i = 0; i < lp.size(); ++i)
    CHECK(lq[i] == doctest::Approx(lp[i] + std::log(0.8 * 0.5)).epsilon(1e-12));
  CHECK(contains(error_of([] { two_moons_density(0); }), "noise must be > 0"));
  CHECK(contains(error_of([&] { affine_image(moons, {0}, {1}); }), "needs 2 shifts and scales"));
}
