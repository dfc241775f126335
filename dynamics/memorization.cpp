#include "dynamics/memorization.h"

#include <Eigen/Dense>
#include <cmath>
#include <limits>

#include "datasets/batching.h"
#include "datasets/pca.h"
#include "dynamics/ood.h"
#include "engine/gradgrad.h"

namespace gg {

namespace {

using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Rows [a, b) of x flattened, each scaled to unit norm (zero rows stay zero: cosine 0 with everything).
RowMatrix unit_rows(const Tensor& x, int64_t a, int64_t b) {
  int64_t n = 0, d = 0;
  const std::vector<double> v = rows_as_doubles(row_block(x, a, b), n, d);
  RowMatrix m = Eigen::Map<const RowMatrix>(v.data(), n, d);
  for (Eigen::Index i = 0; i < m.rows(); ++i) {
    const double norm = m.row(i).norm();
    if (norm > 0) m.row(i) /= norm;
  }
  return m;
}

// Per-coordinate variance over the rows (population), averaged over coordinates.
double mean_variance(const Tensor& x) {
  int64_t n = 0, d = 0;
  const std::vector<double> v = rows_as_doubles(x, n, d);
  GG_CHECK(n >= 2 && d >= 1, "variance_ratio: needs at least two samples, got " + x.str());
  const Eigen::Map<const RowMatrix> m(v.data(), n, d);
  const Eigen::RowVectorXd mu = m.colwise().mean();
  return (m.rowwise() - mu).array().square().sum() / double(n) / double(d);
}

std::vector<int64_t> first_of_shuffle(int64_t n, int64_t take, uint64_t seed) {
  std::vector<int64_t> idx = shuffled_indices(n, seed);
  idx.resize(static_cast<size_t>(std::min(n, take)));
  return idx;
}

}  // namespace

MemorizationCoefficient memorization_coefficient(const Tensor& decoded, const Tensor& train) {
  GG_CHECK(
      decoded.defined() && train.defined() && decoded.dim() >= 1 && train.dim() >= 1 && train.size(0) >= 1,
      "memorization_coefficient: needs decoded attractors and a non-empty training set");
  const int64_t a = decoded.size(0);
  GG_CHECK(a == 0 || decoded.numel() / a == train.numel() / train.size(0),
           "memorization_coefficient: decoded " + decoded.str() + " and training samples " + train.str() +
               " differ in size per sample");
  MemorizationCoefficient m;
  if (a == 0) return m;
  const RowMatrix att = unit_rows(decoded, 0, a);
  Eigen::VectorXd best = Eigen::VectorXd::Constant(a, -2);
  std::vector<int64_t> arg(static_cast<size_t>(a), -1);
  const int64_t n = train.size(0), chunk = 1024;
  for (int64_t c = 0; c < n; c += chunk) {
    const RowMatrix tr = unit_rows(train, c, std::min(n, c + chunk));
    const Eigen::MatrixXd cos = att * tr.transpose();  // [A, chunk] cosine similarities
    for (int64_t i = 0; i < a; ++i) {
      Eigen::Index j;
      const double v = cos.row(i).maxCoeff(&j);
      if (v > best(i)) best(i) = v, arg[size_t(i)] = c + j;
    }
  }
  // Section 3.2: mem(z*) = cos(D(z*), x) for the training sample x closest to D(z*).
  m.per_attractor.assign(best.data(), best.data() + a);
  m.nearest = arg;
  m.mean = best.mean();
  m.std = std::sqrt((best.array() - m.mean).square().mean());
  return m;
}

MemorizationCoefficient memorization_coefficient(Autoencoder& model, const Tensor& attractors,
                                                 const Tensor& train_x) {
  GG_CHECK(attractors.defined() && attractors.dim() == 2,
           "memorization_coefficient: expected attractors [A, k]");
  if (attractors.size(0) == 0) return {};
  return memorization_coefficient(decode_batched(model, attractors), train_x);
}

int64_t attractor_rank(const Tensor& decoded, double fraction) {
  GG_CHECK(decoded.defined() && decoded.dim() >= 1, "attractor_rank: undefined input");
  GG_CHECK(fraction > 0 && fraction <= 1, "attractor_rank: fraction must be in (0, 1]");
  const int64_t a = decoded.size(0);
  if (a < 2) return a;
  const Tensor rows = reshape(decoded.detach(), {a, -1});
  return Pca::fit(rows, 1).rank_for_variance(fraction);  // Figure 12: rank explaining 90% of the variance
}

double variance_ratio(const std::function<Tensor(const Tensor&)>& map, const Tensor& inputs) {
  GG_CHECK(inputs.defined() && inputs.dim() >= 1 && inputs.size(0) >= 2,
           "variance_ratio: needs at least two inputs");
  Tensor out;
  {
    NoGradGuard no_grad;
    out = map(inputs);
  }
  GG_CHECK(out.defined() && out.dim() >= 1 && out.size(0) == inputs.size(0),
           "variance_ratio: the map returned " + (out.defined() ? out.str() : std::string("undefined")) +
               " for " + inputs.str());
  return mean_variance(out) / mean_variance(inputs);  // Figure 6: sigma_out / sigma_in
}

double variance_ratio_at_init(Autoencoder& model, int64_t n, uint64_t seed, bool latent) {
  GG_CHECK(n >= 2, "variance_ratio_at_init: needs n >= 2");
  Generator gen(seed);
  const DType t = model.config().dtype;
  if (latent)
    return variance_ratio([&](const Tensor& z) { return model.latent_map(z); },
                          Tensor::randn({n, model.config().code_dim}, gen, t, model.device()));
  Shape shape{n};
  shape.insert(shape.end(), model.config().input_shape.begin(), model.config().input_shape.end());
  return variance_ratio([&](const Tensor& x) { return model.forward(x); }, Tensor::randn(shape, gen, t, model.device()));
}

AttractorCensus attractor_census(Autoencoder& model, const Tensor& z0, const IterateOptions& options,
                                 const AttractorMerge& merge) {
  AttractorCensus c;
  c.trajectories = iterate(model, z0, options);
  c.attractors = find_attractors(c.trajectories, merge);
  c.starts = c.trajectories.size();
  c.converged = c.trajectories.num_converged();
  c.distinct = c.attractors.size();
  c.fraction = c.starts > 0 ? double(c.distinct) / double(c.starts) : 0.0;
  return c;
}

MemorizationReport memorization_report(Autoencoder& model, const Tensor& train_x, const Tensor& test_x,
                                       const MemorizationReportOptions& o) {
  GG_CHECK(train_x.defined() && train_x.dim() >= 1 && train_x.size(0) >= 1,
           "memorization_report: needs a non-empty training set");
  GG_CHECK(o.samples >= 1, "memorization_report: samples must be >= 1");
  const double nan = std::numeric_limits<double>::quiet_NaN();
  MemorizationReport r;
  // o.iterate, reporting its progress under the name of the run of starts it iterates.
  auto iterate_for = [&o](const std::string& stage) {
    IterateOptions it = o.iterate;
    if (o.progress)
      it.progress = [&o, stage](int64_t finished, int64_t total, int64_t) { o.progress(stage, finished, total); };
    return it;
  };

  const Tensor train_pick = select_rows(train_x, first_of_shuffle(train_x.size(0), o.samples, o.seed));
  const Tensor z_train = encode_batched(model, train_pick, o.batch_size);
  r.train = attractor_census(model, z_train, iterate_for("train"), o.merge);

  if (test_x.defined() && test_x.dim() >= 1 && test_x.size(0) > 0) {
    const Tensor test_pick = select_rows(test_x, first_of_shuffle(test_x.size(0), o.samples, o.seed + 1));
    r.test = attractor_census(model, encode_batched(model, test_pick, o.batch_size), iterate_for("test"), o.merge);
  }

  // Every converged training endpoint: the set Z*_train of section 3.2 and the rows of X* (Figure 12).
  std::vector<int64_t> conv;
  for (int64_t i = 0; i < r.train.trajectories.size(); ++i)
    if (r.train.trajectories.converged(i)) conv.push_back(i);
  const Tensor z_star_train = select_rows(r.train.trajectories.final, conv);

  Generator gen(o.seed);
  const int64_t n_noise = o.noise_samples > 0 ? o.noise_samples : o.samples;
  const Tensor z_noise = Tensor::randn({n_noise, model.config().code_dim}, gen, model.config().dtype, model.device());
  std::vector<double> noise_scores;
  if (o.trajectory_fpr && !conv.empty()) {
    // The noise run doubles as the census: its trajectories are scored against Z*_train as they go.
    r.noise.trajectories = Trajectories{};
    noise_scores =
        trajectory_distance_scores(model, z_noise, z_star_train, iterate_for("noise"), &r.noise.trajectories).score;
    r.noise.attractors = find_attractors(r.noise.trajectories, o.merge);
    r.noise.starts = r.noise.trajectories.size();
    r.noise.converged = r.noise.trajectories.num_converged();
    r.noise.distinct = r.noise.attractors.size();
    r.noise.fraction = double(r.noise.distinct) / double(r.noise.starts);
    const std::vector<double> train_scores =
        trajectory_distance_scores(model, z_train, z_star_train, iterate_for("train scores")).score;
    r.fpr95_noise_vs_train = fpr_at_tpr(train_scores, noise_scores, 0.95);
    r.auroc_noise_vs_train = auroc(train_scores, noise_scores);
  } else {
    r.noise = attractor_census(model, z_noise, iterate_for("noise"), o.merge);
    r.fpr95_noise_vs_train = r.auroc_noise_vs_train = nan;
  }

  r.memorization = memorization_coefficient(model, r.train.attractors.points, train_x);
  r.attractor_rank =
      conv.empty() ? 0 : attractor_rank(decode_batched(model, z_star_train, o.batch_size), o.rank_fraction);
  r.chamfer_noise_train = r.noise.attractors.size() > 0 && r.train.attractors.size() > 0
                              ? chamfer_similarity(r.noise.attractors.points, r.train.attractors.points)
                              : nan;
  return r;
}

double nearest_distance_mean(Autoencoder& model, const Tensor& attractors, const Tensor& train_x) {
  if (!attractors.defined() || attractors.size(0) == 0) return std::numeric_limits<double>::quiet_NaN();
  const int64_t n = train_x.size(0);
  const Tensor decoded = reshape(decode_batched(model, attractors).to(DType::f64), {attractors.size(0), -1});
  const SetDistances d = distance_to_set(decoded, reshape(train_x.to(DType::f64), {n, -1}));
  double s = 0;
  for (double x : d.distance) s += x;
  return s / double(d.distance.size());
}

}  // namespace gg
