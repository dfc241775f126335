"""Figures of the paper-002 experiment commands, from the files each writes:

    plot_ood(run)    gradgrad ood:   score histograms, ID vs each OOD set, the ROC curves the C++ side
                                     computed (roc.csv; Figure 5 right), the table as bars, and where along
                                     the paths each set's score comes from (trajectory_profile.csv)
    plot_probe(run)  gradgrad probe: reconstruction error vs number of OMP atoms (Figure 4), labelled grids
    plot_sweep(run)  gradgrad sweep: every measure against the bottleneck size k (Figures 2, 6, 12, 3c-d), or
                     against the training-set size where the sweep lists train_sizes (Figure 13), the mean
                     over the seeds where the sweep has several; the 2-D fields of its k = 2 models over a
                     fixed box side by side where it has them (Figure 1)
"""
import glob
import re
import math
import os

import matplotlib.pyplot as plt
import numpy as np

from plots.draw import hist_pair, labelled_grid, log_labels, save
from plots.dynamics import field_snapshot_panel
from plots.io import column, exists, read_json, read_rows

METHOD_COLOURS = {"trajectory": "#d62728", "knn": "#1f77b4", "knn_input": "#7f7f7f"}
METHODS = ("trajectory", "knn", "knn_input")


# ---- gradgrad ood ----------------------------------------------------------------------------------------------
def plot_ood(run):
    metrics = read_json(os.path.join(run, "metrics.json"))
    rows = read_rows(os.path.join(run, "scores.csv"))
    roc = read_rows(os.path.join(run, "roc.csv")) if exists(run, "roc.csv") else []
    id_name = metrics["settings"]["in_distribution"]
    sets = metrics["ood_sets"]
    by_set = {}
    for r in rows:
        by_set.setdefault(r["set"], []).append(r)
    knn = metrics["settings"]["knn_k"]
    label = {"trajectory": "d(attractors), trajectory", "knn": f"kNN latent (K={knn})",
             "knn_input": f"kNN input (K={knn})"}
    scores = {m: {s: column(by_set[s], m + "_score") for s in by_set} for m in METHODS}

    fig, axes = plt.subplots(len(sets), 3, figsize=(15, 3.4 * len(sets)), squeeze=False)
    for i, s in enumerate(sets):
        m = metrics[s]
        for j, method in enumerate(("trajectory", "knn")):
            hist_pair(axes[i][j], scores[method][id_name], scores[method][s], f"{id_name} (ID)", f"{s} (OOD)",
                      f"{label[method]}: AUROC {100 * m[method + '_auroc']:.1f}, FPR95 {100 * m[method + '_fpr95']:.1f}",
                      "score (higher = more OOD)")
        ax = axes[i][2]
        for method in METHODS:
            points = [r for r in roc if r["set"] == s and r["method"] == method]
            ax.plot(column(points, "fpr"), column(points, "tpr"), color=METHOD_COLOURS[method],
                    label=f"{label[method]} (AUROC {100 * m[method + '_auroc']:.1f})")
        ax.axhline(0.95, color="#999999", linestyle=":", linewidth=1)
        ax.plot([0, 1], [0, 1], color="#cccccc", linewidth=0.8)
        ax.set_xlabel("OOD accepted as ID (FPR)", fontsize=8)
        ax.set_ylabel("ID accepted (TPR)", fontsize=8)
        ax.set_title(f"ROC, {s} vs {id_name}", fontsize=9)
        ax.legend(fontsize=7, loc="lower right")
        ax.set_xlim(0, 1), ax.set_ylim(0, 1.01)
    fig.suptitle("Section 4.2: trajectory distance to the training attractors vs the k-NN baselines")
    save(fig, run, "ood_scores.png", dpi=90)

    # Figure 5 (left) as bars: AUROC and FPR95 per set and method.
    fig, axes = plt.subplots(1, 2, figsize=(12, 3.8))
    width = 0.8 / 3
    for j, method in enumerate(METHODS):
        xs = [i + (j - 1) * width for i in range(len(sets))]
        for ax, key in ((axes[0], "_auroc"), (axes[1], "_fpr95")):
            ax.bar(xs, [100 * metrics[s][method + key] for s in sets], width, color=METHOD_COLOURS[method],
                   label=label[method])
    for ax, title in ((axes[0], "AUROC (%), higher is better"), (axes[1], "FPR at 95% TPR (%), lower is better")):
        ax.set_xticks(range(len(sets)))
        ax.set_xticklabels(sets, fontsize=8)
        ax.set_xlabel("OOD set")
        ax.set_ylabel("percent")
        ax.set_title(title, fontsize=10)
        ax.set_ylim(0, 100)
        ax.grid(axis="y", alpha=0.3)
    axes[0].axhline(50, color="#999999", linestyle=":", linewidth=1)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=8)
    fig.suptitle(f"OOD detection, in-distribution {id_name}")
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.savefig(os.path.join(run, "ood_table.png"), dpi=90)
    plt.close(fig)
    if exists(run, "trajectory_profile.csv"):
        plot_trajectory_profile(run, metrics, id_name, [id_name] + sets)


def plot_trajectory_profile(run, metrics, id_name, sets):
    """The score of section 4.2 is the mean of d(z_t, Z*_train) over a path: per set, that distance against the
    step t (median and quartiles over the set, a stopped path holding its last distance), and how many paths
    are still moving."""
    rows = read_rows(os.path.join(run, "trajectory_profile.csv"))
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, s in enumerate(sets):
        part = [r for r in rows if r["set"] == s]
        if not part:
            continue
        step = np.array(column(part, "step")) + 1  # t + 1 on a log axis, so that z_0 shows
        colour = colours[i % len(colours)]
        name = f"{s} (ID)" if s == id_name else s
        axes[0].plot(step, column(part, "median"), color=colour, label=name)
        axes[0].fill_between(step, column(part, "q25"), column(part, "q75"), color=colour, alpha=0.2)
        axes[1].plot(step, 100 * np.array(column(part, "moving")) / metrics[s]["n"], color=colour, label=name)
    axes[0].set_ylabel("d(z_t, Z*_train), latent units\n(median, band 25-75% of the set)")
    axes[0].set_title("distance to the nearest training attractor along the path", fontsize=10)
    axes[1].set_ylabel("paths still moving after t (% of the set)")
    axes[1].set_title("how long the paths are", fontsize=10)
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("iteration t + 1 (log)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("Where the trajectory score comes from: a sample's score is the mean over its path of the distance on the left")
    save(fig, run, "trajectory_profile.png", dpi=90)


# ---- gradgrad probe --------------------------------------------------------------------------------------------
def plot_probe(run):
    metrics = read_json(os.path.join(run, "metrics.json"))
    rows = read_rows(os.path.join(run, "probe.csv"))
    sets = metrics["sets"]
    st = metrics["settings"]
    fig, axes = plt.subplots(1, len(sets), figsize=(5.2 * len(sets), 4), squeeze=False)
    for ax, s in zip(axes[0], sets):
        for dictionary, colour, name in (("random_basis", "#1f77b4", "random orthonormal basis"),
                                         ("attractors", "#d62728", "attractors of noise")):
            part = [r for r in rows if r["set"] == s and r["dictionary"] == dictionary]
            ax.plot(column(part, "atoms"), column(part, "output_mse"), "o-", color=colour, label=name, markersize=4)
        ax.axhline(metrics[s]["autoencoder_mse"], color="#555555", linestyle="--", linewidth=1,
                   label="D(E(x)) (all of z)")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        log_labels(ax)
        ax.set_xlabel("number of atoms (OMP)")
        ax.set_ylabel("MSE(D(z_s), x)")
        ax.set_title(f"{s} ({metrics[s]['n']} samples)", fontsize=10)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    fig.suptitle(f"Section 4.1 / Figure 4: k = {st['code_dim']}, dictionary of {st['dictionary_size']} noise "
                 f"attractors ({st['dictionary_distinct_attractors']} distinct)", fontsize=10)
    save(fig, run, "probe_error_vs_atoms.png", dpi=100)
    for grid in metrics.get("grids", []):
        labelled_grid(run, grid, f"reconstructions_{grid['set']}.png",
                      f"{grid['set']}: OMP reconstructions from noise attractors vs a random basis")


# ---- gradgrad sweep --------------------------------------------------------------------------------------------
SWEEP_PANELS = [  # key, title, y label, log y
    ("test_mse", "test reconstruction MSE (Figure 2 centre)", "MSE(D(E(x)), x)", True),
    ("memorization", "memorization coefficient (Figure 2 left)", "cos(D(z*), nearest x_train)", False),
    ("distinct", "distinct attractors, cos > 0.99 (Figure 3c)", "distinct attractors", True),
    ("chamfer_noise_train", "Chamfer similarity, noise vs training attractors (Figure 3d)", "Chamfer similarity",
     False),
    ("attractor_rank", "rank explaining 90% of var(D(Z*)) (Figure 12)", "principal components", False),
    ("variance_ratio_init", "var(out) / var(in) at initialization (Figure 6)", "variance ratio", False),
    ("noise_vs_train", "noise vs training trajectories (Figure 3d)", "FPR95, AUROC", False),
    ("converged", "starts that converged", "fraction of the starts", False),
]


def _sweep_panel(ax, key, k, col):
    if key == "memorization":
        ax.errorbar(k, col("memorization_mean"), yerr=col("memorization_std"), fmt="o-", color="#1f77b4", capsize=3)
    elif key in ("distinct", "converged"):
        for name, colour in (("train", "#1f77b4"), ("test", "#d62728"), ("noise", "#bcbd22")):
            values = col(key + "_" + name)
            if key == "converged":  # of each source's own starts: the test set may hold fewer than asked for
                try:
                    starts = col("starts_" + name)
                except KeyError:  # a sweep.csv written before the per-source columns
                    starts = col("starts")
                values = [c / s if s else math.nan for c, s in zip(values, starts)]
            ax.plot(k, values, "o-", color=colour, label=f"from {name} codes")
        if key == "converged":
            ax.set_ylim(-0.02, 1.02)
        ax.legend(fontsize=8)
    elif key == "variance_ratio_init":
        ax.plot(k, col("variance_ratio_init"), "o-", label="D(E(x)), x ~ N(0, I)")
        ax.plot(k, col("variance_ratio_init_latent"), "s--", label="E(D(z)), z ~ N(0, I_k)")
        ax.axhline(1, color="#999999", linestyle=":", linewidth=1)
        ax.set_yscale("log")
        ax.legend(fontsize=8)
    elif key == "noise_vs_train":
        ax.plot(k, col("fpr95_noise_vs_train"), "o-", color="#9467bd", label="FPR95 (lower: separable)")
        ax.plot(k, col("auroc_noise_vs_train"), "s--", color="#2ca02c", label="AUROC")
        ax.set_ylim(-0.02, 1.02)
        ax.legend(fontsize=8)
    else:
        ax.plot(k, col(key), "o-")


def _point_label(row, with_size, with_seed):
    return (f"k = {row['k']}" + (f", n = {int(float(row['train_size']))}" if with_size else "") +
            (f", seed {row['seed']}" if with_seed else ""))


def _sweep_figure(rows, x_key, x_label, title, run, name, retitle=None):
    """Every measure of SWEEP_PANELS against x_key (k or train_size), the mean over the rows sharing an x;
    `retitle` maps a panel's key to another title."""
    x_of_row = column(rows, x_key, int)
    x = sorted(set(x_of_row.tolist()))
    runs_per_x = len(rows) // len(x)

    def col(name):
        values = column(rows, name)
        return [float(np.mean(values[x_of_row == v])) for v in x]

    fig, axes = plt.subplots(2, 4, figsize=(19, 8))
    for ax, (key, panel_title, ylabel, log) in zip(axes.flat, SWEEP_PANELS):
        panel_title = (retitle or {}).get(key, panel_title)
        _sweep_panel(ax, key, x, col)
        if log:
            ax.set_yscale("log")
        if ax.get_yscale() == "log":
            log_labels(ax)
        ax.set_xscale("log", base=2)
        ax.set_xticks(x)
        ax.set_xticklabels([str(v) for v in x])
        ax.set_xlabel(x_label)
        ax.set_ylabel(ylabel, fontsize=8)
        ax.set_title(panel_title, fontsize=9)
        ax.grid(alpha=0.3)
    fig.suptitle(title + (f", mean of {runs_per_x} seeds per point" if runs_per_x > 1 else ""))
    save(fig, run, name, dpi=90)


def plot_sweep(run):
    rows = read_rows(os.path.join(run, "sweep.csv"))
    if not rows:
        return
    settings = read_json(os.path.join(run, "sweep_config.json")).get("sweep", {}) if exists(
        run, "sweep_config.json") else {}
    by_size = len(settings.get("train_sizes") or []) > 0
    with_seed = len(settings.get("seeds") or []) > 0
    if by_size:  # Figure 13: each measure against the training-set size, one figure per bottleneck
        ks = sorted(set(int(r["k"]) for r in rows))
        for k in ks:
            _sweep_figure([r for r in rows if int(r["k"]) == k], "train_size", "training-set size n (samples)",
                          f"Memorization against the training-set size, k = {k} (paper 002, Figure 13)", run,
                          "sweep.png" if len(ks) == 1 else f"sweep_k_{k}.png",
                          {"memorization": "memorization coefficient (Figure 13)",
                           "test_mse": "test reconstruction MSE"})
    else:
        _sweep_figure(rows, "k", "bottleneck k",
                      "Memorization vs generalization over the bottleneck size (paper 002, section 3.2)", run,
                      "sweep.png")
    _fields_by_point(run)

    if exists(run, "attractors_by_k.png"):
        sample = plt.imread(os.path.join(run, "attractors_by_k.png"))
        columns = 10
        tile = (sample.shape[1] - (columns - 1) * 2) // columns
        labels = [_point_label(r, by_size, with_seed) for r in rows]
        labelled_grid(run, {"file": "attractors_by_k.png", "rows": labels, "tile_height": tile,
                            "padding": 2},
                      "attractors_by_k_labelled.png", "decoded training attractors, most visited first (Figure 2 right)")


def _fields_by_point(run):
    """Figure 1: the field of each k = 2 model of the sweep over the sweep's fixed box, side by side."""
    def natural(path):  # k_2_n_64 before k_2_n_128
        return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path)]

    panels = sorted(glob.glob(os.path.join(run, "*", "dynamics", "field_trained.csv")), key=natural)
    if not panels:
        return
    fig, axes = plt.subplots(1, len(panels), figsize=(4.4 * len(panels), 4.2), squeeze=False)
    for ax, path in zip(axes[0], panels):
        point_dir = os.path.dirname(os.path.dirname(path))
        point = read_json(os.path.join(point_dir, "sweep_point.json"))["point"] if os.path.exists(
            os.path.join(point_dir, "sweep_point.json")) else {}
        title = (f"{os.path.basename(point_dir)}: {point.get('distinct_train', '?')} training attractors\n"
                 f"test MSE {point.get('test_mse', float('nan')):.3g}")
        field_snapshot_panel(ax, os.path.dirname(path), "trained", title, colorbar=True)
    fig.suptitle("The latent field f(z) - z of each 2-D model over a fixed box of codes (paper 002, Figure 1)\n"
                 "colour: ||f(z) - z||, dots: training codes, "
                 "stars: training attractors (label: starts that reached it)", fontsize=10)
    save(fig, run, "fields.png", dpi=100)
