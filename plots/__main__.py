"""python3 plots DIR: draws the figures of a run folder's kind (its run.json) and rewrites its report.html; a
folder that holds runs (a sweep, or any folder of run folders) also gets index.html over them (plots/index.py)."""
import os
import sys

if not __package__:  # run as a folder (python3 plots RUN): import the package from the source root
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import matplotlib  # noqa: E402

matplotlib.use("Agg")

from plots import dynamics, experiments, field, index, io, poisson_check, report, run  # noqa: E402

PLOTTERS = {"datasets": run.plot_datasets, "train": run.plot_train, "visualize": run.plot_visualize,
            "bench": run.plot_bench, "field": field.plot_field, "ood": experiments.plot_ood,
            "probe": experiments.plot_probe, "sweep": experiments.plot_sweep,
            "poisson-check": poisson_check.plot_poisson_check}


def main(argv):
    if len(argv) != 2:
        sys.exit("usage: python3 plots DIR")
    folder = argv[1]
    has_runs = index.write_index(folder)
    if not io.exists(folder, "run.json"):
        if not has_runs:
            sys.exit(f"plots: {folder} holds no run.json and no run folders")
        return
    info = io.read_json(os.path.join(folder, "run.json"))
    kind = info["kind"]
    if kind not in PLOTTERS:
        sys.exit(f"plots: no plotter for runs of kind '{kind}' (known: {', '.join(PLOTTERS)})")
    PLOTTERS[kind](folder)
    if kind == "train" and io.read_json(os.path.join(folder, "metrics.json")).get("dynamics"):
        dynamics.plot_training_dynamics(folder)  # gradgrad train --track-dynamics: paper 002's figure 3
    report.write_report(folder, info)


if __name__ == "__main__":
    main(sys.argv)
