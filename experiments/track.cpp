#include "experiments/track.h"

#include <filesystem>

#include "dynamics/memorization.h"
#include "dynamics/merge_rule.h"
#include "dynamics/plane.h"
#include "experiments/field_analysis.h"
#include "experiments/output.h"
#include "experiments/progress.h"
#include "experiments/records.h"
#include "experiments/run_folder.h"

namespace gg {

using nlohmann::json;

namespace {

using field_detail::write_plane_points;

// Figure 3a for k = 2: the field on a coarse grid around the current codes, the attractors and the codes.
json write_field_snapshot(Autoencoder& model, const MemorizationReport& r, const Tensor& z_train, int64_t epoch,
                          const std::string& dir, int64_t grid_n) {
  std::filesystem::create_directories(dir);
  const Plane plane(z_train, 2);
  const std::vector<double> codes = plane.project(z_train);
  std::vector<double> cloud = codes;
  const std::vector<double> att = plane.project(r.train.attractors.points);
  cloud.insert(cloud.end(), att.begin(), att.end());
  const Grid2d grid = frame_around(cloud, grid_n, field_detail::kFrameMargin);
  const std::string e = std::to_string(epoch);
  field_detail::write_field_csv(dir + "/field_epoch_" + e + ".csv", field_in_plane(model, plane, grid));
  CsvWriter a("source,p0,p1,count");
  for (const auto* c : {&r.train, &r.noise}) {
    const std::vector<double> q = plane.project(c->attractors.points);
    for (int64_t i = 0; i < c->attractors.size(); ++i)
      a << (c == &r.train ? "train" : "noise") << "," << q[size_t(2 * i)] << "," << q[size_t(2 * i + 1)] << ","
        << c->attractors.counts[size_t(i)] << "\n";
  }
  a.write(dir + "/attractors_epoch_" + e + ".csv");
  CsvWriter cc("p0,p1");
  write_plane_points(cc, codes);
  cc.write(dir + "/codes_epoch_" + e + ".csv");
  return grid_json(grid);
}

}  // namespace

json dynamics_snapshot(Trainer& trainer, int64_t epoch, const std::string& run_dir, const TrackOptions& o) {
  Stopwatch clock;
  Autoencoder& model = trainer.model();
  const int64_t k = model.config().code_dim;
  const DType dt = model.config().dtype;
  const Tensor train_x = trainer.train_set().x.to(dt), test_x = trainer.test_set().x.to(dt);

  // memorization_report picks its training starts as pick_rows(n, starts, seed): the same rows here give
  // the code scale (for the merge rule) and the frame of the snapshot.
  const Tensor z_train = encode_batched(model, select_rows(train_x, pick_rows(train_x.size(0), o.starts, o.seed)));
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

  json j = memorization_record(r);
  j["epoch"] = epoch;
  j["test_mse"] = epoch > 0 && !trainer.history().empty() ? trainer.history().back().test_mse
                                                          : trainer.reconstruction_error(trainer.test_set());
  j["nearest_distance_mean"] = json_number(nearest_distance_mean(model, r.train.attractors.points, train_x));
  j["attractor_rank_distinct"] =
      r.train.attractors.size() > 0 ? attractor_rank(decode_batched(model, r.train.attractors.points), 0.9) : 0;
  j["code_scale"] = scale;
  j["tol_effective"] = tol;
  j["merge_rule"] = mc.rule;
  j["merge_distance"] = mc.merge.distance_threshold;
  if (k == 2) j["frame"] = write_field_snapshot(model, r, z_train, epoch, run_dir + "/dynamics", o.grid);
  j["seconds"] = clock.lap();
  return j;
}

}  // namespace gg
