// The dynamics metrics on hand-computed cases: AUROC and FPR95 (ties included), the trajectory-distance and
// k-NN OOD scores, the memorization coefficient, attractor rank and variance ratio, OMP's exact recovery and
// the orthonormal baseline; then a smoke test of the whole toolkit on tiny trained and untrained
// autoencoders.
#include <algorithm>
#include <cmath>

#include "datasets/toy.h"
#include "dynamics/attractors.h"
#include "dynamics/memorization.h"
#include "dynamics/ood.h"
#include "dynamics/probe.h"
#include "dynamics/spectrum.h"
#include "models/optim.h"
#include "tests/helpers.h"

using namespace gg;

namespace {

bool all_finite(const std::vector<double>& v) {
  for (double x : v)
    if (!std::isfinite(x)) return false;
  return true;
}

}  // namespace

TEST_CASE("AUROC (Mann-Whitney, ties 1/2) and FPR at 95% TPR on hand-computed score lists") {
  // Every OOD score above every ID score but one pair: 11 of the 12 pairs are ordered.
  CHECK(auroc({0.1, 0.2, 0.3, 0.4}, {0.35, 0.5, 0.6}) == doctest::Approx(11.0 / 12));
  // Ties: ood 2 beats id 1 and ties two 2s (1 + 2 * 0.5); ood 3 beats 1, 2, 2 and ties 3 (3.5); ood 4 beats
  // all.
  CHECK(auroc({1, 2, 2, 3}, {2, 3, 4}) == doctest::Approx(9.5 / 12));
  CHECK(auroc({1, 1}, {1, 1, 1}) == doctest::Approx(0.5));
  CHECK(auroc({5, 6}, {1, 2}) == doctest::Approx(0));
  CHECK(auroc({1, 2}, {5, 6}) == doctest::Approx(1));

  std::vector<double> id;
  for (int i = 1; i <= 20; ++i) id.push_back(i);
  // 95% of 20 ID scores is 19: tau = 19; OOD 5 and 19 (a tie) fall at or below it.
  CHECK(fpr_at_tpr(id, {5, 19, 19.5, 20, 25}) == doctest::Approx(0.4));
  CHECK(fpr_at_tpr({1, 2, 3, 4}, {4, 4.5}) == doctest::Approx(0.5));  // ceil(3.8) = 4: tau = 4
  CHECK(fpr_at_tpr({1, 2, 3, 4}, {2, 2.5, 9}, 0.5) == doctest::Approx(1.0 / 3));
  CHECK(fpr_at_tpr({1, 2, 3}, {0, 10}, 1.0) == doctest::Approx(0.5));
  const OodMetrics m = ood_metrics({0.1, 0.2, 0.3, 0.4}, {0.35, 0.5, 0.6});
  CHECK(m.auroc == doctest::Approx(11.0 / 12));
  CHECK(m.fpr95 == doctest::Approx(1.0 / 3));  // ceil(3.8) = 4: tau = 0.4, and OOD 0.35 lies below it
  CHECK(m.n_id == 4);
  CHECK(m.n_ood == 3);
  CHECK_THROWS_AS(auroc({}, {1}), Error);
  CHECK_THROWS_AS(fpr_at_tpr({1}, {std::nan("")}), Error);
}

TEST_CASE("Trajectory-distance score (section 4.2) and the k-NN baseline on a 1-D contraction") {
  const LatentMap half = [](const Tensor& z) { return z * 0.5; };
  IterateOptions o;
  o.tol = 0.3;  // steps 2, 1, 0.5: squared 4, 1, 0.25 -> stops after three maps at z = 0.5
  const Tensor z0 = Tensor::from_data({4}, {1, 1}, DType::f64);
  const TrajectoryScores s =
      trajectory_distance_scores(half, z0, Tensor::from_data({0, 10}, {2, 1}, DType::f64), o);
  REQUIRE(s.score.size() == 1);
  CHECK(s.iterations[0] == 3);
  CHECK(s.outcome[0] == IterOutcome::converged);
  CHECK(s.score[0] == doctest::Approx((4 + 2 + 1 + 0.5) / 4.0));  // path 4, 2, 1, 0.5 to the attractor 0
  CHECK(s.path_distance[0] == std::vector<double>{4, 2, 1, 0.5});
  CHECK(s.final_distance[0] == doctest::Approx(0.5));
  CHECK(s.nearest_attractor[0] == 0);
  // Against {-1, 3}: distances 1, 1, 2, 1.5.
  const TrajectoryScores t =
      trajectory_distance_scores(half, z0, Tensor::from_data({-1, 3}, {2, 1}, DType::f64), o);
  CHECK(t.score[0] == doctest::Approx((1 + 1 + 2 + 1.5) / 4.0));
  CHECK(t.nearest_attractor[0] == 0);

  // Two paths of different lengths: from 4 (4, 2, 1, 0.5) and from 1 (1, 0.5: one map, whose step 0.5
  // squared is under 0.3). At t >= 2 the short path holds its last distance, 0.5.
  const TrajectoryScores two = trajectory_distance_scores(half, Tensor::from_data({4, 1}, {2, 1}, DType::f64),
                                                          Tensor::from_data({0, 10}, {2, 1}, DType::f64), o);
  CHECK(two.path_distance[1] == std::vector<double>{1, 0.5});
  const PathDistanceProfile p = path_distance_profile(two);
  CHECK(p.median == std::vector<double>{2.5, 1.25, 0.75, 0.5});
  // Two samples: the median is their mean.
  CHECK(p.mean == p.median);
  CHECK(p.q25 == std::vector<double>{1.75, 0.875, 0.625, 0.5});  // a quarter of the way between them
  CHECK(p.q75 == std::vector<double>{3.25, 1.625, 0.875, 0.5});
  CHECK(p.moving == std::vector<int64_t>{2, 1, 1, 0});
  // The score is the mean of the sample's own path, not of the profile.
  CHECK(two.score[1] == doctest::Approx(0.75));
  CHECK_THROWS_AS(path_distance_profile(TrajectoryScores{}), Error);

  const SetDistances d = distance_to_set(Tensor::from_data({0, 0, 3, 4}, {2, 2}, DType::f64),
                                         Tensor::from_data({3, 0, 100, 100}, {2, 2}, DType::f64));
  CHECK(d.distance[0] == doctest::Approx(3));
  CHECK(d.distance[1] == doctest::Approx(4));
  CHECK(d.nearest == std::vector<int64_t>{0, 0});

  const Tensor ref = Tensor::from_data({0, 1, 2, 3, 10}, {5, 1}, DType::f64);
  const Tensor q = Tensor::from_data({0.5, 20}, {2, 1}, DType::f64);
  const std::vector<double> k2 = knn_scores(q, ref, 2), k3 = knn_scores(q, ref, 3),
                            kall = knn_scores(q, ref, 99);
  CHECK(k2[0] == doctest::Approx(0.5));
  CHECK(k3[0] == doctest::Approx((0.5 + 0.5 + 1.5) / 3));
  CHECK(k2[1] == doctest::Approx((10 + 17) / 2.0));
  CHECK(kall[0] == doctest::Approx((0.5 + 0.5 + 1.5 + 2.5 + 9.5) / 5));

  const std::vector<OodSampleRow> rows = ood_rows("a,\"b\"", true, s, {7.5});
  REQUIRE(rows.size() == 1);
  CHECK(ood_csv_header() ==
        "set,index,in_distribution,trajectory_score,knn_score,final_distance,nearest_attractor,iterations,"
        "converged");
  CHECK(ood_csv_line(rows[0]) == "\"a,\"\"b\"\"\",0,1,1.875,7.5,0.5,0,3,1");
  CHECK(ood_csv_line(ood_rows("x", false, s)[0]) == "x,0,0,1.875,nan,0.5,0,3,1");
}

TEST_CASE("Memorization coefficient, attractor rank and variance ratio on constructed cases") {
  // Training samples e1, e2, e1 + e2; decoded attractors 2 e1 (cos 1 with e1), e1 + e2 (cos 1 with sample 2),
  // e1 + e3 (cos 1/sqrt(2) with e1, 0 with e2, 1/2 with e1 + e2).
  const Tensor train = Tensor::from_data({1, 0, 0, 0, 1, 0, 1, 1, 0}, {3, 3}, DType::f64);
  const Tensor decoded = Tensor::from_data({2, 0, 0, 1, 1, 0, 1, 0, 1}, {3, 3}, DType::f64);
  const MemorizationCoefficient m = memorization_coefficient(decoded, train);
  const double r = std::sqrt(0.5);
  REQUIRE(m.per_attractor.size() == 3);
  CHECK(m.per_attractor[0] == doctest::Approx(1));
  CHECK(m.per_attractor[1] == doctest::Approx(1));
  CHECK(m.per_attractor[2] == doctest::Approx(r));
  CHECK(m.nearest == std::vector<int64_t>{0, 2, 0});
  const double mean = (2 + r) / 3;
  CHECK(m.mean == doctest::Approx(mean));
  CHECK(m.std == doctest::Approx(std::sqrt((2 * (1 - mean) * (1 - mean) + (r - mean) * (r - mean)) / 3)));
  // Images work the same, flattened per sample.
  CHECK(memorization_coefficient(reshape(decoded, {3, 1, 3, 1}), reshape(train, {3, 3, 1})).nearest ==
        m.nearest);

  // Four points (+-3, 0, 0), (0, +-0.5, 0): variances 6 and 1/6 along the axes: one axis explains 97%.
  const Tensor cross = Tensor::from_data({3, 0, 0, -3, 0, 0, 0, 0.5, 0, 0, -0.5, 0}, {4, 3}, DType::f64);
  CHECK(attractor_rank(cross, 0.9) == 1);
  CHECK(attractor_rank(cross, 0.99) == 2);
  CHECK(attractor_rank(Tensor::ones({1, 3}, DType::f64)) == 1);

  const Tensor x = test::input({50, 4}, 9).detach();
  CHECK(variance_ratio([](const Tensor& v) { return v * 0.5 + 1.0; }, x) == doctest::Approx(0.25));
  CHECK(variance_ratio([](const Tensor& v) { return sum(v, {1}, true) * 0.0; }, x) == 0);
}

TEST_CASE("OMP recovers a sparse combination exactly, the orthonormal baseline reconstructs in order") {
  // 100 atoms in R^64 of different norms; y uses three of them.
  Generator gen(21);
  const std::vector<double> g = Tensor::randn({100, 64}, gen, DType::f64).to_vector();
  std::vector<double> dict(g.size());
  for (size_t i = 0; i < g.size(); ++i) dict[i] = g[i] * (0.5 + double(i / 64 % 7));
  const Tensor dictionary = Tensor::from_data(dict, {100, 64}, DType::f64);
  std::vector<double> y(64, 0.0);
  const std::vector<std::pair<int64_t, double>> truth = {{3, 2.0}, {47, -1.5}, {88, 0.7}};
  for (auto [atom, c] : truth)
    for (int64_t j = 0; j < 64; ++j) y[size_t(j)] += c * dict[size_t(atom * 64 + j)];
  const OmpResult r = omp(dictionary, Tensor::from_data(y, {64}, DType::f64), 10);
  REQUIRE(r.atoms.size() == 3);  // stops once the residual vanishes
  for (auto [atom, c] : truth) {
    const auto at = std::find(r.atoms.begin(), r.atoms.end(), atom);
    REQUIRE(at != r.atoms.end());
    CHECK(r.coefficients[size_t(at - r.atoms.begin())] == doctest::Approx(c).epsilon(1e-10));
  }
  CHECK(r.residual_norms.size() == 4);
  CHECK(r.residual_norms.back() < 1e-10 * r.residual_norms.front());
  for (size_t s = 1; s < r.residual_norms.size(); ++s) CHECK(r.residual_norms[s] <= r.residual_norms[s - 1]);

  // A random orthonormal basis: B B^T = I, and OMP picks coordinates by decreasing |coefficient|.
  const Tensor basis = random_orthonormal_basis(4, 5);
  CHECK(test::max_abs_diff(matmul(basis, basis, false, true), eye(4, DType::f64)) < 1e-12);
  CHECK(test::max_abs_diff(random_orthonormal_basis(4, 5), basis) == 0);  // seeded
  CHECK(test::max_abs_diff(random_orthonormal_basis(4, 6), basis) > 1e-3);
  const Tensor coef = Tensor::from_data({1, -3, 0.5, 2}, {1, 4}, DType::f64);
  const Tensor target = matmul(coef, basis);  // sum_i c_i b_i
  const OmpResult o = omp(basis, target, 4);
  CHECK(o.atoms == std::vector<int64_t>{1, 3, 0, 2});
  const std::vector<double> expect = {std::sqrt(14.25), std::sqrt(5.25), std::sqrt(1.25), 0.5, 0};
  for (size_t s = 0; s < 4; ++s) CHECK(o.residual_norms[s] == doctest::Approx(expect[s]));
  CHECK(o.residual_norms[4] < 1e-12);
  const std::vector<Tensor> recon = omp_reconstructions(basis, concat({target, target * 2.0}, 0), {1, 2, 8});
  REQUIRE(recon.size() == 3);
  CHECK(test::max_abs_diff(slice(recon[0], 0, 0, 1),
                           matmul(Tensor::from_data({0, -3, 0, 0}, {1, 4}, DType::f64), basis)) < 1e-12);
  CHECK(test::max_abs_diff(slice(recon[1], 0, 1, 2),
                           matmul(Tensor::from_data({0, -6, 0, 4}, {1, 4}, DType::f64), basis)) < 1e-12);
  CHECK(test::max_abs_diff(slice(recon[2], 0, 0, 1), target) <
        1e-12);  // 8 > 4 atoms: the full reconstruction

  // A duplicated atom is never chosen twice; a zero atom never.
  const Tensor dup = Tensor::from_data({1, 0, 1, 0, 0, 0, 0, 1}, {4, 2}, DType::f64);
  const OmpResult d = omp(dup, Tensor::from_data({3, 4}, {2}, DType::f64), 4);
  CHECK(d.atoms == std::vector<int64_t>{3, 0});
  CHECK(d.coefficients == std::vector<double>{4, 3});
  CHECK(doubling_counts(10) == std::vector<int64_t>{1, 2, 4, 8, 10});
  CHECK(doubling_counts(8) == std::vector<int64_t>{1, 2, 4, 8});
}

TEST_CASE("Smoke: the dynamics toolkit on tiny trained and untrained autoencoders") {
  AutoencoderConfig c;
  c.input_shape = {2};
  c.code_dim = 2;
  c.hidden = {16};
  c.activation = "tanh";
  c.seed = 3;
  Autoencoder ae(c);
  ToyOptions to;
  to.n = 256;
  to.seed = 1;
  const Tensor data = two_moons(to).x;
  const double ratio_untrained = variance_ratio_at_init(ae, 500, 2);
  CHECK(std::isfinite(ratio_untrained));
  CHECK(ratio_untrained > 0);
  CHECK(std::isfinite(variance_ratio_at_init(ae, 500, 2, /*latent=*/true)));
  {
    Adam opt(ae.parameters(), Adam::Options{1e-2});
    for (int step = 0; step < 150; ++step) {
      opt.step(grad({mse(ae(data), data)}, ae.parameters()));
    }
  }
  const Tensor codes = encode_batched(ae, data, 100);
  CHECK(codes.shape() == Shape{256, 2});
  IterateOptions o;
  o.max_iters = 400;
  o.record_every = 10;
  const Trajectories t = iterate(ae, slice(codes, 0, 0, 64), o);
  CHECK(t.final.shape() == Shape{64, 2});
  CHECK(t.final.dtype() == DType::f32);
  CHECK(all_finite(t.final.to_vector()));
  CHECK(t.paths.size() == 64);
  CHECK(t.path(0).size(1) == 2);

  const AttractorSet a = find_attractors(t);
  int64_t total = 0;
  for (int64_t n : a.counts) total += n;
  CHECK(total == t.num_converged());
  if (a.size() > 0) {
    const auto fp = analyze_fixed_points(latent_map_of(ae), a.points);
    REQUIRE(fp.size() == size_t(a.size()));
    for (const auto& p : fp) {
      CHECK(std::isfinite(p.spectral_norm));
      CHECK(std::isfinite(p.spectral_radius));
      CHECK(p.spectral_radius <= p.spectral_norm * (1 + 1e-4) + 1e-6);
    }
    const SpectralNormEstimate e = spectral_norm_power(latent_map_of(ae), slice(a.points, 0, 0, 1));
    CHECK(e.sigma == doctest::Approx(fp[0].spectral_norm).epsilon(1e-3));
    const MemorizationCoefficient m = memorization_coefficient(ae, a.points, data);
    CHECK(m.per_attractor.size() == size_t(a.size()));
    CHECK(m.mean <= 1 + 1e-9);
    const TrajectoryScores s = trajectory_distance_scores(ae, slice(codes, 0, 64, 96), a.points);
    CHECK(s.score.size() == 32);
    CHECK(all_finite(s.score));
    CHECK(all_finite(knn_scores(slice(codes, 0, 64, 96), slice(codes, 0, 96, 256), 10)));
  }
  const ConvergenceSpeed cs = convergence_speed(latent_map_of(ae), t);
  CHECK(cs.samples.size() == size_t(t.num_converged()));

  Grid2d g;
  g.x_min = -3, g.x_max = 3, g.y_min = -3, g.y_max = 3, g.nx = 6, g.ny = 5;
  const FieldSample fs = sample_field(ae, g);
  CHECK(fs.vectors.shape() == Shape{30, 2});
  CHECK(all_finite(fs.norms));
  IterateOptions quick;
  quick.max_iters = 100;
  const Basins b = basins_of_attraction(ae, g, quick);
  CHECK(b.labels().size() == 30);

  MemorizationReportOptions ro;
  ro.samples = 24;
  ro.iterate.max_iters = 200;
  std::vector<std::string> stages;  // each run of starts in order, once, with its own total
  ro.progress = [&](const std::string& stage, int64_t done, int64_t total) {
    CHECK(total == 24);
    CHECK((done >= 0 && done <= total));
    if (stages.empty() || stages.back() != stage) stages.push_back(stage);
  };
  const MemorizationReport rep = memorization_report(ae, data, slice(data, 0, 200, 256), ro);
  if (rep.train.converged > 0)
    CHECK(stages == std::vector<std::string>{"train", "test", "noise", "train scores"});
  else
    CHECK(stages == std::vector<std::string>{"train", "test", "noise"});
  CHECK(rep.train.starts == 24);
  CHECK(rep.test.starts == 24);
  CHECK(rep.noise.starts == 24);
  CHECK(rep.noise.trajectories.size() == 24);
  CHECK(rep.train.distinct >= (rep.train.converged > 0 ? 1 : 0));
  CHECK(rep.attractor_rank >= 0);
  CHECK(rep.attractor_rank <= 2);
  if (rep.train.converged > 0) {
    CHECK(rep.memorization.per_attractor.size() == size_t(rep.train.distinct));
    CHECK(std::isfinite(rep.fpr95_noise_vs_train));
    CHECK(rep.auroc_noise_vs_train >= 0);
    CHECK(rep.auroc_noise_vs_train <= 1);
  }

  const ProbeDictionary dict = noise_attractor_dictionary(ae, 8, 4, quick);
  CHECK(dict.atoms.shape() == Shape{8, 2});
  CHECK(dict.decoded.shape() == Shape{8, 2});
  const ProbeCurve pc = probe_reconstruction_curve(ae, dict.atoms, slice(data, 0, 0, 40), {1, 2});
  CHECK(pc.output_mse.size() == 2);
  CHECK(all_finite(pc.output_mse));
  CHECK(pc.latent_mse[1] <= pc.latent_mse[0] + 1e-9);
  const ProbeCurve base =
      probe_reconstruction_curve(ae, random_orthonormal_basis(2, 1), slice(data, 0, 0, 40), {2});
  CHECK(base.latent_mse[0] < 1e-10);  // a full basis reconstructs every code

  // An untrained convolutional autoencoder (Table 3's layout, tiny): shapes and finite values.
  AutoencoderConfig cc;
  cc.arch = "conv";
  cc.input_shape = {1, 16, 16};
  cc.code_dim = 4;
  cc.width = 2;
  cc.seed = 7;
  Autoencoder conv(cc);
  Generator gen(8);
  IterateOptions few;
  few.max_iters = 30;
  const Trajectories ct = iterate(conv, Tensor::randn({6, 4}, gen), few);
  CHECK(ct.final.shape() == Shape{6, 4});
  CHECK(all_finite(ct.final.to_vector()));
  const double vr = variance_ratio_at_init(conv, 64, 1);
  CHECK(std::isfinite(vr));
  CHECK(vr > 0);
  CHECK(latent_jacobian(latent_map_of(conv), slice(ct.final, 0, 0, 1)).shape() == Shape{4, 4});
}
