// The Poisson-potential regularizer of paper 000 (regularizers/poisson.h): the potential of eq. 10 and its input
// gradient, the corruption normal of eq. 7, the terms of L_Pois and the eq. 8 objective, its gradient reaching
// the encoder (against finite differences), and its options. Green's function: test_green_function.cpp; the
// scores: test_score.cpp; Green's first identity on a grid: test_poisson_grid.cpp.
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <numbers>
#include <set>

#include "datasets/corruption.h"
#include "datasets/toy.h"
#include "models/optim.h"
#include "regularizers/poisson.h"
#include "regularizers/poisson_grid.h"
#include "regularizers/score.h"
#include "tests/helpers.h"
#include "tests/models_helpers.h"

using namespace gg;

namespace {


// A tiny f64 SiLU MLP autoencoder 2 -> 5 -> 3 -> 5 -> 2 (code dim 3 != input dim 2, so the chain rule matters).
AutoencoderConfig tiny_config(int64_t code_dim = 3) {
  AutoencoderConfig c;
  c.input_shape = {2};
  c.code_dim = code_dim;
  c.hidden = {5};
  c.activation = "silu";
  c.dtype = DType::f64;
  c.seed = 11;
  return c;
}

Tensor moons(int64_t n, uint64_t seed) {
  return two_moons(ToyOptions{.n = n, .noise = 0.1, .seed = seed}).x.to(DType::f64);
}

// An f32 tanh MLP autoencoder d -> h -> k with tanh codes (the bench's MNIST models are 784 -> 512 -> k).
AutoencoderConfig tanh_mlp(int64_t d, int64_t h, int64_t k) {
  AutoencoderConfig c;
  c.input_shape = {d};
  c.hidden = {h};
  c.code_dim = k;
  c.activation = "tanh";
  c.code_activation = "tanh";
  return c;
}

PoissonOptions small_options() {
  PoissonOptions o;
  o.quadrature_points = 5;
  o.source.method = "exact";
  o.kde_bandwidth = 0.3;
  return o;
}

std::vector<Tensor> encoder_parameters(Autoencoder& ae) {
  std::vector<Tensor> out;
  for (const auto& [name, p] : ae.named_parameters())
    if (name.rfind("encoder.", 0) == 0) out.push_back(p);
  return out;
}

// L_Pois as a function of the encoder's parameters (the decoder's kept), with every random draw fixed.
Function loss_of_encoder(Autoencoder& ae, const Tensor& x, const PoissonOptions& o, const ScoreFn& score = {}) {
  return [&ae, x, o, score](const std::vector<Tensor>& enc) {
    std::vector<Tensor> all = enc;
    for (const auto& [name, p] : ae.named_parameters())
      if (name.rfind("encoder.", 0) != 0) all.push_back(p.detach());
    return call_with_parameters(ae, all, [&] {
      Generator gen(3);
      return poisson_regularizer(ae, x, o, gen, score).loss;
    });
  };
}

}  // namespace

// ---- Eq. 10 and the chain rule -------------------------------------------------------------------------------

TEST_CASE("Poisson potential: eq. 10 sums and the input gradient J_f^T grad_z v") {
  Autoencoder ae(tiny_config());
  const Tensor x = moons(7, 1);
  const Tensor xq = moons(5, 2);
  PoissonOptions o = small_options();
  Generator gen(0);
  const PoissonQuadrature q = poisson_quadrature(ae, xq, o, gen);
  CHECK(q.rows.size() == 5);
  const PoissonPotential p = poisson_potential(ae, x, q, o);
  // Eq. 10 written out with green_function / green_gradient.
  const Tensor g = green_function(p.z, q.z, o.eps);    // [7, 5]
  const Tensor dg = green_gradient(p.z, q.z, o.eps);   // [7, 5, 3]
  CHECK(test::max_abs_diff(p.v, sum(g * reshape(q.s, {1, 5}), {1}) / 5.0) < 1e-12);
  CHECK(test::max_abs_diff(p.grad_z, sum(dg * reshape(q.s, {1, 5, 1}), {1}) / 5.0) < 1e-12);
  // The sources are s_phi = ||J_f||_F^2 of the quadrature points.
  const Tensor xl = xq.detach().requires_grad_();
  const Tensor jq = batch_jacobian(ae.encode(xl), xl);  // [5, 3, 2]
  CHECK(test::max_abs_diff(q.s, sum(square(jq), {1, 2})) < 1e-12);
  // The input gradient is J^T grad_z v per sample.
  const Tensor xe = x.detach().requires_grad_();
  const Tensor j = batch_jacobian(ae.encode(xe), xe);  // [7, 3, 2]
  const Tensor expect = sum(j * reshape(p.grad_z, {7, 3, 1}), {1});
  CHECK(test::max_abs_diff(p.grad_x, expect) < 1e-12);
  // A batch of at most M samples is used whole; a larger one gives M distinct rows, fixed by the seed.
  Generator g1(4), g2(4);
  const auto r1 = poisson_quadrature(ae, moons(9, 3), o, g1).rows;
  CHECK(r1 == poisson_quadrature(ae, moons(9, 3), o, g2).rows);
  CHECK(std::set<int64_t>(r1.begin(), r1.end()).size() == 5);
}

// ---- Eq. 7 ------------------------------------------------------------------------------------------------------

TEST_CASE("Poisson regularizer: the corruption normal n(x) of eq. 7 for noise, rotation and zoom") {
  const Tensor x = moons(16, 4);
  for (const char* spec : {"noise:0.1", "rotation:30", "zoom:0.2"}) {
    CAPTURE(spec);
    Generator gen(1);
    const Corrupted c = corrupt(x, parse_corruption(spec), gen);
    const auto n = corruption_normal(c.displacement, 1e-2).to_vector();
    const auto d = c.displacement.to_vector();
    for (size_t b = 0; b < 16; ++b) {
      const double dn = std::hypot(d[2 * b], d[2 * b + 1]);
      CHECK(n[2 * b] == doctest::Approx(d[2 * b] / (dn + 1e-2)).epsilon(1e-12));
      CHECK(n[2 * b + 1] == doctest::Approx(d[2 * b + 1] / (dn + 1e-2)).epsilon(1e-12));
      CHECK(std::hypot(n[2 * b], n[2 * b + 1]) < 1.0);
    }
  }
  // A sample that did not move gets n = 0, also with eps = 0.
  const auto n0 = corruption_normal(Tensor::zeros({2, 2}, DType::f64), 0.0).to_vector();
  for (double v : n0) CHECK(v == 0.0);
}

// ---- The regularizer ---------------------------------------------------------------------------------------------

TEST_CASE("Poisson regularizer: terms, L_Pois = flux - coupling, and the eq. 8 objective") {
  Autoencoder ae(tiny_config());
  const Tensor x = moons(8, 5);
  PoissonOptions o = small_options();
  Generator gen(3);
  const PoissonTerms t = poisson_regularizer(ae, x, o, gen);
  CHECK(t.quadrature.s.shape() == Shape{5});
  CHECK(t.clean.v.shape() == Shape{8});
  CHECK(t.clean.grad_z.shape() == Shape{8, 3});
  CHECK(t.clean.grad_x.shape() == Shape{8, 2});
  CHECK(t.grad_norm_corrupted.shape() == Shape{8});
  CHECK(t.loss.item() == doctest::Approx(t.flux.item() - t.coupling.item()).epsilon(1e-12));
  CHECK(t.source_mean.item() == doctest::Approx(mean(t.quadrature.s).item()).epsilon(1e-12));
  {  // Training asks for no values: the same loss and the same gradient, no v.
    Generator again(3);
    const PoissonTerms tn = poisson_regularizer(ae, x, o, again, {}, nullptr, /*values=*/false);
    CHECK((!tn.clean.v.defined() && !tn.corrupted.v.defined()));
    CHECK(tn.loss.item() == doctest::Approx(t.loss.item()).epsilon(1e-12));
    const std::vector<Tensor> ga = grad({t.loss}, ae.parameters(), {}, {.retain_graph = true});
    const std::vector<Tensor> gb = grad({tn.loss}, ae.parameters());
    for (size_t i = 0; i < ga.size(); ++i) CHECK(test::max_abs_diff(ga[i], gb[i]) < 1e-12);
  }
  // flux and coupling are the sample means of eq. 7 and eq. 13.
  CHECK(t.flux.item() == doctest::Approx(mean(sum(t.corrupted.grad_x * t.normal, {1})).item()).epsilon(1e-12));
  CHECK(t.coupling.item() == doctest::Approx(mean(sum(t.clean.grad_x * t.score, {1})).item()).epsilon(1e-12));
  // The built-in score is the KDE of the clean batch; a passed score overrides it; "none" drops the coupling.
  CHECK(test::max_abs_diff(t.score, kde_score(x, o.kde_bandwidth)(x)) < 1e-12);
  {
    Generator g2(3);
    const PoissonTerms t2 = poisson_regularizer(ae, x, o, g2, gaussian_mixture_score(default_gaussian_mixture()));
    CHECK(test::max_abs_diff(t2.score, default_gaussian_mixture().score(x)) < 1e-12);
    CHECK(t2.flux.item() == doctest::Approx(t.flux.item()).epsilon(1e-12));
    PoissonOptions none = o;
    none.score = "none";
    Generator g3(3);
    CHECK(poisson_regularizer(ae, x, none, g3).coupling.item() == 0.0);
  }
  // Eq. 8: reconstruction from Pi(x) + lambda L_Pois.
  o.lambda = 0.7;
  Generator g4(3);
  const PoissonObjective obj = poisson_objective(ae, x, o, g4);
  CHECK(obj.regularizer.item() == doctest::Approx(0.7 * t.loss.item()).epsilon(1e-12));
  CHECK(obj.reconstruction.item() == doctest::Approx(mse(ae(t.x_corrupted), x).item()).epsilon(1e-12));
  CHECK(obj.total.item() == doctest::Approx(obj.reconstruction.item() + obj.regularizer.item()).epsilon(1e-12));
  // Code-space gradients need m == d; with m == d they are used as they are.
  o.gradient = "code";
  Generator g5(3);
  CHECK(test::contains(test::error_of([&] { poisson_regularizer(ae, x, o, g5); }), "regularizer.gradient"));
  Autoencoder square_ae(tiny_config(2));
  Generator g6(3);
  const PoissonTerms tc = poisson_regularizer(square_ae, x, o, g6);
  CHECK(tc.flux.item() == doctest::Approx(mean(sum(tc.corrupted.grad_z * tc.normal, {1})).item()).epsilon(1e-12));
  // Without a graph every term is a plain value.
  PoissonOptions plain = small_options();
  plain.source.create_graph = false;
  Generator g7(3);
  const PoissonTerms tp = poisson_regularizer(ae, x, plain, g7);
  CHECK(!tp.loss.requires_grad());
  CHECK(tp.loss.item() == doctest::Approx(t.loss.item()).epsilon(1e-10));
}

TEST_CASE("Poisson regularizer: the gradient of L_Pois reaches every encoder parameter and matches finite differences") {
  const Tensor x = moons(8, 6);
  struct Case {
    const char* name;
    PoissonOptions options;
    ScoreFn score;
  };
  PoissonOptions rotation = small_options();
  rotation.corruption = "rotation:30";
  rotation.quadrature = "clean";
  PoissonOptions zoom = small_options();
  zoom.corruption = "zoom:0.2";
  zoom.quadrature_points = 256;  // all 8 samples
  PoissonOptions importance = small_options();
  importance.estimator = "importance";  // the weights 1 / q(z_j) move with the encoder too (Scott's rule's h)
  importance.quadrature_points = 6;
  PoissonOptions reused = small_options();
  reused.quadrature_points = 256;    // all 8 corrupted samples: their grad_x v from the source's Jacobian rows
  reused.source.route = "reverse";
  const std::vector<Case> cases = {
      {"noise, KDE score, M < B", small_options(), {}},
      {"rotation, mixture score, clean quadrature", rotation, gaussian_mixture_score(default_gaussian_mixture())},
      {"zoom, KDE score, M >= B", zoom, {}},
      {"noise, importance-weighted eq. 10", importance, {}},
      {"noise, M >= B, the source's Jacobian rows reused", reused, {}},
  };
  // A tanh code layer: every encoder parameter moves L_Pois. An identity code layer: all but the code layer's
  // bias, which only translates every code, and G, s_phi and J_f are all blind to a translation of the codes.
  for (const char* code_activation : {"tanh", "identity"}) {
    AutoencoderConfig config = tiny_config();
    config.code_activation = code_activation;
    Autoencoder ae(config);
    std::vector<Tensor> enc;
    for (const Tensor& p : encoder_parameters(ae)) enc.push_back(p.detach().clone().requires_grad_());
    REQUIRE(enc.size() == 4);  // encoder.1.weight, encoder.1.bias, encoder.3.weight, encoder.3.bias
    for (const Case& c : cases) {
      CAPTURE(code_activation);
      CAPTURE(std::string(c.name));
      const Function f = loss_of_encoder(ae, x, c.options, c.score);
      const std::vector<Tensor> g = grad({f(enc)}, enc);
      for (size_t k = 0; k < g.size(); ++k) {
        CAPTURE(k);
        if (std::string(code_activation) == "identity" && k == 3)
          CHECK(test::max_abs(g[k]) < 1e-10);  // translation invariance
        else
          CHECK(test::max_abs(g[k]) > 1e-4);
      }
      const auto r = gradcheck(f, enc, {.eps = 1e-6, .atol = 1e-6, .rtol = 1e-4});
      CHECK_MESSAGE(r.ok, r.message);
    }
  }
}

TEST_CASE("Poisson regularizer: grad v at the corrupted batch from the source's Jacobian rows equals its own pass") {
  // With the whole corrupted batch as quadrature points and the exact source by reverse, grad_x v there is
  // J^T grad_z v from the rows the source computed; the loop route keeps no rows, so that batch is encoded
  // and differentiated again. The two must give the same terms, loss and gradient. (The Ritz estimator's
  // implicit gradient through the reused rows is checked against finite differences in test_ritz.cpp, whose
  // converged solve has d = m = 2 and M = B, so the reverse route, and gives the same numbers by every route.
  // With the default options here the solve is not converged, and there the loop and forward routes,
  // neither of which reuses anything, already differed by up to 0.03 in the gradient.)
  Autoencoder ae(tiny_config());
  const Tensor x = moons(8, 9);
  PoissonOptions o = small_options();
  o.quadrature_points = 256;
  for (const char* estimator : {"paper", "importance"}) {
    CAPTURE(std::string(estimator));
    o.estimator = estimator;
    auto run = [&](const char* route) {
      PoissonOptions r = o;
      r.source.route = route;
      Generator gen(4);
      return poisson_regularizer(ae, x, r, gen);
    };
    const PoissonTerms reused = run("reverse"), own = run("loop");
    CHECK(reused.quadrature.jacobian_rows.defined());
    CHECK(!own.quadrature.jacobian_rows.defined());
    CHECK(test::max_abs_diff(reused.corrupted.grad_x, own.corrupted.grad_x) < 1e-12);
    CHECK(test::max_abs_diff(reused.corrupted.v, own.corrupted.v) < 1e-12);
    CHECK(reused.loss.item() == doctest::Approx(own.loss.item()).epsilon(1e-12));
    const std::vector<Tensor> ga = grad({reused.loss}, ae.parameters());
    const std::vector<Tensor> gb = grad({own.loss}, ae.parameters());
    for (size_t i = 0; i < ga.size(); ++i) CHECK(test::max_abs_diff(ga[i], gb[i]) < 1e-11);
  }
}

TEST_CASE(
    "Poisson regularizer: in f32 with 32-wide codes every source route gives the f64 loss and gradient") {
  // The corrupted batch is the quadrature set, so each corrupted code meets itself in eq. 10, where
  // g1(eps^2) = 1 / (|S^31| eps^32) is 7e35 at eps = 0.1 and its derivative's factor beyond f32: the pair's 0
  // times that was NaN, and where the batch was encoded a second time (the gram, forward and loop routes) the
  // two codes' rounding difference times that factor was all of grad v. The pair's term is left out
  // (green_quadrature's self pairs), so every route gives the f64 numbers.
  AutoencoderConfig c = tanh_mlp(12, 10, 32);
  c.dtype = DType::f64;
  c.seed = 5;
  Autoencoder ref(c);
  c.dtype = DType::f32;
  Autoencoder ae(c);  // the same seed: the same weights, rounded to f32
  for (size_t i = 0; i < ref.parameters().size(); ++i)
    REQUIRE(test::max_abs_diff(ae.parameters()[i].to(DType::f64), ref.parameters()[i]) < 1e-6);
  Generator data_gen(9);
  const Tensor x = Tensor::rand({24, 12}, data_gen, DType::f64) * 4.0 - 2.0;
  PoissonOptions o;
  o.eps = 0.1;
  o.corruption = "noise:1.0";  // clean and corrupted codes far enough apart for f32 at this eps
  o.quadrature_points = 24;
  o.source.method = "exact";
  o.kde_bandwidth = 1.0;
  auto run = [&](Autoencoder& model, const Tensor& batch, const char* route) {
    PoissonOptions r = o;
    r.source.route = route;
    Generator gen(4);
    const PoissonTerms t = poisson_regularizer(model, batch, r, gen);
    std::vector<double> out = {t.loss.item(), t.flux.item(), t.coupling.item()};
    for (const Tensor& g : grad({t.loss}, model.parameters())) {
      const std::vector<double> v = g.to_vector();
      out.insert(out.end(), v.begin(), v.end());
    }
    return out;
  };
  const std::vector<double> want = run(ref, x, "reverse");
  double size = 0;
  for (size_t i = 3; i < want.size(); ++i) size = std::max(size, std::abs(want[i]));
  REQUIRE(size > 0);
  for (const char* route : {"reverse", "gram", "forward", "loop"}) {
    CAPTURE(std::string(route));
    const std::vector<double> got = run(ae, x.to(DType::f32), route);
    CHECK(got[0] == doctest::Approx(want[0]).epsilon(1e-3));  // L_Pois
    CHECK(got[1] == doctest::Approx(want[1]).epsilon(1e-3));  // flux
    double diff = 0;
    for (size_t i = 3; i < want.size(); ++i) diff = std::max(diff, std::abs(got[i] - want[i]));
    CHECK(diff < 1e-3 * size);
  }
}

TEST_CASE(
    "Poisson regularizer: an eps at which the kernel overflows the codes' dtype is refused, naming the key") {
  CHECK(smallest_kernel_eps(2, DType::f32) ==
        doctest::Approx(1.0 / std::sqrt(2 * std::numbers::pi * 3.4028235e38)));
  // 1 / (|S^31| eps^32) = f32's largest value at the smallest eps.
  const double e32 = smallest_kernel_eps(32, DType::f32);
  CHECK(1.0 / (unit_sphere_area(32) * std::pow(e32, 32)) == doctest::Approx(3.4028235e38).epsilon(1e-6));
  CHECK(e32 == doctest::Approx(0.0825).epsilon(1e-2));
  CHECK(smallest_kernel_eps(128, DType::f32) == doctest::Approx(1.36).epsilon(1e-2));
  CHECK(smallest_kernel_eps(32, DType::f64) < 1e-8);
  AutoencoderConfig c = tiny_config(32);
  c.dtype = DType::f32;
  Autoencoder ae(c);
  PoissonOptions o = small_options();
  o.eps = 0.05;
  Generator gen(1);
  CHECK_THROWS_WITH_AS(
      poisson_regularizer(ae, moons(8, 3).to(DType::f32), o, gen),
      doctest::Contains("regularizer.eps: 0.05 is below 0.0825, the smallest at which eq. 10's "
                        "kernel stays finite for 32-wide codes in f32"),
      Error);
  o.eps = 0.1;
  CHECK(std::isfinite(poisson_regularizer(ae, moons(8, 3).to(DType::f32), o, gen).loss.item()));
}

TEST_CASE("Poisson importance weights: 1 / q(z_j) of a Gaussian kernel density, its bandwidth, named refusals") {
  // Four 1-D codes in two clusters and h = 0.5: q(z_j) = (1/4) sum_k exp(-(z_j - z_k)^2 / (2 h^2)) / sqrt(2 pi h^2).
  const std::vector<double> codes = {0.0, 0.2, 3.0, 3.3};
  const double n = 4;
  auto kernel = [](double a, double b, double h) {
    return std::exp(-(a - b) * (a - b) / (2 * h * h)) / std::sqrt(2 * std::numbers::pi * h * h);
  };
  auto expected = [&](double h) {
    std::vector<double> w;
    for (double zj : codes) {
      double q = 0;
      for (double zk : codes) q += kernel(zj, zk, h) / n;
      w.push_back(1 / q);
    }
    return w;
  };
  const Tensor z = Tensor::from_data(codes, {4, 1}, DType::f64);
  const std::vector<double> w = inverse_density_weights(z, 0.5).to_vector();
  for (size_t j = 0; j < 4; ++j) CHECK(w[j] == doctest::Approx(expected(0.5)[j]).epsilon(1e-12));
  // h = 0: the candidate of largest leave-one-out likelihood among Scott's rule h = sd n^(-1/(m+4)) (sd with
  // n - 1) times 2^(-i/2), i = 0..8.
  double mean = 0, sq = 0;
  for (double v : codes) mean += v / n;
  for (double v : codes) sq += (v - mean) * (v - mean);
  const double scott = std::sqrt(sq / (n - 1)) * std::pow(n, -1.0 / 5.0);
  double best_h = 0, best = -INFINITY;
  for (int i = 0; i <= 8; ++i) {
    const double h = scott * std::pow(2.0, -0.5 * i);
    double loo = 0;
    for (size_t j = 0; j < 4; ++j) {
      double q = 0;
      for (size_t k = 0; k < 4; ++k)
        if (k != j) q += kernel(codes[j], codes[k], h) / (n - 1);
      loo += std::log(q);
    }
    if (loo > best) best = loo, best_h = h;
  }
  CHECK(best_h < scott / 2);  // two clusters are better fitted by a much narrower kernel than Scott's
  const std::vector<double> ws = inverse_density_weights(z, 0.0).to_vector();
  for (size_t j = 0; j < 4; ++j) CHECK(ws[j] == doctest::Approx(expected(best_h)[j]).epsilon(1e-12));
  // In 32 dimensions the kernel alone would underflow; the log-space weights stay finite and positive.
  Generator gen(4);
  const std::vector<double> wide = inverse_density_weights(Tensor::randn({64, 32}, gen, DType::f64), 0.0).to_vector();
  for (double v : wide) CHECK((std::isfinite(v) && v > 0));
  CHECK(test::contains(test::error_of([&] { inverse_density_weights(Tensor::zeros({4, 2}, DType::f64), 0.0); }),
                       "no spread; set a bandwidth"));
  // A very wide kernel in 32 dimensions: (2 pi h^2)^16 with h = 1e10 is e^766, past f64's largest number.
  CHECK(test::contains(test::error_of([&] { inverse_density_weights(Tensor::randn({4, 32}, gen, DType::f64), 1e10); }),
                       "beyond f64"));
}

TEST_CASE("smoothed_source: (1/M) sum_j K_h(a - z_j) w_j s_j by hand, gradcheck and gradgradcheck in f64") {
  // Three 1-D codes, h = 0.5: the kernel sum written out.
  const std::vector<double> codes = {0.0, 0.4, 2.0}, ws = {1.0, 2.0, 0.5}, at = {-0.3, 0.7, 1.5};
  const double h = 0.5;
  const std::vector<double> got =
      smoothed_source(Tensor::from_data(at, {3, 1}, DType::f64), Tensor::from_data(codes, {3, 1}, DType::f64),
                      Tensor::from_data(ws, {3}, DType::f64), h)
          .to_vector();
  for (size_t i = 0; i < at.size(); ++i) {
    double expected = 0;
    for (size_t j = 0; j < codes.size(); ++j)
      expected += std::exp(-(at[i] - codes[j]) * (at[i] - codes[j]) / (2 * h * h)) /
                  std::sqrt(2 * std::numbers::pi * h * h) * ws[j] / 3;
    CHECK(got[i] == doctest::Approx(expected).epsilon(1e-12));
  }
  CHECK(density_bandwidth(Tensor::from_data(codes, {3, 1}, DType::f64), h) == h);
  // Differentiable in the points, the codes and the weighted sources (the Ritz box energy's phi-dependence).
  Generator gen(8);
  const std::vector<Tensor> inputs = {Tensor::randn({4, 2}, gen, DType::f64).requires_grad_(),
                                      Tensor::randn({5, 2}, gen, DType::f64).requires_grad_(),
                                      Tensor::rand({5}, gen, DType::f64).requires_grad_()};
  const Function f = [](const std::vector<Tensor>& in) {
    return sum(smoothed_source(in[0], in[1], in[2], 0.7));
  };
  const auto first = gradcheck(f, inputs);
  CHECK_MESSAGE(first.ok, first.message);
  const auto second = gradgradcheck(f, inputs);
  CHECK_MESSAGE(second.ok, second.message);
  CHECK(test::contains(
      test::error_of([&] { smoothed_source(inputs[0], inputs[1], Tensor::ones({4}, DType::f64), 0.7); }),
      "smoothed_source: expected one value per code, [5]"));
}

TEST_CASE("Poisson regularizer: the source s_phi keeps its graph, and L_Pois depends on it") {
  Autoencoder ae(tiny_config());
  const Tensor x = moons(8, 7);
  Generator gen(3);
  const PoissonTerms t = poisson_regularizer(ae, x, small_options(), gen);
  REQUIRE(t.quadrature.s.requires_grad());
  REQUIRE(!t.quadrature.s.is_leaf());
  // d s_phi / d phi is nonzero on every encoder weight and hidden bias (the code bias does not enter J_f).
  const std::vector<Tensor> ds = grad({sum(t.quadrature.s)}, encoder_parameters(ae), {}, {.retain_graph = true});
  for (size_t k = 0; k < 3; ++k) CHECK(test::max_abs(ds[k]) > 1e-6);
  // d L_Pois / d s_j is nonzero: the loss reaches phi through the source, not only through the codes.
  const Tensor dl_ds = grad(t.loss, t.quadrature.s, Tensor(), {.retain_graph = true});
  CHECK(test::max_abs(dl_ds) > 1e-6);
  // And the part of dL/dphi that flows through s is not negligible: compare with the source detached.
  const std::vector<Tensor> full = grad({t.loss}, encoder_parameters(ae), {}, {.retain_graph = true});
  const PoissonPotential clean = poisson_potential(ae, x, {t.quadrature.rows, t.quadrature.x, t.quadrature.z,
                                                           t.quadrature.s.detach()}, small_options());
  const PoissonPotential corrupted = poisson_potential(ae, t.x_corrupted, {t.quadrature.rows, t.quadrature.x,
                                                       t.quadrature.z, t.quadrature.s.detach()}, small_options());
  const Tensor detached = boundary_flux(corrupted.grad_x, t.normal) - score_coupling(t.score, clean.grad_x);
  CHECK(detached.item() == doctest::Approx(t.loss.item()).epsilon(1e-12));
  const std::vector<Tensor> partial = grad({detached}, encoder_parameters(ae));
  double diff = 0;
  for (size_t k = 0; k < full.size(); ++k) diff = std::max(diff, test::max_abs_diff(full[k], partial[k]));
  CHECK(diff > 1e-6);
}

TEST_CASE("Poisson objective: two short trainings on two moons that differ only in lambda end with different weights") {
  const Tensor x = moons(64, 8);
  auto train = [&](double lambda) {
    AutoencoderConfig c = tiny_config(2);
    c.hidden = {8};
    Autoencoder ae(c);
    PoissonOptions o;
    o.lambda = lambda;
    o.quadrature_points = 32;
    o.source.method = "exact";
    Adam opt(ae.parameters(), {.lr = 1e-2});
    double first = 0, last = 0;
    for (int step = 0; step < 5; ++step) {
      Generator gen(100 + static_cast<uint64_t>(step));
      const PoissonObjective obj = poisson_objective(ae, x, o, gen);
      REQUIRE(std::isfinite(obj.total.item()));
      (step == 0 ? first : last) = obj.total.item();
      opt.step(grad({obj.total}, ae.parameters()));
    }
    std::vector<Tensor> enc;
    for (const Tensor& p : encoder_parameters(ae)) enc.push_back(p.detach().clone());
    return enc;
  };
  const auto plain = train(0.0);
  const auto regularized = train(1.0);
  double diff = 0;
  for (size_t k = 0; k < plain.size(); ++k) diff = std::max(diff, test::max_abs_diff(plain[k], regularized[k]));
  CHECK(diff > 1e-4);
}

// ---- Options --------------------------------------------------------------------------------------------------

TEST_CASE(
    "Poisson options: the source's auto takes one probe above 8-wide codes, and a config's source object "
    "overrides that key by key") {
  CHECK(PoissonOptions{}.source.auto_max_width == 8);
  CHECK(PenaltyOptions{}.auto_max_width == 64);  // the contractive penalty keeps its own
  auto parse = [](const char* text) { return nlohmann::json::parse(text).get<PoissonOptions>(); };
  CHECK(parse(R"({"source": {"method": "auto"}})").source.auto_max_width == 8);
  CHECK(parse(R"({"source": {"probes": 4}})").source.auto_max_width == 8);
  CHECK(parse(R"({"source": {"probes": 4}})").source.probes == 4);
  CHECK(parse(R"({"source": {"auto_max_width": 64}})").source.auto_max_width == 64);
  CHECK(parse(R"({})").source.auto_max_width == 8);
  // What auto resolves to: MNIST's 784-512-32 MLP (B = 128) takes one probe for the Poisson step and the
  // exact Gram route for the contractive penalty; an 8-wide code and two moons' 2-wide one stay exact.
  AutoencoderConfig mnist = tanh_mlp(784, 512, 32);
  CHECK(contractive_cost(mnist, 128, PoissonOptions{}.source).plan.method == "hutchinson");
  CHECK(contractive_cost(mnist, 128, PenaltyOptions{}).plan.method == "exact");
  mnist.code_dim = 8;
  CHECK(contractive_cost(mnist, 128, PoissonOptions{}.source).plan.method == "exact");
  CHECK(contractive_cost(tiny_config(2), 128, PoissonOptions{}.source).plan.method == "exact");
}

TEST_CASE("Poisson options: JSON round trip and refusals naming the key") {
  PoissonOptions o;
  o.lambda = 0.5;
  o.eps = 0.05;
  o.quadrature_points = 64;
  o.corruption = "rotation:30";
  o.gradient = "code";
  o.source.method = "hutchinson";
  o.source.probes = 4;
  nlohmann::json j = o;
  CHECK(j["kind"] == "poisson");
  const PoissonOptions back = j.get<PoissonOptions>();
  CHECK(nlohmann::json(back) == j);
  CHECK(back.source.probes == 4);
  // A training config's regularizer object.
  const auto parsed = nlohmann::json::parse(R"({"kind": "poisson", "lambda": 0.2, "corruption": "zoom:0.2"})")
                          .get<PoissonOptions>();
  CHECK(parsed.lambda == 0.2);
  CHECK(parsed.quadrature_points == 256);
  CHECK(parsed.eps == 1e-2);
  auto refusal = [](const char* text) {
    return test::error_of([&] { nlohmann::json::parse(text).get<PoissonOptions>(); });
  };
  CHECK(test::contains(refusal(R"({"lamda": 1})"), "'lamda'"));
  CHECK(test::contains(refusal(R"({"kind": "contractive"})"), "regularizer.kind"));
  CHECK(test::contains(refusal(R"({"eps": -1})"), "regularizer.eps"));
  CHECK(test::contains(refusal(R"({"eps": "small"})"), "regularizer.eps"));
  CHECK(test::contains(refusal(R"({"quadrature_points": 0})"), "regularizer.quadrature_points"));
  CHECK(test::contains(refusal(R"({"quadrature_points": 2.5})"), "regularizer.quadrature_points"));
  CHECK(test::contains(refusal(R"({"corruption": "blur:1"})"), "regularizer.corruption"));
  CHECK(test::contains(refusal(R"({"gradient": "latent"})"), "regularizer.gradient"));
  CHECK(test::contains(refusal(R"({"score": "oracle"})"), "regularizer.score"));
  CHECK(test::contains(refusal(R"({"kde_bandwidth": 0})"), "regularizer.kde_bandwidth"));
  CHECK(test::contains(refusal(R"({"lambda": -0.1})"), "regularizer.lambda"));
  CHECK(test::contains(refusal(R"({"source": {"method": "magic"}})"), "regularizer.source.method"));
  CHECK(test::contains(refusal(R"({"source": {"probes": 0}})"), "regularizer.source.probes"));
  CHECK(test::contains(refusal(R"({"source": {"probs": 2}})"), "'probs'"));
  CHECK(test::contains(refusal(R"([1, 2])"), "regularizer"));
  CHECK(test::contains(refusal(R"({"estimator": "galerkin"})"), "regularizer.estimator"));
  CHECK(test::contains(refusal(R"({"density_bandwidth": -1})"), "regularizer.density_bandwidth"));
  CHECK(nlohmann::json::parse(R"({"estimator": "importance"})").get<PoissonOptions>().estimator == "importance");
  CHECK(nlohmann::json::parse(R"({"estimator": "ritz"})").get<PoissonOptions>().estimator == "ritz");
}

