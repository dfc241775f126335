#include "experiments/track.h"

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
  StageProgress progress("epoch " + std::to_string(epoch) + " dynamics");
  mo.progress = std::ref(progress);
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
  if (k == 2) {  // Figure 3a: the field in a frame around the current codes and attractors
    const Plane plane(z_train, 2);
    std::vector<double> cloud = plane.project(z_train);
    const std::vector<double> att = plane.project(r.train.attractors.points);
    cloud.insert(cloud.end(), att.begin(), att.end());
    const Grid2d grid = frame_around(cloud, o.grid, field_detail::kFrameMargin);
    j["frame"] = field_detail::write_field_snapshot(model, r, plane, z_train, grid, run_dir + "/dynamics",
                                                    "epoch_" + std::to_string(epoch));
  }
  j["seconds"] = clock.lap();
  return j;
}

}  // namespace gg
