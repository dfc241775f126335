// gradgrad field: the latent vector field of a trained run (paper 002, sections 2-3; Figures 1, 3, 11, 12).
//
// For the run's autoencoder, f(z) = E(D(z)) and its residual f(z) - z (eq. 3-4): trajectories from training,
// test and N(0, I_k) codes, the attractors they end in (merged as cli/field_common.h says), the local picture
// at each attractor (spectral norm by power iteration and from the Jacobian, eigenvalues, Definition 2),
// Proposition 3.2's predicted against measured iteration counts (Figure 11), and the memorization numbers of
// section 3.2 (Figures 2, 3, 6, 12). For 2-D codes the field and the basins of attraction on a grid around
// the codes; for larger k the same pictures in the plane of the codes' first two principal components. For
// 2-D data, paper 000's Poisson potential v (eq. 10) over the input plane. Every figure is drawn by
// cli/plots_field.py from the files written here.
//
// The same file holds the per-epoch snapshot of `gradgrad train --track-dynamics` (Figure 3).
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <limits>
#include <set>
#include <sstream>

#include "cli/commands.h"
#include "cli/field_common.h"
#include "cli/output.h"
#include "datasets/batching.h"
#include "datasets/images.h"
#include "datasets/pca.h"
#include "dynamics/attractors.h"
#include "dynamics/field.h"
#include "dynamics/memorization.h"
#include "dynamics/ood.h"
#include "dynamics/spectrum.h"
#include "models/training.h"
#include "regularizers/poisson.h"
#include "regularizers/regularizer.h"

namespace gg::cli {

using nlohmann::json;

namespace {

constexpr double kNan = std::numeric_limits<double>::quiet_NaN();
constexpr double kFrameMargin = 0.5;         // the code frame: the codes' box plus half its larger span per side
constexpr double kPotentialMargin = 0.25;    // the input frame of the potential
constexpr int64_t kPowerIterationCap = 64;   // attractors (by count) that get a power-iteration estimate
constexpr int64_t kDecodedImages = 64;       // decoded attractors in the image grid
constexpr int64_t kPathsTrain = 16, kPathsTest = 8, kPathsNoise = 8;  // recorded trajectories

std::vector<int64_t> first_of_shuffle(int64_t n, int64_t take, uint64_t seed) {
  std::vector<int64_t> idx = shuffled_indices(n, seed);
  idx.resize(static_cast<size_t>(std::min(n, take)));
  return idx;
}

// A number for JSON: NaN and infinities become null (nlohmann writes them so anyway; this says it).
json num(double x) { return std::isfinite(x) ? json(x) : json(nullptr); }

class Stopwatch {
 public:
  double lap() {
    const auto now = std::chrono::steady_clock::now();
    const double s = std::chrono::duration<double>(now - last_).count();
    last_ = now;
    return s;
  }

 private:
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
};

// A CSV built in memory, numbers with 9 significant digits.
struct Csv {
  std::ostringstream s;
  explicit Csv(const std::string& header) { s << std::setprecision(9) << header << "\n"; }
  template <class T>
  Csv& operator<<(const T& v) {
    s << v;
    return *this;
  }
  void write(const std::string& path) { write_file_atomic(path, s.str()); }
};

// The picture plane: the codes themselves when k <= 2, else the plane of their first two principal
// components (fitted on the training codes), so every file of the run draws in the same coordinates.
struct Plane {
  int64_t k = 0;
  bool pca = false;
  Pca fit;

  Plane(const Tensor& codes, int64_t code_dim) : k(code_dim), pca(code_dim > 2) {
    if (pca) fit = Pca::fit(codes.to(DType::f64), 2);
  }
  // Rows of z [N, k] as (p0, p1) pairs; p1 = 0 when k = 1.
  std::vector<double> project(const Tensor& z) const {
    if (!z.defined() || z.size(0) == 0) return {};
    const int64_t n = z.size(0);
    const std::vector<double> v = (pca ? fit.project(z) : z.to(DType::f64)).to_vector();
    const int64_t c = pca ? 2 : k;
    std::vector<double> out(static_cast<size_t>(2 * n), 0.0);
    for (int64_t i = 0; i < n; ++i) {
      out[size_t(2 * i)] = v[size_t(i * c)];
      out[size_t(2 * i + 1)] = c > 1 ? v[size_t(i * c + 1)] : 0.0;
    }
    return out;
  }
  // The in-plane components of vectors d [N, k] (no centring: directions, not points).
  std::vector<double> project_vectors(const Tensor& d) const {
    if (!pca) return project(d);
    const int64_t n = d.size(0);
    const std::vector<double> v = d.to(DType::f64).to_vector();
    std::vector<double> out(static_cast<size_t>(2 * n), 0.0);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t c = 0; c < 2; ++c) {
        double s = 0;
        for (int64_t j = 0; j < k; ++j) s += v[size_t(i * k + j)] * fit.components[size_t(c)][size_t(j)];
        out[size_t(2 * i + c)] = s;
      }
    return out;
  }
  // The codes of the plane's points (a, b): mean + a c0 + b c1, [N, k] f64 (k > 2 only).
  Tensor lift(const Tensor& ab) const {
    const int64_t n = ab.size(0);
    const std::vector<double> p = ab.to_vector();
    std::vector<double> z(static_cast<size_t>(n * k));
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < k; ++j)
        z[size_t(i * k + j)] = fit.mean[size_t(j)] + p[size_t(2 * i)] * fit.components[0][size_t(j)] +
                               p[size_t(2 * i + 1)] * fit.components[1][size_t(j)];
    return Tensor::from_data(z, {n, k}, DType::f64);
  }
};

std::vector<double> concat_pairs(std::initializer_list<std::vector<double>> parts) {
  std::vector<double> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

std::vector<int64_t> converged_rows(const Trajectories& t) {
  std::vector<int64_t> rows;
  for (int64_t i = 0; i < t.size(); ++i)
    if (t.converged(i)) rows.push_back(i);
  return rows;
}

double mean_iterations(const Trajectories& t) {
  if (t.size() == 0) return kNan;
  double s = 0;
  for (int64_t n : t.iterations) s += double(n);
  return s / double(t.size());
}

json census_json(const AttractorCensus& c) {
  return {{"starts", c.starts},
          {"converged", c.converged},
          {"distinct_attractors", c.distinct},
          {"fraction_distinct", c.fraction},
          {"mean_iterations", num(mean_iterations(c.trajectories))}};
}

json grid_json(const Grid2d& g) {
  return {{"x_min", g.x_min}, {"x_max", g.x_max}, {"y_min", g.y_min}, {"y_max", g.y_max}, {"nx", g.nx}, {"ny", g.ny}};
}

// Writes the field on a grid: p0, p1, v0, v1 (the in-plane components of f(z) - z), norm (its full norm).
void write_field_csv(const std::string& path, const Tensor& points, const std::vector<double>& vectors,
                     const std::vector<double>& norms) {
  Csv csv("p0,p1,v0,v1,norm");
  const std::vector<double> p = points.to_vector();
  for (size_t i = 0; i < norms.size(); ++i)
    csv << p[2 * i] << "," << p[2 * i + 1] << "," << vectors[2 * i] << "," << vectors[2 * i + 1] << "," << norms[i]
        << "\n";
  csv.write(path);
}

// The field f(z) - z on a grid of the picture plane (k = 2: the codes themselves; k > 2: the PCA plane, with
// the field projected onto it); returns the norms.
std::vector<double> field_on_grid(Autoencoder& model, const Plane& plane, const Grid2d& grid,
                                  const std::string& path) {
  const Tensor pts = grid.points();
  if (!plane.pca && plane.k == 2) {
    const FieldSample fs = sample_field(model, grid);
    write_field_csv(path, fs.points, fs.vectors.to_vector(), fs.norms);
    return fs.norms;
  }
  Tensor z;
  if (plane.pca) {
    z = plane.lift(pts);
  } else {  // k = 1: the line p1 = 0 only makes sense; sample the first coordinate
    z = slice(pts, 1, 0, 1);
  }
  const Tensor d = vector_field(model, z).to(DType::f64);
  const std::vector<double> dv = d.to_vector();
  std::vector<double> norms(static_cast<size_t>(d.size(0)));
  const int64_t k = d.size(1);
  for (int64_t i = 0; i < d.size(0); ++i) {
    double s = 0;
    for (int64_t j = 0; j < k; ++j) s += dv[size_t(i * k + j)] * dv[size_t(i * k + j)];
    norms[size_t(i)] = std::sqrt(s);
  }
  write_field_csv(path, pts, plane.project_vectors(d), norms);
  return norms;
}

// A memorization measure that means something in low dimensions, where the cosine of section 3.2 is ~1 for
// any point (some training sample always lies in almost the same direction): the mean Euclidean distance
// from each decoded attractor D(z*) to its nearest training sample (normalized units); NaN with no attractor.
double nearest_distance_mean(Autoencoder& model, const Tensor& attractors, const Tensor& train_x) {
  if (!attractors.defined() || attractors.size(0) == 0) return kNan;
  const int64_t n = train_x.size(0);
  const SetDistances d = distance_to_set(reshape(decode_batched(model, attractors).to(DType::f64), {attractors.size(0), -1}),
                                         reshape(train_x.to(DType::f64), {n, -1}));
  double s = 0;
  for (double x : d.distance) s += x;
  return s / double(d.distance.size());
}

}  // namespace

// ---- gradgrad train --track-dynamics: one snapshot ---------------------------------------------------------

json dynamics_snapshot(Trainer& trainer, int64_t epoch, const std::string& run_dir, const TrackOptions& o) {
  Stopwatch clock;
  Autoencoder& model = trainer.model();
  const int64_t k = model.config().code_dim;
  const DType dt = model.config().dtype;
  const Dataset& train = trainer.train_set();
  const Tensor train_x = train.x.to(dt), test_x = trainer.test_set().x.to(dt);

  // memorization_report draws its training starts as first_of_shuffle(n, starts, seed): the same rows here
  // give the code scale (for the merge rule) and the frame of the snapshot.
  const Tensor z_train = encode_batched(model, select_rows(train_x, first_of_shuffle(train.size(), o.starts, o.seed)));
  const double scale = code_scale(z_train);
  const double tol = effective_tol(o.tol, scale, o.tol_units);
  const MergeChoice mc = merge_rule_for(k, scale, tol);
  MemorizationReportOptions mo;
  mo.samples = o.starts;
  mo.seed = o.seed;
  mo.iterate.tol = tol;
  mo.iterate.max_iters = o.max_iters;
  mo.merge = mc.merge;
  const MemorizationReport r = memorization_report(model, train_x, test_x, mo);

  const double test_mse = epoch > 0 && !trainer.history().empty() ? trainer.history().back().test_mse
                                                                    : trainer.reconstruction_error(trainer.test_set());
  json j = {{"epoch", epoch},
            {"test_mse", test_mse},
            {"attractors_train", r.train.distinct},
            {"attractors_test", r.test.distinct},
            {"attractors_noise", r.noise.distinct},
            {"converged_train", r.train.converged},
            {"converged_test", r.test.converged},
            {"converged_noise", r.noise.converged},
            {"starts", o.starts},
            {"memorization_mean", num(r.memorization.mean)},
            {"memorization_std", num(r.memorization.std)},
            {"nearest_distance_mean", num(nearest_distance_mean(model, r.train.attractors.points, train_x))},
            {"attractor_rank_90", r.attractor_rank},
            {"attractor_rank_90_distinct",
             r.train.attractors.size() > 0 ? attractor_rank(decode_batched(model, r.train.attractors.points), 0.9) : 0},
            {"chamfer_noise_train", num(r.chamfer_noise_train)},
            {"fpr95_noise_vs_train", num(r.fpr95_noise_vs_train)},
            {"auroc_noise_vs_train", num(r.auroc_noise_vs_train)},
            {"code_scale", scale},
            {"tol_effective", tol},
            {"merge_rule", mc.rule},
            {"merge_distance", mc.merge.distance_threshold}};

  if (k == 2) {  // Figure 3a: the field itself, on a coarse grid around the current codes
    const std::string dir = run_dir + "/dynamics";
    std::filesystem::create_directories(dir);
    const Plane plane(z_train, k);
    const std::vector<double> codes = plane.project(z_train);
    const Grid2d grid =
        frame_around(concat_pairs({codes, plane.project(r.train.attractors.points)}), o.grid, kFrameMargin);
    const std::string e = std::to_string(epoch);
    field_on_grid(model, plane, grid, dir + "/field_epoch_" + e + ".csv");
    Csv att("source,p0,p1,count");
    for (const auto* c : {&r.train, &r.noise}) {
      const std::vector<double> p = plane.project(c->attractors.points);
      for (int64_t a = 0; a < c->attractors.size(); ++a)
        att << (c == &r.train ? "train" : "noise") << "," << p[size_t(2 * a)] << "," << p[size_t(2 * a + 1)] << ","
            << c->attractors.counts[size_t(a)] << "\n";
    }
    att.write(dir + "/attractors_epoch_" + e + ".csv");
    Csv cc("p0,p1");
    for (size_t i = 0; i + 1 < codes.size(); i += 2) cc << codes[i] << "," << codes[i + 1] << "\n";
    cc.write(dir + "/codes_epoch_" + e + ".csv");
    j["frame"] = grid_json(grid);
  }
  j["seconds"] = clock.lap();
  return j;
}

// ---- gradgrad field ---------------------------------------------------------------------------------------

int run_field(const Args& args) {
  const std::string run = args.require("run");
  const std::string out = args.get("out", run + "/field");
  const int64_t grid_n = args.get_int("grid", 80);
  const int64_t starts = args.get_int("starts", 512);
  const int64_t noise_starts = args.get_int("noise-starts", 512);
  const double tol_arg = args.get_double("tol", 1e-6);
  const std::string tol_units = args.get("tol-units", "code");
  const int64_t max_iters = args.get_int("max-iters", 3000);
  const uint64_t seed = static_cast<uint64_t>(args.get_int("seed", 0));
  args.finish();
  GG_CHECK(grid_n >= 2, "--grid must be at least 2");
  GG_CHECK(starts >= 1 && noise_starts >= 1, "--starts and --noise-starts must be positive");
  GG_CHECK(tol_arg > 0 && max_iters >= 1, "--tol must be positive and --max-iters at least 1");

  Stopwatch clock;
  json seconds = json::object();
  Trainer trainer(read_json_file(run + "/config.json"), make_regularizer_loss);
  trainer.resume(run + "/checkpoint.safetensors");
  Autoencoder& model = trainer.model();
  const LatentMap f = latent_map_of(model);
  const int64_t k = model.config().code_dim;
  const DType dt = model.config().dtype;
  const Dataset& train = trainer.train_set();
  const Dataset& test = trainer.test_set();
  const Normalizer& nz = trainer.normalizer();
  const Tensor train_x = train.x.to(dt), test_x = test.x.to(dt);
  const bool points_2d = !train.is_images() && train.x.dim() == 2 && train.x.size(1) == 2;
  std::filesystem::create_directories(out);

  // ---- The starts: codes of training and test samples, and N(0, I_k) draws (section 3.2) -----------------
  const Tensor z_train = encode_batched(model, select_rows(train_x, first_of_shuffle(train.size(), starts, seed)));
  const Tensor z_test =
      test.size() > 0 ? encode_batched(model, select_rows(test_x, first_of_shuffle(test.size(), starts, seed + 1)))
                      : Tensor::zeros({0, k}, dt);
  Generator noise_gen(seed + 2);
  const Tensor z_noise = Tensor::randn({noise_starts, k}, noise_gen, dt);
  const double scale = code_scale(z_train);
  const double tol = effective_tol(tol_arg, scale, tol_units);
  const MergeChoice mc = merge_rule_for(k, scale, tol);
  IterateOptions it;
  it.tol = tol;
  it.max_iters = max_iters;
  seconds["load_and_encode"] = clock.lap();

  // ---- Iterate (eq. 3) and count attractors per source ------------------------------------------------------
  const AttractorCensus c_train = attractor_census(model, z_train, it, mc.merge);
  const AttractorCensus c_test = attractor_census(model, z_test, it, mc.merge);
  const Tensor z_star_train = select_rows(c_train.trajectories.final, converged_rows(c_train.trajectories));
  AttractorCensus c_noise;
  double fpr95 = kNan, auroc_nt = kNan;
  if (z_star_train.size(0) > 0) {
    // The noise run doubles as section 3.2's trajectory score against Z*_train (Figure 3d's FPR95).
    const std::vector<double> noise_scores =
        trajectory_distance_scores(model, z_noise, z_star_train, it, &c_noise.trajectories).score;
    c_noise.attractors = find_attractors(c_noise.trajectories, mc.merge);
    c_noise.starts = c_noise.trajectories.size();
    c_noise.converged = c_noise.trajectories.num_converged();
    c_noise.distinct = c_noise.attractors.size();
    c_noise.fraction = double(c_noise.distinct) / double(c_noise.starts);
    const std::vector<double> train_scores = trajectory_distance_scores(model, z_train, z_star_train, it).score;
    fpr95 = fpr_at_tpr(train_scores, noise_scores, 0.95);
    auroc_nt = auroc(train_scores, noise_scores);
  } else {
    c_noise = attractor_census(model, z_noise, it, mc.merge);
  }
  seconds["iterate_starts"] = clock.lap();

  // ---- The picture plane, its frame, and (k = 2) the basins of attraction on the grid ----------------------
  const Plane plane(z_train, k);
  const Grid2d grid = frame_around(concat_pairs({plane.project(z_train), plane.project(z_test),
                                                 plane.project(c_train.attractors.points),
                                                 plane.project(c_test.attractors.points)}),
                                   grid_n, kFrameMargin);
  Trajectories t_grid;
  if (k == 2) t_grid = iterate(model, grid.points(), it);
  seconds["iterate_grid"] = clock.lap();

  // ---- Every endpoint from every source, merged into one list of attractors --------------------------------
  enum Source { kTrain, kTest, kNoise, kGrid, kSources };
  const char* source_name[kSources] = {"train", "test", "noise", "grid"};
  const Trajectories* runs[kSources] = {&c_train.trajectories, &c_test.trajectories, &c_noise.trajectories,
                                        &t_grid};
  std::vector<Tensor> finals;
  std::vector<bool> include;
  std::vector<int> source_of;
  std::vector<int64_t> offset(kSources + 1, 0);
  for (int s = 0; s < kSources; ++s) {
    const Trajectories& t = *runs[s];
    offset[size_t(s + 1)] = offset[size_t(s)] + t.size();
    if (t.size() == 0) continue;
    finals.push_back(t.final.to(DType::f64));
    for (int64_t i = 0; i < t.size(); ++i) include.push_back(t.converged(i)), source_of.push_back(s);
  }
  const AttractorSet all = find_attractors(concat(finals, 0), include, mc.merge);
  const int64_t n_att = all.size();
  std::vector<std::array<int64_t, kSources>> per_source(static_cast<size_t>(n_att), std::array<int64_t, kSources>{});
  for (size_t i = 0; i < all.assignment.size(); ++i)
    if (all.assignment[i] >= 0) ++per_source[size_t(all.assignment[i])][size_t(source_of[i])];
  // Attractors by decreasing count from the data and noise starts (the grid's only break ties).
  std::vector<int64_t> order(static_cast<size_t>(n_att));
  for (int64_t a = 0; a < n_att; ++a) order[size_t(a)] = a;
  auto starts_count = [&](int64_t a) {
    const auto& c = per_source[size_t(a)];
    return c[kTrain] + c[kTest] + c[kNoise];
  };
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return starts_count(a) != starts_count(b) ? starts_count(a) > starts_count(b)
                                               : all.counts[size_t(a)] > all.counts[size_t(b)];
  });
  seconds["merge"] = clock.lap();

  // ---- The local picture at every attractor: Definitions 1-3, power iteration ------------------------------
  const std::vector<FixedPointAnalysis> fp =
      n_att > 0 ? analyze_fixed_points(f, all.points, tol, true) : std::vector<FixedPointAnalysis>{};
  std::vector<SpectralNormEstimate> power(static_cast<size_t>(n_att));
  std::vector<bool> has_power(static_cast<size_t>(n_att), false);
  double power_gap = 0;
  for (int64_t r = 0; r < std::min<int64_t>(n_att, kPowerIterationCap); ++r) {
    const int64_t a = order[size_t(r)];
    PowerIterationOptions po;
    po.seed = seed + uint64_t(a);
    // Near-degenerate singular values (a slow line of attractors has sigma_2 ~ sigma_1 ~ 1) make the power
    // iteration crawl: a tight tolerance and room for iterations keep it from stopping short.
    po.max_iters = 2000;
    po.tol = 1e-12;
    power[size_t(a)] = spectral_norm_power(f, select_rows(all.points, {a}), po);
    has_power[size_t(a)] = true;
    power_gap = std::max(power_gap, std::abs(power[size_t(a)].sigma - fp[size_t(a)].spectral_norm) /
                                        std::max(fp[size_t(a)].spectral_norm, 1e-12));
  }
  seconds["spectra"] = clock.lap();

  // ---- Decoded attractors, memorization coefficient (section 3.2), rank (Figure 12) ------------------------
  const Tensor decoded_all = n_att > 0 ? decode_batched(model, all.points) : Tensor();
  const MemorizationCoefficient mem_all =
      n_att > 0 ? memorization_coefficient(decoded_all, train_x) : MemorizationCoefficient{};
  const MemorizationCoefficient mem_train = memorization_coefficient(model, c_train.attractors.points, train_x);
  const int64_t rank90 =
      z_star_train.size(0) > 0 ? attractor_rank(decode_batched(model, z_star_train), 0.9) : 0;
  const int64_t rank90_distinct =
      c_train.attractors.size() > 0 ? attractor_rank(decode_batched(model, c_train.attractors.points), 0.9) : 0;
  const double chamfer = c_noise.attractors.size() > 0 && c_train.attractors.size() > 0
                             ? chamfer_similarity(c_noise.attractors.points, c_train.attractors.points)
                             : kNan;
  // Figure 6: the variance ratio of an untrained model of the same config, and of the trained one.
  Autoencoder untrained(model.config());
  json variance = {{"untrained_input", variance_ratio_at_init(untrained, 1000, seed, false)},
                   {"untrained_latent", variance_ratio_at_init(untrained, 1000, seed, true)},
                   {"trained_input", variance_ratio_at_init(model, 1000, seed, false)},
                   {"trained_latent", variance_ratio_at_init(model, 1000, seed, true)}};
  seconds["memorization"] = clock.lap();

  // ---- Proposition 3.2 against the measured iteration counts (Figure 11) -----------------------------------
  // Every source's converged starts: the training codes start next to their attractors (a well-trained
  // model nearly fixes its codes), the noise and grid starts far from them.
  std::array<ConvergenceSpeed, kSources> cs;
  json pearson = json::object();
  std::vector<double> all_pred, all_meas;
  {
    Csv csv("source,sample,attractor,initial_error,rho,predicted,measured");
    for (int s = 0; s < kSources; ++s) {
      if (runs[s]->size() == 0) continue;
      cs[size_t(s)] = convergence_speed(f, *runs[s]);
      const ConvergenceSpeed& c = cs[size_t(s)];
      pearson[std::string("pearson_") + source_name[s]] = num(c.pearson);
      pearson[std::string("samples_") + source_name[s]] = int64_t(c.samples.size());
      for (size_t i = 0; i < c.samples.size(); ++i) {
        const int64_t row = offset[size_t(s)] + c.samples[i];
        const bool finite = std::isfinite(c.predicted[i]);
        if (finite) all_pred.push_back(c.predicted[i]), all_meas.push_back(c.measured[i]);
        csv << source_name[s] << "," << c.samples[i] << "," << all.assignment[size_t(row)] << "," << c.initial_error[i]
            << "," << c.rho[i] << "," << (finite ? c.predicted[i] : kNan) << "," << c.measured[i] << "\n";
      }
    }
    csv.write(out + "/convergence.csv");
  }
  pearson["pearson_all"] = num(pearson_correlation(all_pred, all_meas));
  pearson["finite_predictions"] = int64_t(all_pred.size());
  seconds["convergence"] = clock.lap();

  // ---- attractors.csv, eigenvalues.csv ----------------------------------------------------------------------
  const std::vector<double> att_plane = plane.project(all.points);
  {
    std::string header =
        "id,rank,p0,p1,count,count_train,count_test,count_noise,count_grid,residual,spectral_norm,"
        "spectral_norm_power,power_iterations,spectral_radius,is_fixed_point,is_attractor,is_contractive,mem";
    for (int64_t j = 0; j < k; ++j) header += ",z" + std::to_string(j);
    Csv csv(header);
    Csv eig("id,index,re,im,modulus");
    const std::vector<double> zs = all.points.to_vector();
    for (int64_t r = 0; r < n_att; ++r) {
      const int64_t a = order[size_t(r)];
      const FixedPointAnalysis& x = fp[size_t(a)];
      const auto& c = per_source[size_t(a)];
      csv << a << "," << r << "," << att_plane[size_t(2 * a)] << "," << att_plane[size_t(2 * a + 1)] << ","
          << all.counts[size_t(a)] << "," << c[kTrain] << "," << c[kTest] << "," << c[kNoise] << "," << c[kGrid]
          << "," << x.residual << "," << x.spectral_norm << ","
          << (has_power[size_t(a)] ? power[size_t(a)].sigma : kNan) << ","
          << (has_power[size_t(a)] ? power[size_t(a)].iterations : 0) << "," << x.spectral_radius << ","
          << int(x.is_fixed_point) << "," << int(x.is_attractor) << "," << int(x.is_contractive) << ","
          << mem_all.per_attractor[size_t(a)];
      for (int64_t j = 0; j < k; ++j) csv << "," << zs[size_t(a * k + j)];
      csv << "\n";
      for (size_t e = 0; e < x.eigenvalues.size(); ++e)
        eig << a << "," << e << "," << x.eigenvalues[e].real() << "," << x.eigenvalues[e].imag() << ","
            << std::abs(x.eigenvalues[e]) << "\n";
    }
    csv.write(out + "/attractors.csv");
    eig.write(out + "/eigenvalues.csv");
  }

  // ---- codes.csv and trajectories.csv (in the picture plane) -----------------------------------------------
  {
    Csv csv("source,p0,p1");
    const Tensor* zs[3] = {&z_train, &z_test, &z_noise};
    for (int s = 0; s < 3; ++s) {
      const std::vector<double> p = plane.project(*zs[s]);
      for (size_t i = 0; i + 1 < p.size(); i += 2) csv << source_name[s] << "," << p[i] << "," << p[i + 1] << "\n";
    }
    csv.write(out + "/codes.csv");
  }
  {
    IterateOptions rec = it;
    rec.record_every = 1;
    const int64_t n_tr = std::min(kPathsTrain, z_train.size(0)), n_te = std::min(kPathsTest, z_test.size(0)),
                  n_no = std::min(kPathsNoise, z_noise.size(0));
    const Tensor z0 = concat({row_block(z_train, 0, n_tr).to(dt), row_block(z_test, 0, n_te).to(dt),
                              row_block(z_noise, 0, n_no).to(dt)},
                             0);
    const Trajectories paths = iterate(model, z0, rec);
    Csv csv("source,path,step,p0,p1,converged");
    for (int64_t i = 0; i < paths.size(); ++i) {
      const int s = i < n_tr ? kTrain : i < n_tr + n_te ? kTest : kNoise;
      const TrajectoryPath& tp = paths.paths[size_t(i)];
      const std::vector<double> p = plane.project(paths.path(i));
      const int64_t last = tp.steps.empty() ? 0 : tp.steps.back();
      for (size_t j = 0; j < tp.steps.size(); ++j)
        if (keep_path_step(tp.steps[j], last))
          csv << source_name[s] << "," << i << "," << tp.steps[j] << "," << p[2 * j] << "," << p[2 * j + 1] << ","
              << int(paths.converged(i)) << "\n";
    }
    csv.write(out + "/trajectories.csv");
  }

  // ---- The field on the grid, and (k = 2) the basins --------------------------------------------------------
  const std::vector<double> field_norms = field_on_grid(model, plane, grid, out + "/field.csv");
  json basins_json = nullptr;
  if (k == 2) {
    Csv csv("p0,p1,label,iterations,converged");
    const std::vector<double> p = grid.points().to_vector();
    std::set<int64_t> labels;
    int64_t unconverged = 0;
    for (int64_t i = 0; i < t_grid.size(); ++i) {
      const int64_t label = all.assignment[size_t(offset[kGrid] + i)];
      if (label >= 0) labels.insert(label);
      unconverged += !t_grid.converged(i);
      csv << p[size_t(2 * i)] << "," << p[size_t(2 * i + 1)] << "," << label << "," << t_grid.iterations[size_t(i)]
          << "," << int(t_grid.converged(i)) << "\n";
    }
    csv.write(out + "/basins.csv");
    basins_json = {{"cells", t_grid.size()},
                   {"attractors_reached", int64_t(labels.size())},
                   {"cells_not_converged", unconverged},
                   {"mean_iterations", num(mean_iterations(t_grid))}};
  }
  seconds["pictures"] = clock.lap();

  // ---- Decoded attractors: an image grid, or points in data units -------------------------------------------
  if (n_att > 0 && train.is_images()) {
    std::vector<int64_t> top(order.begin(), order.begin() + std::min<int64_t>(n_att, kDecodedImages));
    const int columns = static_cast<int>(std::min<size_t>(8, top.size()));
    write_image_grid(out + "/decoded_attractors.png", nz.invert(select_rows(decoded_all, top)).to(DType::f32), columns,
                     2, 2);
  } else if (n_att > 0) {
    const Tensor dec = nz.invert(decoded_all.to(DType::f64));
    const Tensor data = nz.invert(train.x.to(DType::f64));
    const SetDistances near = distance_to_set(dec, data);
    int64_t n = 0, d = 0;
    const std::vector<double> v = rows_as_doubles(dec, n, d);
    std::string header;
    for (int64_t j = 0; j < d; ++j) header += "x" + std::to_string(j) + ",";
    Csv csv(header + "id,count,count_train,count_test,count_noise,count_grid,mem,nearest_distance");
    for (int64_t r = 0; r < n_att; ++r) {
      const int64_t a = order[size_t(r)];
      for (int64_t j = 0; j < d; ++j) csv << v[size_t(a * d + j)] << ",";
      const auto& c = per_source[size_t(a)];
      csv << a << "," << all.counts[size_t(a)] << "," << c[kTrain] << "," << c[kTest] << "," << c[kNoise] << ","
          << c[kGrid] << "," << mem_all.per_attractor[size_t(a)] << "," << near.distance[size_t(a)] << "\n";
    }
    csv.write(out + "/decoded_attractors.csv");
  }
  if (points_2d) {  // the training data in data units, for the pictures over the input plane
    Dataset shown = train;
    shown.x = nz.invert(train.x.to(DType::f64));
    write_points_csv(out + "/data.csv", shown);
  }

  // ---- Paper 000's Poisson potential v (eq. 10) over the input plane (2-D data) -----------------------------
  json potential_json = nullptr;
  if (points_2d) {
    const json& reg = trainer.config()["regularizer"];
    const bool from_run = reg.is_object() && reg.value("kind", std::string("none")) == "poisson";
    PoissonOptions po = from_run ? reg.get<PoissonOptions>() : PoissonOptions{};
    po.source.create_graph = false;
    Generator qgen(seed + 3);
    const PoissonQuadrature quad = poisson_quadrature(model, train_x, po, qgen);  // clean training samples
    const Tensor data = nz.invert(train.x.to(DType::f64));
    const Grid2d pg = frame_around(data.to_vector(), grid_n, kPotentialMargin);
    const Tensor gx = pg.points();  // data units
    const Tensor gx_norm = nz.apply(gx).to(dt);
    std::vector<double> v, g;
    for (int64_t b = 0; b < gx.size(0); b += 1024) {
      const PoissonPotential pp =
          poisson_potential(model, row_block(gx_norm, b, std::min(gx.size(0), b + 1024)), quad, po);
      const auto vb = pp.v.to_vector(), gb = pp.grad_x.to_vector();
      v.insert(v.end(), vb.begin(), vb.end());
      g.insert(g.end(), gb.begin(), gb.end());
    }
    // grad_x is taken in normalized units; in data units, d v / d x_data = d v / d x_norm / scale per feature.
    const std::vector<double> sc = nz.kind == "none" ? std::vector<double>{1.0, 1.0} : nz.scale;
    const auto scale_of = [&](size_t j) { return sc.size() == 2 ? sc[j] : sc[0]; };
    Csv csv("x0,x1,v,grad_norm,g0,g1");
    const std::vector<double> p = gx.to_vector();
    double vmin = INFINITY, vmax = -INFINITY, gmax = 0;
    for (size_t i = 0; i < v.size(); ++i) {
      const double g0 = g[2 * i] / scale_of(0), g1 = g[2 * i + 1] / scale_of(1), gn = std::hypot(g0, g1);
      vmin = std::min(vmin, v[i]), vmax = std::max(vmax, v[i]), gmax = std::max(gmax, gn);
      csv << p[2 * i] << "," << p[2 * i + 1] << "," << v[i] << "," << gn << "," << g0 << "," << g1 << "\n";
    }
    csv.write(out + "/potential.csv");
    potential_json = {{"options", from_run ? "the run's regularizer section" : "PoissonOptions defaults"},
                      {"quadrature_points", quad.x.size(0)},
                      {"eps", po.eps},
                      {"source_mean", mean(quad.s.to(DType::f64)).item()},
                      {"v_min", vmin},
                      {"v_max", vmax},
                      {"grad_norm_max", gmax},
                      {"frame", grid_json(pg)}};
    seconds["potential"] = clock.lap();
  }

  // ---- metrics.json ------------------------------------------------------------------------------------------
  int64_t n_fixed = 0, n_def2 = 0, n_contractive = 0;
  double max_norm = 0, max_radius = 0;
  for (const auto& x : fp) {
    n_fixed += x.is_fixed_point, n_def2 += x.is_attractor, n_contractive += x.is_contractive;
    max_norm = std::max(max_norm, x.spectral_norm), max_radius = std::max(max_radius, x.spectral_radius);
  }
  double fmax = 0, fmean = 0;
  for (double x : field_norms) fmax = std::max(fmax, x), fmean += x / double(field_norms.size());
  json metrics;
  metrics["code_dim"] = k;
  metrics["plane"] = plane.pca ? "pca of the training codes" : "the codes";
  metrics["test_mse"] = trainer.history().empty() ? kNan : trainer.history().back().test_mse;
  metrics["epochs"] = trainer.epochs_done();
  metrics["iterate"] = {{"tol", tol_arg}, {"tol_units", tol_units}, {"tol_effective", tol}, {"max_iters", max_iters}};
  metrics["merge"] = {{"rule", mc.rule},
                      {"cos_threshold", mc.merge.cos_threshold},
                      {"distance_threshold", mc.merge.distance_threshold},
                      {"code_scale", scale}};
  metrics["train"] = census_json(c_train);
  metrics["test"] = census_json(c_test);
  metrics["noise"] = census_json(c_noise);
  metrics["memorization"] = {{"mean", num(mem_train.mean)},
                             {"std", num(mem_train.std)},
                             {"attractors", int64_t(mem_train.per_attractor.size())},
                             {"nearest_distance_mean", num(nearest_distance_mean(model, c_train.attractors.points, train_x))},
                             {"over", "distinct attractors of the training starts, cos(D(z*), nearest x_train)"}};
  metrics["dynamics"] = {{"chamfer_noise_train", num(chamfer)},
                         {"fpr95_noise_vs_train", num(fpr95)},
                         {"auroc_noise_vs_train", num(auroc_nt)},
                         {"attractor_rank_90", rank90},
                         {"attractor_rank_90_distinct", rank90_distinct}};
  metrics["attractors"] = {{"total_all_sources", n_att},
                           {"fixed_points", n_fixed},
                           {"attractors_definition_2", n_def2},
                           {"contractive", n_contractive},
                           {"max_spectral_norm", max_norm},
                           {"max_spectral_radius", max_radius},
                           {"power_iteration_checked", std::min<int64_t>(n_att, kPowerIterationCap)},
                           {"power_vs_jacobian_max_rel_gap", power_gap}};
  metrics["convergence"] = pearson;
  metrics["variance_ratio"] = variance;
  metrics["field"] = {{"grid", grid_json(grid)}, {"norm_max", fmax}, {"norm_mean", fmean}};
  if (!basins_json.is_null()) metrics["basins"] = basins_json;
  if (!potential_json.is_null()) {
    json pj = potential_json;
    pj.erase("frame");
    metrics["potential"] = pj;
    metrics["potential_frame"] = potential_json["frame"];
  }
  double total = 0;
  for (auto& [key, s] : seconds.items()) total += s.get<double>();
  seconds["total_before_figures"] = total;
  metrics["seconds"] = seconds;
  write_json(out + "/metrics.json", metrics);
  write_run_info(out, "field", args);

  std::printf("k = %lld, code scale %.3g, stop at squared step < %.3g, merge by %s (threshold %.3g)\n", (long long)k,
              scale, tol, mc.rule.c_str(), mc.rule == "distance" ? mc.merge.distance_threshold : mc.merge.cos_threshold);
  std::printf("distinct attractors: train %lld/%lld  test %lld/%lld  noise %lld/%lld (converged/starts: %lld %lld %lld)\n",
              (long long)c_train.distinct, (long long)c_train.starts, (long long)c_test.distinct,
              (long long)c_test.starts, (long long)c_noise.distinct, (long long)c_noise.starts,
              (long long)c_train.converged, (long long)c_test.converged, (long long)c_noise.converged);
  std::printf("attractors (all sources) %lld: %lld attractors by Definition 2, max spectral norm %.3g\n",
              (long long)n_att, (long long)n_def2, max_norm);
  std::printf("memorization %.4f +- %.4f, rank(90%%) %lld, chamfer(noise, train) %.4f, FPR95 %.3f\n",
              mem_train.mean, mem_train.std, (long long)rank90, chamfer, fpr95);
  std::printf("Proposition 3.2: Pearson r %.3f over %lld finite predictions (train %.3f, noise %.3f)\n",
              pearson_correlation(all_pred, all_meas), (long long)all_pred.size(), cs[kTrain].pearson,
              cs[kNoise].pearson);
  draw_figures(out);
  std::printf("wrote %s/report.html (%.1f s)\n", out.c_str(), total + clock.lap());
  return 0;
}

}  // namespace gg::cli
