// The data files of field_experiment (experiments/field.h), from what it computed (field_analysis.h).
#include <cmath>
#include <filesystem>
#include <limits>
#include <set>

#include "datasets/images.h"
#include "dynamics/ood.h"
#include "experiments/field_analysis.h"
#include "experiments/output.h"
#include "experiments/records.h"
#include "regularizers/poisson.h"

namespace gg::field_detail {

using nlohmann::json;

namespace {
constexpr double kNan = std::numeric_limits<double>::quiet_NaN();
}

void write_field_csv(const std::string& path, const PlaneField& field) {
  CsvWriter csv("p0,p1,v0,v1,norm");
  const std::vector<double> p = field.points.to_vector();
  for (size_t i = 0; i < field.norms.size(); ++i)
    csv << p[2 * i] << "," << p[2 * i + 1] << "," << field.vectors[2 * i] << "," << field.vectors[2 * i + 1] << ","
        << field.norms[i] << "\n";
  csv.write(path);
}

void write_plane_points(CsvWriter& csv, const std::vector<double>& pairs, const std::string& prefix) {
  for (size_t i = 0; i + 1 < pairs.size(); i += 2)
    csv << prefix << (prefix.empty() ? "" : ",") << pairs[i] << "," << pairs[i + 1] << "\n";
}

json write_field_snapshot(Autoencoder& model, const MemorizationReport& r, const Plane& plane, const Tensor& z_train,
                          const Grid2d& grid, const std::string& dir, const std::string& tag) {
  std::filesystem::create_directories(dir);
  write_field_csv(dir + "/field_" + tag + ".csv", field_in_plane(model, plane, grid));
  CsvWriter a("source,p0,p1,count");
  for (const auto* c : {&r.train, &r.noise}) {
    const std::vector<double> q = plane.project(c->attractors.points);
    for (int64_t i = 0; i < c->attractors.size(); ++i)
      a << (c == &r.train ? "train" : "noise") << "," << q[size_t(2 * i)] << "," << q[size_t(2 * i + 1)] << ","
        << c->attractors.counts[size_t(i)] << "\n";
  }
  a.write(dir + "/attractors_" + tag + ".csv");
  CsvWriter codes("p0,p1");
  write_plane_points(codes, plane.project(z_train));
  codes.write(dir + "/codes_" + tag + ".csv");
  return grid_json(grid);
}

void write_convergence(const Analysis& a, const std::string& out) {
  CsvWriter csv("source,sample,attractor,initial_error,rho,predicted,measured");
  for (int s = 0; s < kSources; ++s) {
    const ConvergenceSpeed& c = a.speed[size_t(s)];
    for (size_t i = 0; i < c.samples.size(); ++i) {
      const int64_t row = a.pooled.offset[size_t(s)] + c.samples[i];
      const bool finite = std::isfinite(c.predicted[i]);
      csv << kSourceName[s] << "," << c.samples[i] << "," << a.pooled.all.assignment[size_t(row)] << ","
          << c.initial_error[i] << "," << c.rho[i] << "," << (finite ? c.predicted[i] : kNan) << ","
          << c.measured[i] << "\n";
    }
  }
  csv.write(out + "/convergence.csv");
}

void write_attractors(const Analysis& a, const std::string& out) {
  const AttractorSet& all = a.pooled.all;
  const std::vector<double> plane = a.plane.project(all.points);
  std::string header =
      "id,rank,p0,p1,count,count_train,count_test,count_noise,count_grid,residual,spectral_norm,"
      "spectral_norm_power,power_iterations,spectral_radius,is_fixed_point,is_attractor,is_contractive,mem";
  for (int64_t j = 0; j < a.k; ++j) header += ",z" + std::to_string(j);
  CsvWriter csv(header);
  CsvWriter eig("id,index,re,im,modulus");
  const std::vector<double> zs = all.size() > 0 ? all.points.to_vector() : std::vector<double>{};
  for (int64_t r = 0; r < all.size(); ++r) {
    const int64_t i = a.pooled.order[size_t(r)];
    const FixedPointAnalysis& x = a.fixed_points[size_t(i)];
    const auto& c = a.pooled.counts[size_t(i)];
    const bool power = a.has_power[size_t(i)];
    csv << i << "," << r << "," << plane[size_t(2 * i)] << "," << plane[size_t(2 * i + 1)] << ","
        << all.counts[size_t(i)] << "," << c[kTrain] << "," << c[kTest] << "," << c[kNoise] << "," << c[kGrid]
        << "," << x.residual << "," << x.spectral_norm << "," << (power ? a.power[size_t(i)].sigma : kNan) << ","
        << (power ? a.power[size_t(i)].iterations : 0) << "," << x.spectral_radius << "," << int(x.is_fixed_point)
        << "," << int(x.is_attractor) << "," << int(x.is_contractive) << "," << a.mem_all.per_attractor[size_t(i)];
    for (int64_t j = 0; j < a.k; ++j) csv << "," << zs[size_t(i * a.k + j)];
    csv << "\n";
    for (size_t e = 0; e < x.eigenvalues.size(); ++e)
      eig << i << "," << e << "," << x.eigenvalues[e].real() << "," << x.eigenvalues[e].imag() << ","
          << std::abs(x.eigenvalues[e]) << "\n";
  }
  csv.write(out + "/attractors.csv");
  eig.write(out + "/eigenvalues.csv");
}

void write_codes_and_paths(Analysis& a, const std::string& out) {
  CsvWriter codes("source,p0,p1");
  for (int s = 0; s < 3; ++s) write_plane_points(codes, a.plane.project(a.starts[size_t(s)]), kSourceName[s]);
  codes.write(out + "/codes.csv");

  Autoencoder& model = a.trainer->model();
  const DType dt = model.config().dtype;
  IterateOptions rec = a.iterate;
  rec.record_every = 1;
  std::vector<Tensor> z0;
  std::vector<int64_t> ends;  // the last path index of each source, exclusive
  for (int s = 0; s < 3; ++s) {
    const int64_t n = std::min(kPaths[s], a.starts[size_t(s)].size(0));
    z0.push_back(row_block(a.starts[size_t(s)], 0, n).to(dt));
    ends.push_back((ends.empty() ? 0 : ends.back()) + n);
  }
  const Trajectories paths = iterate(model, concat(z0, 0), rec);
  CsvWriter csv("source,path,step,p0,p1,converged");
  for (int64_t i = 0; i < paths.size(); ++i) {
    const int s = i < ends[0] ? kTrain : i < ends[1] ? kTest : kNoise;
    const TrajectoryPath& tp = paths.paths[size_t(i)];
    const std::vector<double> p = a.plane.project(paths.path(i));
    const int64_t last = tp.steps.empty() ? 0 : tp.steps.back();
    for (size_t j = 0; j < tp.steps.size(); ++j)
      if (keep_path_step(tp.steps[j], last))
        csv << kSourceName[s] << "," << i << "," << tp.steps[j] << "," << p[2 * j] << "," << p[2 * j + 1] << ","
            << int(paths.converged(i)) << "\n";
  }
  csv.write(out + "/trajectories.csv");
}

json write_field_and_basins(Analysis& a, const std::string& out) {
  const PlaneField field = field_in_plane(a.trainer->model(), a.plane, a.grid);
  write_field_csv(out + "/field.csv", field);
  double fmax = 0, fmean = 0;
  for (double x : field.norms) fmax = std::max(fmax, x), fmean += x / double(field.norms.size());
  const std::vector<double> p = field.points.to_vector();
  json j = {{"field", {{"grid", grid_json(a.grid)}, {"norm_max", fmax}, {"norm_mean", fmean}}}, {"basins", nullptr}};
  if (a.k != 2) return j;
  CsvWriter basins("p0,p1,label,iterations,converged");
  const Trajectories& t = a.grid_run;
  std::set<int64_t> labels;
  int64_t unconverged = 0;
  for (int64_t i = 0; i < t.size(); ++i) {
    const int64_t label = a.pooled.all.assignment[size_t(a.pooled.offset[kGrid] + i)];
    if (label >= 0) labels.insert(label);
    unconverged += !t.converged(i);
    basins << p[size_t(2 * i)] << "," << p[size_t(2 * i + 1)] << "," << label << "," << t.iterations[size_t(i)] << ","
           << int(t.converged(i)) << "\n";
  }
  basins.write(out + "/basins.csv");
  j["basins"] = {{"cells", t.size()},
                 {"attractors_reached", int64_t(labels.size())},
                 {"cells_not_converged", unconverged},
                 {"mean_iterations", json_number(mean_iterations(t))}};
  return j;
}

void write_decoded(const Analysis& a, const std::string& out) {
  const int64_t n_att = a.pooled.all.size();
  const Dataset& train = a.trainer->train_set();
  const Normalizer& nz = a.trainer->normalizer();
  const std::vector<int64_t>& order = a.pooled.order;
  if (n_att > 0 && train.is_images()) {
    std::vector<int64_t> top(order.begin(), order.begin() + std::min<int64_t>(n_att, kDecodedImages));
    const int columns = static_cast<int>(std::min<size_t>(8, top.size()));
    write_image_grid(out + "/decoded_attractors.png", nz.invert(select_rows(a.decoded, top)).to(DType::f32), columns,
                     2, 2);
    return;
  }
  if (train.is_images() || train.x.dim() != 2) return;
  if (n_att > 0) {
    const Tensor dec = nz.invert(a.decoded.to(DType::f64));
    const SetDistances near = distance_to_set(dec, nz.invert(train.x.to(DType::f64)));
    int64_t n = 0, d = 0;
    const std::vector<double> v = rows_as_doubles(dec, n, d);
    std::string header;
    for (int64_t j = 0; j < d; ++j) header += "x" + std::to_string(j) + ",";
    CsvWriter csv(header + "id,count,count_train,count_test,count_noise,count_grid,mem,nearest_distance");
    for (int64_t r = 0; r < n_att; ++r) {
      const int64_t i = order[size_t(r)];
      for (int64_t j = 0; j < d; ++j) csv << v[size_t(i * d + j)] << ",";
      const auto& c = a.pooled.counts[size_t(i)];
      csv << i << "," << a.pooled.all.counts[size_t(i)] << "," << c[kTrain] << "," << c[kTest] << "," << c[kNoise]
          << "," << c[kGrid] << "," << a.mem_all.per_attractor[size_t(i)] << "," << near.distance[size_t(i)] << "\n";
    }
    csv.write(out + "/decoded_attractors.csv");
  }
  if (train.x.size(1) == 2) {  // the training data in data units, for the pictures over the input plane
    Dataset shown = train;
    shown.x = nz.invert(train.x.to(DType::f64));
    write_points_csv(out + "/data.csv", shown);
  }
}

json write_potential(const Analysis& a, int64_t grid_n, uint64_t seed, const std::string& out) {
  Trainer& trainer = *a.trainer;
  const Dataset& train = trainer.train_set();
  if (train.is_images() || train.x.dim() != 2 || train.x.size(1) != 2) return nullptr;
  Autoencoder& model = trainer.model();
  const Normalizer& nz = trainer.normalizer();
  const json* reg = find_regularizer_term(trainer.config(), "poisson");
  PoissonOptions po = reg ? reg->get<PoissonOptions>() : PoissonOptions{};
  po.source.create_graph = false;
  Generator qgen(seed + 3);
  const PoissonQuadrature quad = poisson_quadrature(model, train.x.to(model.config().dtype), po, qgen);
  const Tensor data = nz.invert(train.x.to(DType::f64));
  const Grid2d pg = frame_around(data.to_vector(), grid_n, kPotentialMargin);
  const Tensor gx = pg.points();  // data units
  const Tensor gx_norm = nz.apply(gx).to(model.config().dtype);
  std::vector<double> v, g;
  for (int64_t b = 0; b < gx.size(0); b += 1024) {
    const PoissonPotential pp = poisson_potential(model, row_block(gx_norm, b, std::min(gx.size(0), b + 1024)), quad, po);
    const auto vb = pp.v.to_vector(), gb = pp.grad_x.to_vector();
    v.insert(v.end(), vb.begin(), vb.end());
    g.insert(g.end(), gb.begin(), gb.end());
  }
  // grad_x is taken in normalized units; in data units, d v / d x_data = d v / d x_norm / scale per feature.
  const std::vector<double> sc = nz.kind == "none" ? std::vector<double>{1.0, 1.0} : nz.scale;
  const auto scale_of = [&](size_t j) { return sc.size() == 2 ? sc[j] : sc[0]; };
  CsvWriter csv("x0,x1,v,grad_norm,g0,g1");
  const std::vector<double> p = gx.to_vector();
  double vmin = INFINITY, vmax = -INFINITY, gmax = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    const double g0 = g[2 * i] / scale_of(0), g1 = g[2 * i + 1] / scale_of(1), gn = std::hypot(g0, g1);
    vmin = std::min(vmin, v[i]), vmax = std::max(vmax, v[i]), gmax = std::max(gmax, gn);
    csv << p[2 * i] << "," << p[2 * i + 1] << "," << v[i] << "," << gn << "," << g0 << "," << g1 << "\n";
  }
  csv.write(out + "/potential.csv");
  return {{"options", reg != nullptr ? "the run's regularizer section" : "PoissonOptions defaults"},
          {"quadrature_points", quad.x.size(0)},
          {"eps", po.eps},
          {"source_mean", mean(quad.s.to(DType::f64)).item()},
          {"v_min", vmin},
          {"v_max", vmax},
          {"grad_norm_max", gmax},
          {"frame", grid_json(pg)}};
}

}  // namespace gg::field_detail
