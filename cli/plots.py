#!/usr/bin/python3
"""The plotting module of gradgrad: draws a run's figures from the data files the run wrote, and its report.

    python3 cli/plots.py RUN_DIR

RUN_DIR/run.json names the kind of run ("datasets", ...); each kind has one function below that reads that
run's CSV/JSON files and writes PNGs next to them. Then report.html is rewritten to show every PNG in the
folder and the numbers in metrics.json. Restyle a figure here and redraw an old run without recompiling
(`gradgrad plot RUN_DIR` runs this same script).
"""
import csv
import html
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

CLASS_COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                 "#bcbd22", "#17becf"]


def read_points(path):
    """A points CSV (x0, x1, ..., optional label) as (columns of floats, labels or None)."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    dims = [i for i, h in enumerate(header) if h.startswith("x")]
    cols = [[float(r[i]) for r in body] for i in dims]
    labels = [int(r[header.index("label")]) for r in body] if "label" in header else None
    return cols, labels


def scatter(ax, cols, labels, size=4):
    colours = [CLASS_COLOURS[l % len(CLASS_COLOURS)] for l in labels] if labels else "#1f77b4"
    if len(cols) == 3:
        ax.scatter(cols[0], cols[1], cols[2], c=colours, s=size, linewidths=0)
    else:
        ax.scatter(cols[0], cols[1], c=colours, s=size, linewidths=0)
        ax.set_aspect("equal", adjustable="datalim")


def plot_datasets(run):
    """One PNG per toy set CSV, and all of them side by side in toy_sets.png."""
    names = sorted(f[:-4] for f in os.listdir(run) if f.endswith(".csv"))
    overview = plt.figure(figsize=(3.2 * len(names), 3.4))
    for i, name in enumerate(names):
        cols, labels = read_points(os.path.join(run, name + ".csv"))
        projection = "3d" if len(cols) == 3 else None
        fig = plt.figure(figsize=(4.5, 4.5))
        ax = fig.add_subplot(projection=projection)
        scatter(ax, cols, labels, size=6)
        ax.set_title(f"{name} ({len(cols[0])} points)")
        fig.tight_layout()
        fig.savefig(os.path.join(run, name + ".png"), dpi=110)
        plt.close(fig)
        ax = overview.add_subplot(1, len(names), i + 1, projection=projection)
        scatter(ax, cols, labels)
        ax.set_title(name, fontsize=10)
        ax.set_xticks([]), ax.set_yticks([])
    overview.tight_layout()
    overview.savefig(os.path.join(run, "toy_sets.png"), dpi=100)
    plt.close(overview)


def plot_train(run):
    """Loss curves from metrics.json; for 2-D data, the test points and where the autoencoder sends them."""
    metrics = json.load(open(os.path.join(run, "metrics.json")))
    epochs = metrics["epochs"]
    if epochs:
        x = [e["epoch"] for e in epochs]
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
        axes[0].plot(x, [e["loss"] for e in epochs], label="training loss")
        axes[0].plot(x, [e["reconstruction"] for e in epochs], label="reconstruction term")
        if any(e["regularizer"] > 0 for e in epochs):
            axes[0].plot(x, [e["regularizer"] for e in epochs], label="variant's regularizer")
        if any(e.get("extra", 0) != 0 for e in epochs):
            axes[0].plot(x, [abs(e["extra"]) for e in epochs], label="|config regularizer| (e.g. lambda L_Pois)")
        axes[1].plot(x, [e["test_mse"] for e in epochs], color="#d62728", label="test MSE")
        for ax in axes:
            ax.set_xlabel("epoch")
            ax.set_yscale("log")
            ax.legend()
            ax.grid(alpha=0.3)
        axes[0].set_title("training")
        axes[1].set_title("test reconstruction error")
        fig.tight_layout()
        fig.savefig(os.path.join(run, "loss_curves.png"), dpi=110)
        plt.close(fig)
    if metrics.get("dynamics"):  # gradgrad train --track-dynamics: paper 002's figure 3
        _module_plotter("plots_field", "plot_training_dynamics")(run)
    recon = os.path.join(run, "reconstructions.csv")
    if os.path.exists(recon):
        cols, labels = read_points(recon)
        fig, ax = plt.subplots(figsize=(5.5, 5.5))
        for x0, y0, x1, y1 in zip(*cols):
            ax.plot([x0, x1], [y0, y1], color="#999999", linewidth=0.4, zorder=1)
        ax.scatter(cols[0], cols[1], s=6, c="#1f77b4", label="test data", zorder=2)
        ax.scatter(cols[2], cols[3], s=6, c="#d62728", label="reconstruction D(E(x))", zorder=3)
        ax.set_aspect("equal", adjustable="datalim")
        ax.legend(loc="best")
        ax.set_title("data and reconstructions")
        fig.tight_layout()
        fig.savefig(os.path.join(run, "reconstructions_2d.png"), dpi=110)
        plt.close(fig)


def plot_visualize(run):
    """Paper 000, section 5: per corruption, clean vs corrupted codes (PCA) and histograms of s, v, |grad v|."""
    for name in sorted(f for f in os.listdir(run) if f.startswith("viz_") and f.endswith(".csv")):
        with open(os.path.join(run, name), newline="") as f:
            rows = list(csv.DictReader(f))
        clean = [r for r in rows if r["corrupted"] == "0"]
        corrupt = [r for r in rows if r["corrupted"] == "1"]
        spec = name[4:-4].replace("_", ":", 1)
        fig, axes = plt.subplots(1, 4, figsize=(17, 4))
        for part, colour, label in ((clean, "#1f77b4", "clean x"), (corrupt, "#d62728", f"corrupted ({spec})")):
            axes[0].scatter([float(r["pc0"]) for r in part], [float(r["pc1"]) for r in part], s=5, c=colour,
                            alpha=0.6, label=label, linewidths=0)
        axes[0].set_title("PCA of z = f(x)")
        axes[0].legend(loc="best", fontsize=8)
        for ax, key, title in ((axes[1], "s", "s_phi(x) = ||J_f||_F^2 (eq. 3)"), (axes[2], "v", "v(x) (eq. 10)"),
                               (axes[3], "grad_norm", "||grad v|| (eq. 10)")):
            a = [float(r[key]) for r in clean]
            b = [float(r[key]) for r in corrupt]
            lo, hi = min(a + b), max(a + b)
            bins = [lo + (hi - lo) * i / 40 for i in range(41)] if hi > lo else 10
            ax.hist(a, bins=bins, alpha=0.6, color="#1f77b4", label="clean")
            ax.hist(b, bins=bins, alpha=0.6, color="#d62728", label="corrupted")
            ax.set_title(title, fontsize=10)
            ax.legend(fontsize=8)
        fig.suptitle(f"corruption {spec}")
        fig.tight_layout()
        fig.savefig(os.path.join(run, name[:-4] + ".png"), dpi=100)
        plt.close(fig)


def plot_bench(run):
    """`gradgrad bench jacobian`: the figures live beside the benchmark, in bench/plot_jacobian.py."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench"))
    import plot_jacobian  # noqa: E402

    plot_jacobian.plot_jacobian(json.load(open(os.path.join(run, "bench_jacobian.json"))), run)


def _module_plotter(module, function):
    """A plotter kept in its own module beside this one (cli/plots_dynamics.py...), imported when used."""
    def plot(run):
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        getattr(__import__(module), function)(run)
    return plot


PLOTTERS = {"datasets": plot_datasets, "train": plot_train, "visualize": plot_visualize, "bench": plot_bench,
            "field": _module_plotter("plots_field", "plot_field"),
            "ood": _module_plotter("plots_experiments", "plot_ood"),
            "probe": _module_plotter("plots_experiments", "plot_probe"),
            "sweep": _module_plotter("plots_experiments", "plot_sweep")}


def metrics_tables(metrics):
    """metrics.json as HTML: scalars in one table, each object of scalars as a table of its own."""
    out, scalars = [], {k: v for k, v in metrics.items() if not isinstance(v, (dict, list))}
    if scalars:
        out.append(table(scalars))
    for key, value in metrics.items():
        if isinstance(value, dict):
            out.append(f"<h3>{html.escape(key)}</h3>" + table(value))
    return "\n".join(out)


def table(d):
    rows = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(json.dumps(v))}</td></tr>"
                   for k, v in d.items())
    return f"<table>{rows}</table>"


def write_report(run, info):
    figures = sorted(f for f in os.listdir(run) if f.endswith(".png"))
    metrics_path = os.path.join(run, "metrics.json")
    metrics = json.load(open(metrics_path)) if os.path.exists(metrics_path) else {}
    body = [f"<h1>gradgrad {html.escape(info['kind'])}</h1>",
            f"<p><code>{html.escape(info.get('command', ''))}</code></p>",
            "<h2>Numbers</h2>", metrics_tables(metrics), "<h2>Figures</h2>"]
    body += [f'<figure><img src="{f}" alt="{f}"><figcaption>{f}</figcaption></figure>' for f in figures]
    style = ("body{font-family:sans-serif;max-width:1400px;margin:2em auto}img{max-width:100%}"
             "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}"
             "figure{display:inline-block;margin:1em;vertical-align:top}")
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>gradgrad {html.escape(info['kind'])}"
            f"</title><style>{style}</style></head><body>{''.join(body)}</body></html>\n")
    tmp = os.path.join(run, "report.html.tmp")
    with open(tmp, "w") as f:
        f.write(page)
    os.replace(tmp, os.path.join(run, "report.html"))


def main(argv):
    if len(argv) != 2:
        sys.exit("usage: plots.py RUN_DIR")
    run = argv[1]
    info = json.load(open(os.path.join(run, "run.json")))
    kind = info["kind"]
    if kind not in PLOTTERS:
        sys.exit(f"plots.py: no plotter for runs of kind '{kind}' (known: {', '.join(PLOTTERS)})")
    PLOTTERS[kind](run)
    write_report(run, info)


if __name__ == "__main__":
    main(sys.argv)
