// The commands on a finished training run: gradgrad field, ood, probe and visualize. Each declares its
// options and calls its experiment (experiments/field.h, ood.h, probe.h, visualize.h).
#include <cstdio>

#include "cli/commands.h"
#include "experiments/field.h"
#include "experiments/ood.h"
#include "experiments/probe.h"
#include "experiments/visualize.h"

namespace gg::cli {

Action add_field(CLI::App& app, const std::string& command) {
  const RunCommand<FieldOptions> c(
      app, "field", "paper 002: the latent field f(z) - z of a trained run, attractors, spectra, memorization");
  FieldOptions& o = *c.options;
  c.sub->add_option("--grid", o.grid, "cells per side of the field, basin and potential grids")
      ->check(at_least(2))
      ->capture_default_str();
  c.sub->add_option("--starts", o.starts, "training and test codes iterated (each)")
      ->check(at_least(1))
      ->capture_default_str();
  c.sub->add_option("--noise-starts", o.noise_starts, "N(0, I_k) codes iterated")
      ->check(at_least(1))
      ->capture_default_str();
  add_iterate_options(*c.sub, o.iterate);
  c.sub->add_option("--tol-units", o.tol_units, "--tol in units of the code scale, or as printed")
      ->check(CLI::IsMember({"code", "absolute"}))
      ->capture_default_str();
  add_seed_option(*c.sub, o.seed);
  return c.action(command, field_experiment, [](const FieldResult& r) { std::printf("%s", r.summary().c_str()); });
}

Action add_ood(CLI::App& app, const std::string& command) {
  const RunCommand<OodOptions> c(
      app, "ood", "paper 002, section 4.2: trajectory-distance OOD scores, AUROC, FPR95, k-NN baseline");
  OodOptions& o = *c.options;
  c.sub->add_option("--samples", o.samples, "samples per set")->check(at_least(1))->capture_default_str();
  c.sub->add_option("--train-samples", o.train_samples, "training codes iterated for the training attractors")
      ->check(at_least(1))
      ->capture_default_str();
  c.sub->add_option("--knn", o.knn, "neighbours of the k-NN baselines")->check(at_least(1))->capture_default_str();
  c.sub->add_option("--rotation", o.rotation, "degrees of the rotated set (0: none)")->capture_default_str();
  add_iterate_options(*c.sub, o.iterate);
  add_seed_option(*c.sub, o.seed);
  return c.action(command, ood_experiment,
                  [](const OodResult& r) { std::printf("%s\n%.2f min\n", r.table.c_str(), r.minutes); });
}

Action add_probe(CLI::App& app, const std::string& command) {
  const RunCommand<ProbeOptions> c(app, "probe",
                                   "paper 002, section 4.1: attractors of noise codes as an OMP dictionary");
  ProbeOptions& o = *c.options;
  c.sub->add_option("--test", o.test, "samples per test set")->check(at_least(1))->capture_default_str();
  c.sub->add_option("--dictionary", o.dictionary, "noise codes iterated for the dictionary (0: k)")
      ->check(at_least(0))
      ->capture_default_str();
  c.sub->add_option("--atoms", o.atoms, "atom counts of the curve (default 1, 2, 4, ..., k)")
      ->delimiter(',')
      ->check(at_least(1))
      ->type_name("N,...");
  c.sub->add_option("--sets", o.sets, "test sets: test (the run's own), mnist, fashion-mnist, a folder...")
      ->delimiter(',')
      ->type_name("NAME,...");
  c.sub->add_option("--show", o.show, "samples per image grid (0: none)")->check(at_least(0))->capture_default_str();
  add_iterate_options(*c.sub, o.iterate);
  add_seed_option(*c.sub, o.seed);
  return c.action(command, probe_experiment, [](const ProbeResult&) {});  // its table is in the report
}

Action add_visualize(CLI::App& app, const std::string& command) {
  const RunCommand<VisualizeOptions> c(
      app, "visualize", "paper 000's protocol: clean vs corrupted codes (PCA), histograms of s, v, |grad v|");
  VisualizeOptions& o = *c.options;
  c.sub->add_option("--corruptions", o.corruptions, "corruptions, each KIND:AMOUNT (datasets/corruption.h)")
      ->delimiter(',')
      ->type_name("SPEC,...")
      ->capture_default_str();
  c.sub->add_option("--samples", o.samples, "the first test samples")->check(at_least(1))->capture_default_str();
  c.sub
      ->add_option("--sweep", o.sweep,
                   "strength sweeps instead, each KIND:LO..HI (noise:0..0.5,rotation:0..90)")
      ->delimiter(',')
      ->type_name("KIND:LO..HI,...");
  c.sub->add_option("--sweep-points", o.sweep_points, "strengths per swept kind")
      ->check(at_least(2))
      ->capture_default_str();
  c.sub->add_option("--compare", o.compare, "more trained runs, side by side in the sweep")
      ->delimiter(',')
      ->type_name("RUN,...");
  c.sub->add_option("--estimators", o.estimators, "the sweep's estimators of v (paper, importance, ritz)")
      ->delimiter(',')
      ->check(CLI::IsMember({"paper", "importance", "ritz"}))
      ->capture_default_str();
  c.sub
      ->add_option("--gradient-noise", o.gradient_noise,
                   "draws: how much noise each source's probes add to lambda L_Pois's gradient (0: none)")
      ->check(at_least(0))
      ->capture_default_str();
  c.sub->add_option("--noise-sources", o.noise_sources, "sources of s_phi to compare, each METHOD[:PROBES]")
      ->delimiter(',')
      ->type_name("METHOD[:PROBES],...")
      ->capture_default_str();
  add_seed_option(*c.sub, o.seed);
  return c.action(command, visualize_experiment, [](const VisualizeResult& r) {
    if (r.metrics.contains("sweep")) {
      for (const auto& row : r.metrics["sweep"])
        std::printf("%-14s %-10s %-9s %6.3g   s %.4g +- %.2g   v %.4g +- %.2g   |grad v| %.4g +- %.2g\n",
                    row["run"].get<std::string>().c_str(), row["estimator"].get<std::string>().c_str(),
                    row["corruption"].get<std::string>().c_str(), row["amount"].get<double>(),
                    row["s"].get<double>(), row["s_se"].get<double>(), row["v"].get<double>(),
                    row["v_se"].get<double>(), row["grad_v"].get<double>(), row["grad_v_se"].get<double>());
      return;
    }
    for (const auto& [spec, m] : r.metrics.items()) {
      if (spec == "gradient_noise") continue;
      std::printf("%-14s s %.4g -> %.4g   v %.4g -> %.4g   |grad v| %.4g -> %.4g   L_Pois %.4g\n", spec.c_str(),
                  m["s_clean"].get<double>(), m["s_corrupted"].get<double>(), m["v_clean"].get<double>(),
                  m["v_corrupted"].get<double>(), m["grad_v_clean"].get<double>(), m["grad_v_corrupted"].get<double>(),
                  m["L_pois_eq9"].get<double>());
    }
    if (!r.metrics.contains("gradient_noise")) return;
    const nlohmann::json& n = r.metrics["gradient_noise"];
    const double own = n["sources"][0]["variance"].get<double>();
    std::printf("lambda L_Pois's gradient over %lld draws (eps %g):\n", n["draws"].get<long long>(),
                n["eps"].get<double>());
    for (const auto& row : n["sources"])
      std::printf(
          "  %-14s ||mean||^2 %.3e   variance %.3e   paired difference %.3e (%.1f%% of %s's variance)\n",
          row["source"].get<std::string>().c_str(), row["mean_sq"].get<double>(),
          row["variance"].get<double>(), row["paired_difference"].get<double>(),
          own > 0 ? 100 * row["paired_difference"].get<double>() / own : 0.0,
          n["sources"][0]["source"].get<std::string>().c_str());
    std::printf("  the run's objective over batches: ||mean||^2 %.3e   variance %.3e\n",
                n["objective_over_batches"]["mean_sq"].get<double>(),
                n["objective_over_batches"]["variance"].get<double>());
  });
}

}  // namespace gg::cli
