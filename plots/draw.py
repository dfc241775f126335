"""Drawing pieces the figures share: the latent field with its attractors, paths and codes (in the picture
plane: the codes themselves when k = 2, the PCA plane of the training codes when k > 2, the files' p0, p1
columns), score histograms, log axes with plain numbers, and image grids with row labels."""
import os

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import ticker
from matplotlib.colors import LogNorm

from plots.io import column, read_rows

SOURCE_COLOURS = {"train": "#1f77b4", "test": "#d62728", "noise": "#e6b000", "grid": "#7f7f7f"}
FIELD_CMAP = "magma_r"  # light where the field vanishes (the attractors' neighbourhoods), dark where it is strong
ID_COLOUR, OOD_COLOUR = "#1f77b4", "#d62728"


def save(fig, folder, name, dpi=110):
    fig.tight_layout()
    fig.savefig(os.path.join(folder, name), dpi=dpi)
    plt.close(fig)


def grid_values(rows, x_key, y_key, *keys, cast=float):
    """A CSV laid out on a grid (rows y-outer, x-inner) as its axes and one [ny, nx] array per key."""
    xs, ys = np.unique(column(rows, x_key)), np.unique(column(rows, y_key))
    return (xs, ys) + tuple(column(rows, k, cast).reshape(len(ys), len(xs)) for k in keys)


def draw_field(ax, field_path, colorbar=True, density=1.4, title=None):
    """The residual f(z) - z: its norm as the background (log scale), streamlines on top."""
    xs, ys, u, v, norm = grid_values(read_rows(field_path), "p0", "p1", "v0", "v1", "norm")
    positive = norm[np.isfinite(norm) & (norm > 0)]
    lo = max(positive.min(), positive.max() * 1e-4) if positive.size else 1e-6
    hi = positive.max() if positive.size else 1.0
    mesh = ax.pcolormesh(xs, ys, np.clip(norm, lo, hi), cmap=FIELD_CMAP, norm=LogNorm(lo, hi), shading="gouraud",
                         rasterized=True)
    if len(xs) >= 2 and len(ys) >= 2 and np.all(np.isfinite(u)) and np.all(np.isfinite(v)):
        ax.streamplot(xs, ys, u, v, color="#3a5a8c", linewidth=0.6, density=density, arrowsize=0.7)
    if colorbar:
        plt.colorbar(mesh, ax=ax, fraction=0.046, pad=0.04, label="||f(z) - z||")
    ax.set_xlim(xs[0], xs[-1])
    ax.set_ylim(ys[0], ys[-1])
    ax.set_aspect("equal", adjustable="box")
    if title:
        ax.set_title(title, fontsize=10)
    return xs, ys


def draw_attractors(ax, rows, annotate=8, count_key="count", max_size=160, label="attractors (size: starts)"):
    """Attractors as red dots sized by how many starts ended in them; the `annotate` most visited as stars with
    their count."""
    if not rows:
        return
    counts = column(rows, count_key)
    keep = counts > 0
    if not np.any(keep):
        return
    p0, p1 = column(rows, "p0")[keep], column(rows, "p1")[keep]
    counts = counts[keep]
    sizes = 4 + max_size * np.sqrt(counts / counts.max())
    ax.scatter(p0, p1, s=sizes * 0.35, marker="o", c="#e41a1c", edgecolors="none", alpha=0.8, zorder=5, label=label)
    top = np.argsort(-counts)[:annotate]
    if len(top):
        ax.scatter(p0[top], p1[top], s=sizes[top], marker="*", c="#e41a1c", edgecolors="white", linewidths=0.6,
                   zorder=6)
    for i in top:
        ax.annotate(str(int(counts[i])), (p0[i], p1[i]), xytext=(5, 4), textcoords="offset points", fontsize=7,
                    color="#7a0000", zorder=7,
                    bbox=dict(boxstyle="round,pad=0.1", facecolor="white", edgecolor="none", alpha=0.6))


def draw_trajectories(ax, path):
    if not os.path.exists(path):
        return
    paths = {}
    for r in read_rows(path):
        paths.setdefault((r["source"], r["path"]), []).append((float(r["p0"]), float(r["p1"])))
    seen = set()
    for (source, _), pts in paths.items():
        pts = np.array(pts)
        label = f"trajectory from {source}" if source not in seen else None
        seen.add(source)
        colour = SOURCE_COLOURS.get(source, "#333333")
        ax.plot(pts[:, 0], pts[:, 1], color=colour, linewidth=1.0, alpha=0.9, zorder=4, label=label)
        ax.scatter(pts[:1, 0], pts[:1, 1], color=colour, s=12, marker="o", edgecolors="black", linewidths=0.3,
                   zorder=4)


def draw_codes(ax, path, sources=("train",), size=2, alpha=0.35):
    if not os.path.exists(path):
        return
    rows = read_rows(path)
    for source in sources:
        part = [r for r in rows if r.get("source", "train") == source]
        if part:
            ax.scatter(column(part, "p0"), column(part, "p1"), s=size, c=SOURCE_COLOURS[source], alpha=alpha,
                       linewidths=0, zorder=3, label=f"{source} codes")


def log_labels(ax):
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


def hist_pair(ax, a, b, label_a, label_b, title, xlabel, log=False, density=True, bins=40):
    """Two overlaid histograms on shared bins (log-spaced with log=True: positive values only)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    values = np.concatenate([a, b])
    values = values[np.isfinite(values) & ((values > 0) | (not log))]
    if values.size == 0:
        return
    lo, hi = values.min(), values.max()
    if hi <= lo:
        edges = 10
    elif log:
        edges = np.geomspace(lo, hi, bins + 1)
        ax.set_xscale("log")
    else:
        edges = np.linspace(lo, hi, bins + 1)
    ax.hist(a[np.isfinite(a)], bins=edges, alpha=0.55, color=ID_COLOUR, label=label_a, density=density)
    ax.hist(b[np.isfinite(b)], bins=edges, alpha=0.55, color=OOD_COLOUR, label=label_b, density=density)
    ax.set_title(title, fontsize=9)
    ax.set_xlabel(xlabel, fontsize=8)
    ax.set_ylabel("density" if density else "samples", fontsize=8)
    ax.legend(fontsize=7)


def labelled_grid(folder, grid, out_name, title):
    """A contact sheet written by the C++ side, with its row labels on the left."""
    image = plt.imread(os.path.join(folder, grid["file"]))
    h, pad = grid["tile_height"], grid["padding"]
    rows = grid["rows"]
    fig, ax = plt.subplots(figsize=(image.shape[1] / 100 * 1.3 + 2.4, image.shape[0] / 100 * 1.3 + 0.6))
    ax.imshow(image, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_yticks([i * (h + pad) + h / 2 for i in range(len(rows))])
    ax.set_yticklabels(rows, fontsize=8)
    ax.set_xticks([])
    for side in ax.spines.values():
        side.set_visible(False)
    ax.set_title(title, fontsize=9)
    save(fig, folder, out_name, dpi=100)
