// The Ritz estimator of paper 000's potential (regularizers/ritz.h): its options, that the fitted v_theta
// solves eq. 4 where the answer is known, that the implicit gradient equals finite differences of L_Pois
// through a converged inner solve, and that a divergence skips the step and is counted, never zeroed
// silently.
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "datasets/toy.h"
#include "models/training.h"
#include "regularizers/poisson.h"
#include "regularizers/regularizer.h"
#include "regularizers/ritz.h"
#include "tests/helpers.h"
#include "tests/models_helpers.h"

using namespace gg;
using gg::test::contains;
using gg::test::error_of;

namespace {

// A tiny f64 SiLU MLP autoencoder 2 -> 5 -> 2 -> 5 -> 2.
AutoencoderConfig tiny_ritz_config() {
  AutoencoderConfig c;
  c.input_shape = {2};
  c.code_dim = 2;
  c.hidden = {5};
  c.activation = "silu";
  c.dtype = DType::f64;
  c.seed = 11;
  return c;
}

// A two-moons training config (f64, 64 samples, batches of 32) whose regularizer is the Ritz estimator with
// these ritz options.
nlohmann::json ritz_training_config(int64_t epochs, const nlohmann::json& ritz) {
  return {{"seed", 7},
          {"data", {{"name", "two-moons"}, {"n", 64}, {"test_n", 16}}},
          {"model", {{"hidden", {8}}, {"code_dim", 2}, {"activation", "silu"}, {"dtype", "f64"}}},
          {"training", {{"epochs", epochs}, {"batch_size", 32}}},
          {"regularizer",
           {{{"kind", "poisson"},
             {"lambda", 0.1},
             {"quadrature_points", 16},
             {"estimator", "ritz"},
             {"ritz", ritz}}}}};
}

}  // namespace

TEST_CASE("Ritz options: a config round trip, and every bad value refused by its path") {
  PoissonOptions o;
  o.estimator = "ritz";
  o.ritz.hidden = 7;
  o.ritz.newton_steps = 2;
  nlohmann::json j = o;
  const PoissonOptions back = j.get<PoissonOptions>();
  CHECK(back.estimator == "ritz");
  CHECK(back.ritz.hidden == 7);
  CHECK(back.ritz.newton_steps == 2);
  auto refusal = [](const nlohmann::json& ritz) {
    return error_of([&] {
      nlohmann::json{{"kind", "poisson"}, {"estimator", "ritz"}, {"ritz", ritz}}.get<PoissonOptions>();
    });
  };
  CHECK(contains(refusal({{"mu", 0}}), "regularizer.ritz.mu: must be a finite number > 0"));
  CHECK(contains(refusal({{"hidden", 0}}), "regularizer.ritz.hidden"));
  CHECK(contains(refusal({{"dirichlet", -1}}), "regularizer.ritz.dirichlet"));
  CHECK(contains(refusal({{"hiden", 8}}), "hiden"));
  CHECK(contains(refusal({{"fit_layers", "first"}}),
                 "regularizer.ritz.fit_layers: must be \"all\" or \"last\""));
  CHECK(contains(refusal({{"lr", "fast"}}), "regularizer.ritz.lr: expected a number"));
}

TEST_CASE("Ritz potential solves eq. 4 where the answer is known: v'' = 1 + mu v on [-1, 1], v(+-1) = 0") {
  // Landmarks evenly on [-1, 1] (uniform, so unweighted), s = 1, the boundary {-1, 1}. The energy's minimizer
  // solves v'' - mu v = 1 with v(+-1) = 0: v(z) = -1/mu + cosh(sqrt(mu) z) / (mu cosh(sqrt(mu))).
  const int64_t m = 101;
  std::vector<double> grid;
  for (int64_t i = 0; i < m; ++i)
    grid.push_back(-1.0 + 2.0 * static_cast<double>(i) / static_cast<double>(m - 1));
  RitzProblem problem;
  problem.z = Tensor::from_data(grid, {m, 1}, DType::f64);
  problem.s = Tensor::ones({m}, DType::f64);
  problem.z_boundary = Tensor::from_data(std::vector<double>{-1.0, 1.0}, {2, 1}, DType::f64);
  RitzOptions o;
  o.hidden = 16;
  o.mu = 0.5;
  o.dirichlet = 100;  // the penalty leaves v(+-1) ~ 0.004 (stiffer, and Adam oscillates at this lr)
  auto worst_error = [&](RitzPotential& potential) {
    const std::vector<double> v = potential.value(problem.z).to_vector();
    const double root = std::sqrt(o.mu);
    double worst = 0;
    for (int64_t i = 0; i < m; ++i) {
      const double exact = -1 / o.mu + std::cosh(root * grid[i]) / (o.mu * std::cosh(root));
      worst = std::max(worst, std::abs(v[i] - exact));
    }
    return worst;
  };
  SUBCASE("every layer fitted by Adam, then warm starts") {
    o.first_steps = 3000;
    o.lr = 1e-2;
    RitzPotential potential(o);
    const RitzReport report = potential.fit(problem);
    CHECK_FALSE(report.diverged);
    CHECK(report.steps == 3000);
    CHECK_FALSE(potential.fresh());
    const double worst = worst_error(potential);
    MESSAGE("Ritz 1-D, all layers, 3000 Adam steps: max |v - v_exact| = " << worst << " (|v| at most 0.43)");
    CHECK(worst < 0.01);
    CHECK(potential.fit(problem).steps == o.steps);  // the next fit is warm: options.steps
  }
  SUBCASE("the output layer fitted by Newton: the exact minimizer over random features") {
    o.fit_layers = "last";
    o.first_steps = 1;
    o.newton_steps = 2;
    o.cg_iterations = 100;
    o.cg_tolerance = 1e-12;
    o.damping = 0;
    RitzPotential potential(o);
    const RitzReport report = potential.fit(problem);
    CHECK(potential.parameters().size() == 2);  // the output layer's weight and bias
    CHECK(report.gradient_norm < 1e-5);
    const double worst = worst_error(potential);
    const double boundary = std::abs(potential.value(problem.z_boundary).to_vector()[0]);
    MESSAGE("Ritz 1-D, output layer, Newton: max |v - v_exact| = " << worst << ", |v(-1)| = " << boundary);
    CHECK(worst < 0.006);
    CHECK(worst < 1.5 * boundary);  // what is left is the penalty's boundary error
  }
}

TEST_CASE(
    "Ritz estimator: the implicit gradient equals finite differences of L_Pois through a converged solve") {
  Autoencoder ae(tiny_ritz_config());
  const Tensor x = two_moons(ToyOptions{.n = 12, .noise = 0.1, .seed = 5}).x.to(DType::f64);
  PoissonOptions o;
  o.estimator = "ritz";
  o.quadrature_points = 12;
  o.source.method = "exact";
  o.kde_bandwidth = 0.3;
  o.density_bandwidth = 0.5;  // a fixed bandwidth: the weights are smooth in phi
  o.ritz.hidden = 8;
  o.ritz.fit_layers = "last";  // E quadratic in theta: a unique theta*(phi), which Newton reaches exactly
  o.ritz.first_steps = 1;
  o.ritz.steps = 0;
  o.ritz.newton_steps = 2;
  o.ritz.cg_iterations = 50;
  o.ritz.cg_tolerance = 1e-13;
  o.ritz.damping = 0;
  o.ritz.mu = 1;
  o.ritz.dirichlet = 1;
  RitzPotential potential(o.ritz);
  std::vector<Tensor> enc, rest;
  for (const auto& [name, p] : ae.named_parameters())
    (name.rfind("encoder.", 0) == 0 ? enc : rest)
        .push_back(p.detach().clone().requires_grad_(name.rfind("encoder.", 0) == 0));
  auto terms_at = [&](const std::vector<Tensor>& e, PoissonTerms* out) {
    std::vector<Tensor> all = e;
    all.insert(all.end(), rest.begin(), rest.end());
    return call_with_parameters(ae, all, [&] {
      Generator gen(3);
      *out = poisson_regularizer(ae, x, o, gen, {}, &potential);
      return out->loss;
    });
  };
  PoissonTerms t;
  const Tensor loss = terms_at(enc, &t);
  REQUIRE_FALSE(t.ritz.diverged);
  CHECK(t.ritz.gradient_norm < 1e-9);  // converged
  CHECK(t.ritz.cg_converged);
  CHECK(loss.item() ==
        doctest::Approx((t.flux - t.coupling).item()).epsilon(1e-14));  // the correction's value is 0
  // The implicit gradient against central differences, every encoder parameter, each solve warm from the
  // last.
  const Function f = [&](const std::vector<Tensor>& e) {
    PoissonTerms ignored;
    return terms_at(e, &ignored);
  };
  const auto r = gradcheck(f, enc, {.eps = 1e-6, .atol = 1e-7, .rtol = 1e-5});
  CHECK_MESSAGE(r.ok, r.message);
  // Without the correction (L's partial gradient at fixed theta) the gradient is wrong: the correction
  // matters.
  terms_at(enc, &t);
  const std::vector<Tensor> implicit = grad({t.loss}, enc, {}, {.retain_graph = true});
  const std::vector<Tensor> partial = grad({t.flux - t.coupling}, enc);
  double difference = 0, size = 0;
  for (size_t k = 0; k < enc.size(); ++k) {
    difference = std::max(difference, test::max_abs_diff(implicit[k], partial[k]));
    size = std::max(size, test::max_abs(implicit[k]));
  }
  MESSAGE("Ritz implicit gradient: max |implicit - partial| = " << difference
                                                                << ", max |implicit| = " << size);
  CHECK(difference > 0.05 * size);
}

TEST_CASE("Ritz estimator: a divergence skips the step's L_Pois, counts it, and starts theta afresh") {
  Autoencoder ae(tiny_ritz_config());
  const Tensor x = two_moons(ToyOptions{.n = 16, .noise = 0.1, .seed = 5}).x.to(DType::f64);
  PoissonOptions o;
  o.estimator = "ritz";
  o.source.method = "exact";
  o.ritz.first_steps = 3;
  o.ritz.divergence = 1e-30;  // any energy is "beyond" it
  RitzPotential potential(o.ritz);
  Generator gen(1);
  const PoissonTerms t = poisson_regularizer(ae, x, o, gen, {}, &potential);
  CHECK(t.ritz.diverged);
  CHECK(contains(t.ritz.reason, "inner step 1"));
  CHECK(t.loss.item() == 0);
  CHECK_FALSE(t.loss.requires_grad());
  CHECK(potential.skipped() == 1);
  CHECK(potential.fresh());
  // A good solve is not skipped, and its loss carries a gradient.
  o.ritz.divergence = 1e8;
  RitzPotential healthy(o.ritz);
  const PoissonTerms ok = poisson_regularizer(ae, x, o, gen, {}, &healthy);
  CHECK_FALSE(ok.ritz.diverged);
  CHECK(std::isfinite(ok.loss.item()));
  CHECK(ok.loss.requires_grad());
  CHECK(healthy.skipped() == 0);
}

TEST_CASE("Ritz estimator in training: a skipped step is counted in the epoch's record and in metrics.json") {
  const nlohmann::json config = ritz_training_config(1, {{"first_steps", 2}, {"divergence", 1e-30}});
  Trainer trainer(config, make_regularizer_loss);
  const EpochRecord r = trainer.train_epoch();
  CHECK(r.skipped_steps.at("poisson") == 2);  // both batches: every inner energy is "beyond" 1e-30
  CHECK(r.regularizers.at("poisson") == 0);
  CHECK(std::isfinite(r.loss));
  const nlohmann::json j = r;
  CHECK(j.at("skipped_steps").at("poisson") == 2);
  CHECK(j.get<EpochRecord>().skipped_steps == r.skipped_steps);
  // A healthy run records no skips, and its records keep their old keys.
  nlohmann::json healthy = config;
  healthy["regularizer"][0]["ritz"]["divergence"] = 1e8;
  Trainer ok(healthy, make_regularizer_loss);
  const EpochRecord fine = ok.train_epoch();
  CHECK(fine.skipped_steps.empty());
  CHECK(fine.regularizers.at("poisson") != 0);
  CHECK_FALSE(nlohmann::json(fine).contains("skipped_steps"));
}

TEST_CASE(
    "Ritz box boundary: the box, its points, the exact zero on its faces, and a training step through it") {
  const Tensor z = Tensor::from_data(std::vector<double>{0, 0, 2, 1, 1, 3}, {3, 2}, DType::f64);
  const CodeBox box = code_box(z, 0.5);  // [0, 2] x [0, 3] widened by half the extent on each side
  CHECK(box.lo == std::vector<double>{-1, -1.5});
  CHECK(box.hi == std::vector<double>{3, 4.5});
  CHECK(box.volume() == doctest::Approx(24));
  Generator a(4), b(4);
  const std::vector<double> in = box.interior(50, a, z).to_vector(),
                            again = box.interior(50, b, z).to_vector();
  CHECK(in == again);  // deterministic in the generator
  for (size_t i = 0; i < in.size(); i += 2)
    CHECK((in[i] >= -1 && in[i] <= 3 && in[i + 1] >= -1.5 && in[i + 1] <= 4.5));
  CHECK(contains(error_of([&] {
                   code_box(Tensor::from_data(std::vector<double>{1, 2}, {2}, DType::f64), 0.1);
                 }),
                 "code_box: expected codes [N, m]"));
  // The envelope makes v exactly 0 on the faces and outside, whatever theta.
  RitzOptions o;
  o.boundary = "box";
  RitzPotential potential(o);
  potential.prepare(z);
  potential.set_box(box);
  const Tensor faces = Tensor::from_data(std::vector<double>{-1, 0, 3, 2, 1, -1.5, 0.5, 4.5, -1, 4.5}, {5, 2},
                                         DType::f64);  // a point on each face, and a corner
  for (double x : potential.value(faces).to_vector()) CHECK(x == 0);
  CHECK(potential.value(Tensor::from_data(std::vector<double>{10, 10}, {1, 2}, DType::f64)).item() == 0);
  CHECK(potential.value(Tensor::from_data(std::vector<double>{1, 1}, {1, 2}, DType::f64)).item() != 0);
  // The box needs the weights (its source is a density of s).
  PoissonOptions unweighted;
  unweighted.estimator = "ritz";
  unweighted.ritz.boundary = "box";
  unweighted.ritz.weighted = false;
  CHECK(contains(error_of([&] {
                   nlohmann::json j = unweighted;
                   j.get<PoissonOptions>();
                 }),
                 "regularizer.ritz.weighted"));
  // A training step with it: finite, differentiable, not skipped.
  Autoencoder ae(tiny_ritz_config());
  const Tensor x = two_moons(ToyOptions{.n = 16, .noise = 0.1, .seed = 5}).x.to(DType::f64);
  PoissonOptions p;
  p.estimator = "ritz";
  p.source.method = "exact";
  p.ritz.boundary = "box";
  p.ritz.box_points = 64;
  p.ritz.first_steps = 20;
  RitzPotential fitted(p.ritz);
  Generator gen(2);
  const PoissonTerms t = poisson_regularizer(ae, x, p, gen, {}, &fitted);
  CHECK_FALSE(t.ritz.diverged);
  CHECK(std::isfinite(t.loss.item()));
  CHECK(t.loss.requires_grad());
  const std::vector<Tensor> g = grad({t.loss}, ae.parameters());
  double norm = 0;
  for (const Tensor& gi : g)
    if (gi.defined()) norm += sum(square(gi)).item();
  CHECK(std::isfinite(norm));
  CHECK(norm > 0);
}

TEST_CASE(
    "Ritz estimator: a run resumed from its checkpoint continues to the numbers of an uninterrupted run") {
  for (const std::string boundary : {"corrupted", "box"}) {
    CAPTURE(boundary);
    const nlohmann::json config =
        ritz_training_config(4, {{"first_steps", 10}, {"boundary", boundary}, {"box_points", 32}});
    Trainer straight(config, make_regularizer_loss);
    for (int e = 0; e < 4; ++e) straight.train_epoch();
    const std::string path =
        (std::filesystem::temp_directory_path() / ("gg_ritz_resume_" + boundary)).string();
    Trainer first(config, make_regularizer_loss);
    first.train_epoch(), first.train_epoch();
    first.save_checkpoint(path);
    Trainer second(config, make_regularizer_loss);
    second.resume(path);
    second.train_epoch(), second.train_epoch();
    CHECK(second.history().back().loss == straight.history().back().loss);
    CHECK(second.history().back().regularizers.at("poisson") ==
          straight.history().back().regularizers.at("poisson"));
    const std::vector<Tensor> a = second.model().parameters(), b = straight.model().parameters();
    for (size_t k = 0; k < a.size(); ++k) CHECK(test::max_abs_diff(a[k], b[k]) == 0);
    std::filesystem::remove(path);
  }
  // A state that does not fit is refused by name.
  RitzPotential p;
  p.prepare(Tensor::zeros({3, 2}, DType::f64));
  NamedTensors state = p.save_state();
  CHECK(state.size() > 3);
  RitzPotential q;
  q.load_state(state);
  CHECK(test::max_abs_diff(q.value(Tensor::ones({2, 2}, DType::f64)),
                           p.value(Tensor::ones({2, 2}, DType::f64))) == 0);
  state.erase(state.begin());
  CHECK(contains(error_of([&] {
                   RitzPotential r;
                   r.load_state(state);
                 }),
                 "ritz: the saved state has no tensor"));
}

TEST_CASE("Ritz estimator: its gradient is the implicit derivative only once the inner solve has converged") {
  // docs/poisson.md quotes the MESSAGE. With every layer of v_theta fitted (the default) the energy has flat
  // directions, and the gradient after the default solve (200 annealed Adam steps, CG to 1e-4) moves by more
  // than its own size when the solve runs longer. With the output layer alone fitted and Newton steps, the
  // minimizer is unique and the gradient does not depend on how many Adam steps came first.
  Autoencoder ae(tiny_ritz_config());
  const Tensor x = two_moons(ToyOptions{.n = 12, .noise = 0.1, .seed = 5}).x.to(DType::f64);
  auto gradient = [&](const PoissonOptions& o) {
    RitzPotential potential(o.ritz);
    Generator gen(3);
    const PoissonTerms t = poisson_regularizer(ae, x, o, gen, {}, &potential);
    REQUIRE_FALSE(t.ritz.diverged);
    std::vector<double> g;
    for (const Tensor& p : grad({t.loss}, ae.parameters()))
      for (double v : p.to_vector()) g.push_back(v);
    return g;
  };
  auto norm = [](const std::vector<double>& a) {
    double s = 0;
    for (double v : a) s += v * v;
    return std::sqrt(s);
  };
  auto relative_difference = [&](const std::vector<double>& a, const std::vector<double>& b) {
    std::vector<double> d(a.size());
    for (size_t i = 0; i < a.size(); ++i) d[i] = a[i] - b[i];
    return norm(d) / norm(b);
  };
  PoissonOptions o;  // the problem of the finite-difference case above, with the default inner solve
  o.estimator = "ritz";
  o.quadrature_points = 12;
  o.source.method = "exact";
  o.kde_bandwidth = 0.3;
  o.density_bandwidth = 0.5;
  o.ritz.hidden = 8;
  o.ritz.mu = 1;
  o.ritz.dirichlet = 1;
  auto with_steps = [&](PoissonOptions p, int64_t first_steps) {
    p.ritz.first_steps = first_steps;
    p.ritz.cg_iterations = 500;
    p.ritz.cg_tolerance = 1e-10;
    return p;
  };
  const std::vector<double> by_default = gradient(o), longer = gradient(with_steps(o, 4000)),
                            longest = gradient(with_steps(o, 12000));
  MESSAGE("every layer fitted: |g| = "
          << norm(by_default) << " after the default solve, " << norm(longer) << " after 4000 steps, "
          << norm(longest)
          << " after 12000; |g_200 - g_4000| / |g_4000| = " << relative_difference(by_default, longer)
          << ", |g_4000 - g_12000| / |g_12000| = " << relative_difference(longer, longest));
  for (double v : by_default) CHECK(std::isfinite(v));
  o.ritz.fit_layers = "last";
  o.ritz.newton_steps = 2;
  o.ritz.damping = 0;
  const std::vector<double> newton_short = gradient(with_steps(o, 1)),
                            newton_long = gradient(with_steps(o, 200));
  MESSAGE(
      "output layer by Newton: |g_1 - g_200| / |g_200| = " << relative_difference(newton_short, newton_long));
  CHECK(relative_difference(newton_short, newton_long) < 1e-5);
}
