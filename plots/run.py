"""Figures of `gradgrad datasets`, `train`, `visualize` and `bench jacobian`, from the files each writes."""
import os
import sys

import matplotlib.pyplot as plt

from plots.draw import hist_pair, save
from plots.io import column, read_json, read_points, read_rows

CLASS_COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                 "#bcbd22", "#17becf"]


def _scatter(ax, cols, labels, size=4, fontsize=None):
    colours = [CLASS_COLOURS[int(c) % len(CLASS_COLOURS)] for c in labels] if labels is not None else "#1f77b4"
    if len(cols) == 3:
        ax.scatter(cols[0], cols[1], cols[2], c=colours, s=size, linewidths=0)
        ax.set_zlabel("x2", fontsize=fontsize)
    else:
        ax.scatter(cols[0], cols[1], c=colours, s=size, linewidths=0)
        ax.set_aspect("equal", adjustable="datalim")
    ax.set_xlabel("x0", fontsize=fontsize)
    ax.set_ylabel("x1", fontsize=fontsize)


def plot_datasets(run):
    """One PNG per toy set CSV, and all of them side by side in toy_sets.png."""
    names = sorted(f[:-4] for f in os.listdir(run) if f.endswith(".csv"))
    overview = plt.figure(figsize=(3.2 * len(names), 3.4))
    for i, name in enumerate(names):
        cols, labels = read_points(os.path.join(run, name + ".csv"))
        projection = "3d" if len(cols) == 3 else None
        fig = plt.figure(figsize=(4.5, 4.5))
        ax = fig.add_subplot(projection=projection)
        _scatter(ax, cols, labels, size=6)
        ax.set_title(f"{name} ({len(cols[0])} points, colour: class)")
        save(fig, run, name + ".png")
        ax = overview.add_subplot(1, len(names), i + 1, projection=projection)
        _scatter(ax, cols, labels, fontsize=7)
        ax.set_title(name, fontsize=10)
        ax.tick_params(labelsize=6)
    save(overview, run, "toy_sets.png", dpi=100)


def plot_train(run):
    """Loss curves from metrics.json; for 2-D data, the test points and where the autoencoder sends them."""
    epochs = read_json(os.path.join(run, "metrics.json"))["epochs"]
    if epochs:
        x = [e["epoch"] for e in epochs]
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
        axes[0].plot(x, [e["loss"] for e in epochs], label="training loss")
        axes[0].plot(x, [e["reconstruction"] for e in epochs], label="reconstruction term")
        # Older metrics.json files name the variant's term "regularizer" and the config's terms' sum "extra".
        variant = [e.get("variant_term", e.get("regularizer", 0)) for e in epochs]
        if any(v > 0 for v in variant):
            axes[0].plot(x, variant, label="variant's term")
        kinds = sorted({k for e in epochs for k in e.get("regularizers", {})})
        for kind in kinds:
            axes[0].plot(x, [abs(e["regularizers"].get(kind, 0)) for e in epochs], label=f"|{kind} term| (lambda R)")
        if not kinds and any(e.get("extra", 0) != 0 for e in epochs):
            axes[0].plot(x, [abs(e["extra"]) for e in epochs], label="|config regularizer| (e.g. lambda L_Pois)")
        axes[1].plot(x, [e["test_mse"] for e in epochs], color="#d62728", label="test MSE")
        for ax in axes:
            ax.set_xlabel("epoch")
            ax.set_yscale("log")
            ax.legend()
            ax.grid(alpha=0.3)
        axes[0].set_ylabel("mean over the epoch's batches")
        axes[1].set_ylabel("MSE(D(E(x)), x) on the test set")
        axes[0].set_title("training")
        axes[1].set_title("test reconstruction error")
        save(fig, run, "loss_curves.png")
    recon = os.path.join(run, "reconstructions.csv")
    if os.path.exists(recon):
        cols, _ = read_points(recon)
        fig, ax = plt.subplots(figsize=(5.5, 5.5))
        for x0, y0, x1, y1 in zip(*cols):
            ax.plot([x0, x1], [y0, y1], color="#999999", linewidth=0.4, zorder=1)
        ax.scatter(cols[0], cols[1], s=6, c="#1f77b4", label="test data", zorder=2)
        ax.scatter(cols[2], cols[3], s=6, c="#d62728", label="reconstruction D(E(x))", zorder=3)
        ax.set_aspect("equal", adjustable="datalim")
        ax.set_xlabel("x0")
        ax.set_ylabel("x1")
        ax.legend(loc="best")
        ax.set_title("data and reconstructions")
        save(fig, run, "reconstructions_2d.png")


def plot_visualize(run):
    """Paper 000, section 5: per corruption, clean vs corrupted codes (PCA) and histograms of s, v, |grad v|;
    with a sweep (sweep.csv), the means of s, v and |grad v| against the corruption strength."""
    if os.path.exists(os.path.join(run, "sweep.csv")):
        plot_corruption_sweep(run)
    for name in sorted(f for f in os.listdir(run) if f.startswith("viz_") and f.endswith(".csv")):
        rows = read_rows(os.path.join(run, name))
        clean = [r for r in rows if r["corrupted"] == "0"]
        corrupt = [r for r in rows if r["corrupted"] == "1"]
        spec = name[4:-4].replace("_", ":", 1)
        fig, axes = plt.subplots(1, 4, figsize=(17, 4))
        for part, colour, label in ((clean, "#1f77b4", "clean x"), (corrupt, "#d62728", f"corrupted ({spec})")):
            axes[0].scatter(column(part, "pc0"), column(part, "pc1"), s=5, c=colour, alpha=0.6, label=label,
                            linewidths=0)
        axes[0].set_title("PCA of z = f(x)")
        axes[0].set_xlabel("pc 0 (of the clean codes)")
        axes[0].set_ylabel("pc 1")
        axes[0].legend(loc="best", fontsize=8)
        for ax, key, title in ((axes[1], "s", "s_phi(x) = ||J_f||_F^2 (eq. 3)"), (axes[2], "v", "v(x) (eq. 10)"),
                               (axes[3], "grad_norm", "||grad v|| (eq. 10)")):
            hist_pair(ax, column(clean, key), column(corrupt, key), "clean", "corrupted", title, title.split(" (")[0],
                      density=False)
        fig.suptitle(f"corruption {spec}")
        save(fig, run, name[:-4] + ".png", dpi=100)


def plot_corruption_sweep(run):
    """`gradgrad visualize --sweep`: rows s_phi, v, |grad v| at the corrupted inputs, each divided by its value at
    strength 0 (the models' scales differ by orders of magnitude); columns the corruption kinds; a line
    (mean +- standard error) per run, and for v and |grad v| per run and estimator."""
    rows = read_rows(os.path.join(run, "sweep.csv"))
    kinds = list(dict.fromkeys(r["corruption"] for r in rows))
    runs = list(dict.fromkeys(r["run"] for r in rows))
    estimators = list(dict.fromkeys(r["estimator"] for r in rows))
    styles = ["-", "--", ":", "-."]
    fig, axes = plt.subplots(3, len(kinds), figsize=(5.5 * len(kinds), 11), squeeze=False)
    for col, kind in enumerate(kinds):
        for row, (key, title) in enumerate((("s", "s_phi = ||J_f||_F^2 (eq. 3)"), ("v", "v (each estimator)"),
                                            ("grad_v", "||grad v||"))):
            ax = axes[row][col]
            for i, name in enumerate(runs):
                for j, estimator in enumerate(estimators[:1] if key == "s" else estimators):
                    part = [r for r in rows if r["run"] == name and r["corruption"] == kind and r["estimator"] == estimator]
                    values, errors = column(part, key), column(part, key + "_se")
                    scale = abs(values[0]) if len(values) and values[0] != 0 else 1.0
                    label = name if key == "s" else f"{name}, {estimator}"
                    ax.errorbar(column(part, "amount"), values / scale, yerr=errors / scale,
                                color=CLASS_COLOURS[i % len(CLASS_COLOURS)], linestyle=styles[j % len(styles)],
                                marker="o", markersize=3, capsize=2, label=label)
            ax.set_title(f"{title} / its value at 0, {kind}", fontsize=9)
            ax.set_xlabel(f"{kind} strength")
            if col == 0:
                ax.legend(fontsize=7)
    fig.suptitle("paper 000's corruption claim: means at the corrupted inputs relative to the clean ones, "
                 "+- one standard error")
    save(fig, run, "viz_sweep.png", dpi=90)


def plot_bench(run):
    """`gradgrad bench jacobian`: the figures live beside the benchmark, in bench/plot_jacobian.py."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench"))
    import plot_jacobian  # noqa: E402

    plot_jacobian.plot_jacobian(read_json(os.path.join(run, "bench_jacobian.json")), run)
