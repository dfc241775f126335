"""Figures of the paper-002 experiment commands, drawn from the files each command writes (cli/plots.py calls
these by the run's kind):

    plot_ood(run)    gradgrad ood:   score histograms, ID vs each OOD set, and ROC curves (Figure 5 right)
    plot_probe(run)  gradgrad probe: reconstruction error vs number of OMP atoms (Figure 4), labelled grids
    plot_sweep(run)  gradgrad sweep: every measure against the bottleneck size k (Figures 2, 6, 12, 3c-d)

Only the standard library and matplotlib; every number comes from the run's CSV/JSON, so the figures can be
restyled and redrawn (`gradgrad plot RUN_DIR`) without recomputing anything.
"""
import csv
import json
import math
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import ticker  # noqa: E402

ID_COLOUR, OOD_COLOUR = "#1f77b4", "#d62728"
METHOD_COLOURS = {"trajectory": "#d62728", "knn": "#1f77b4", "knn_input": "#7f7f7f"}


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _log_labels(ax):
    """Plain numbers on a log y axis: minor ticks labelled within a decade, 1-2-5 ticks within three."""
    lo, hi = ax.get_ylim()
    ax.yaxis.set_major_formatter(ticker.FormatStrFormatter("%.3g"))
    if lo > 0 and hi / lo < 10:
        ax.yaxis.set_minor_formatter(ticker.FormatStrFormatter("%.3g"))
        ax.tick_params(axis="y", which="minor", labelsize=7)
    else:
        if lo > 0 and hi / lo < 1000:
            ax.yaxis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_minor_formatter(ticker.NullFormatter())


def _float(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


# ---- gradgrad ood ----------------------------------------------------------------------------------------------
def _roc(id_scores, ood_scores):
    """(fpr, tpr) points as the threshold tau falls: tpr = share of ID with score <= tau (accepted as ID),
    fpr = share of OOD with score <= tau (section 4.2's convention: ID is the positive class)."""
    points = sorted([(s, 0) for s in id_scores] + [(s, 1) for s in ood_scores])
    n_id, n_ood = len(id_scores), len(ood_scores)
    fpr, tpr, acc_id, acc_ood = [0.0], [0.0], 0, 0
    i = 0
    while i < len(points):
        j = i
        while j < len(points) and points[j][0] == points[i][0]:  # ties move together
            acc_id += points[j][1] == 0
            acc_ood += points[j][1] == 1
            j += 1
        fpr.append(acc_ood / n_ood)
        tpr.append(acc_id / n_id)
        i = j
    return fpr, tpr


def _hist(ax, a, b, label_a, label_b, title, log=False):
    values = [v for v in a + b if math.isfinite(v) and (v > 0 or not log)]
    if not values:
        return
    lo, hi = min(values), max(values)
    if log:
        bins = [lo * (hi / lo) ** (i / 40) for i in range(41)] if hi > lo else 10
        ax.set_xscale("log")
    else:
        bins = [lo + (hi - lo) * i / 40 for i in range(41)] if hi > lo else 10
    ax.hist(a, bins=bins, alpha=0.55, color=ID_COLOUR, label=label_a, density=True)
    ax.hist(b, bins=bins, alpha=0.55, color=OOD_COLOUR, label=label_b, density=True)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)


def plot_ood(run):
    metrics = json.load(open(os.path.join(run, "metrics.json")))
    rows = _rows(os.path.join(run, "scores.csv"))
    id_name = metrics["settings"]["in_distribution"]
    sets = metrics["ood_sets"]
    by_set = {}
    for r in rows:
        by_set.setdefault(r["set"], []).append(r)
    score = {"trajectory": "trajectory_score", "knn": "knn_score", "knn_input": "knn_input_score"}
    label = {"trajectory": "d(attractors), trajectory",
             "knn": f"kNN latent (K={metrics['settings']['knn_k']})",
             "knn_input": f"kNN input (K={metrics['settings']['knn_k']})"}
    col = {m: {s: [_float(r[c]) for r in by_set[s]] for s in by_set} for m, c in score.items()}

    fig, axes = plt.subplots(len(sets), 3, figsize=(15, 3.4 * len(sets)), squeeze=False)
    for i, s in enumerate(sets):
        m = metrics[s]
        for j, method in enumerate(("trajectory", "knn")):
            _hist(axes[i][j], col[method][id_name], col[method][s], f"{id_name} (ID)", f"{s} (OOD)",
                  f"{label[method]}: AUROC {100 * m[method + '_auroc']:.1f}, FPR95 {100 * m[method + '_fpr95']:.1f}")
            axes[i][j].set_xlabel("score (higher = more OOD)", fontsize=8)
        ax = axes[i][2]
        for method in ("trajectory", "knn", "knn_input"):
            fpr, tpr = _roc(col[method][id_name], col[method][s])
            ax.plot(fpr, tpr, color=METHOD_COLOURS[method],
                    label=f"{label[method]} (AUROC {100 * m[method + '_auroc']:.1f})")
        ax.axhline(0.95, color="#999999", linestyle=":", linewidth=1)
        ax.plot([0, 1], [0, 1], color="#cccccc", linewidth=0.8)
        ax.set_xlabel("OOD accepted as ID (FPR)", fontsize=8)
        ax.set_ylabel("ID accepted (TPR)", fontsize=8)
        ax.set_title(f"ROC, {s} vs {id_name}", fontsize=9)
        ax.legend(fontsize=7, loc="lower right")
        ax.set_xlim(0, 1), ax.set_ylim(0, 1.01)
    fig.suptitle("Section 4.2: trajectory distance to the training attractors vs the k-NN baselines")
    fig.tight_layout()
    fig.savefig(os.path.join(run, "ood_scores.png"), dpi=90)
    plt.close(fig)

    # Figure 5 (left) as bars: AUROC and FPR95 per set and method.
    fig, axes = plt.subplots(1, 2, figsize=(12, 3.8))
    width = 0.8 / 3
    for j, method in enumerate(("trajectory", "knn", "knn_input")):
        xs = [i + (j - 1) * width for i in range(len(sets))]
        axes[0].bar(xs, [100 * metrics[s][method + "_auroc"] for s in sets], width, color=METHOD_COLOURS[method],
                    label=label[method])
        axes[1].bar(xs, [100 * metrics[s][method + "_fpr95"] for s in sets], width, color=METHOD_COLOURS[method],
                    label=label[method])
    for ax, title in ((axes[0], "AUROC (%), higher is better"), (axes[1], "FPR at 95% TPR (%), lower is better")):
        ax.set_xticks(range(len(sets)))
        ax.set_xticklabels(sets, fontsize=8)
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


# ---- gradgrad probe --------------------------------------------------------------------------------------------
def _labelled_grid(run, grid, out_name, title):
    """A contact sheet written by the C++ side, with its row labels on the left."""
    image = plt.imread(os.path.join(run, grid["file"]))
    h, pad = grid["tile_height"], grid["padding"]
    rows = grid["rows"]
    height = image.shape[0] / 100 * 1.3 + 0.6
    fig, ax = plt.subplots(figsize=(image.shape[1] / 100 * 1.3 + 2.4, height))
    ax.imshow(image, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_yticks([i * (h + pad) + h / 2 for i in range(len(rows))])
    ax.set_yticklabels(rows, fontsize=8)
    ax.set_xticks([])
    for side in ax.spines.values():
        side.set_visible(False)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(os.path.join(run, out_name), dpi=100)
    plt.close(fig)


def plot_probe(run):
    metrics = json.load(open(os.path.join(run, "metrics.json")))
    rows = _rows(os.path.join(run, "probe.csv"))
    sets = metrics["sets"]
    st = metrics["settings"]
    fig, axes = plt.subplots(1, len(sets), figsize=(5.2 * len(sets), 4), squeeze=False)
    for ax, s in zip(axes[0], sets):
        for dictionary, colour, name in (("random_basis", "#1f77b4", "random orthonormal basis"),
                                         ("attractors", "#d62728", "attractors of noise")):
            pts = [(int(r["atoms"]), _float(r["output_mse"])) for r in rows
                   if r["set"] == s and r["dictionary"] == dictionary]
            ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", color=colour, label=name, markersize=4)
        ax.axhline(metrics[s]["autoencoder_mse"], color="#555555", linestyle="--", linewidth=1,
                   label="D(E(x)) (all of z)")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        _log_labels(ax)
        ax.set_xlabel("number of atoms (OMP)")
        ax.set_ylabel("MSE(D(z_s), x)")
        ax.set_title(f"{s} ({metrics[s]['n']} samples)", fontsize=10)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    fig.suptitle(f"Section 4.1 / Figure 4: k = {st['code_dim']}, dictionary of {st['dictionary_size']} noise "
                 f"attractors ({st['dictionary_distinct_attractors']} distinct)", fontsize=10)
    fig.tight_layout()
    fig.savefig(os.path.join(run, "probe_error_vs_atoms.png"), dpi=100)
    plt.close(fig)
    for grid in metrics.get("grids", []):
        _labelled_grid(run, grid, f"reconstructions_{grid['set']}.png",
                       f"{grid['set']}: OMP reconstructions from noise attractors vs a random basis")


# ---- gradgrad sweep --------------------------------------------------------------------------------------------
def plot_sweep(run):
    rows = _rows(os.path.join(run, "sweep.csv"))
    if not rows:
        return
    k = [int(r["k"]) for r in rows]

    def col(name):
        return [_float(r[name]) for r in rows]

    panels = [
        ("test_mse", "test reconstruction MSE (Figure 2 centre)", True),
        ("memorization", "memorization coefficient (Figure 2 left)", False),
        ("distinct", "distinct attractors, cos > 0.99 (Figure 3c)", True),
        ("chamfer_noise_train", "Chamfer similarity, noise vs training attractors (Figure 3d)", False),
        ("attractor_rank", "rank explaining 90% of var(D(Z*)) (Figure 12)", False),
        ("variance_ratio_init", "var(out) / var(in) at initialization (Figure 6)", False),
        ("noise_vs_train", "noise vs training trajectories (Figure 3d)", False),
        ("converged", "starts that converged", False),
    ]
    fig, axes = plt.subplots(2, 4, figsize=(19, 8))
    for ax, (key, title, log) in zip(axes.flat, panels):
        if key == "memorization":
            mean, std = col("memorization_mean"), col("memorization_std")
            ax.errorbar(k, mean, yerr=std, fmt="o-", color="#1f77b4", capsize=3)
        elif key == "distinct":
            for name, colour in (("train", "#1f77b4"), ("test", "#d62728"), ("noise", "#bcbd22")):
                ax.plot(k, col("distinct_" + name), "o-", color=colour, label=f"from {name} codes")
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
        elif key == "converged":
            starts = col("starts")
            for name, colour in (("train", "#1f77b4"), ("test", "#d62728"), ("noise", "#bcbd22")):
                ax.plot(k, [c / s if s else math.nan for c, s in zip(col("converged_" + name), starts)], "o-",
                        color=colour, label=name)
            ax.set_ylim(-0.02, 1.02)
            ax.legend(fontsize=8)
        else:
            ax.plot(k, col(key), "o-")
        if log:
            ax.set_yscale("log")
        if ax.get_yscale() == "log":
            _log_labels(ax)
        ax.set_xscale("log", base=2)
        ax.set_xticks(k)
        ax.set_xticklabels([str(v) for v in k])
        ax.set_xlabel("bottleneck k")
        ax.set_title(title, fontsize=9)
        ax.grid(alpha=0.3)
    fig.suptitle("Memorization vs generalization over the bottleneck size (paper 002, section 3.2)")
    fig.tight_layout()
    fig.savefig(os.path.join(run, "sweep.png"), dpi=90)
    plt.close(fig)

    grid = os.path.join(run, "attractors_by_k.png")
    if os.path.exists(grid):
        sample = plt.imread(grid)
        columns = 10
        tile = (sample.shape[1] - (columns - 1) * 2) // columns
        _labelled_grid(run, {"file": "attractors_by_k.png", "rows": [f"k = {v}" for v in k],
                             "tile_height": tile, "padding": 2},
                       "attractors_by_k_labelled.png",
                       "decoded training attractors, most visited first (Figure 2 right)")
