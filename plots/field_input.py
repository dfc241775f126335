"""Figures of `gradgrad field` over the input plane, for 2-D data (plots/field.py calls them):

    potential.png              paper 000's Poisson potential v (eq. 10) with the data and -grad v
    decoded_attractors_2d.png  where the attractors decode to, D(z*), over the training data
"""
import os

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import LogNorm

from plots.draw import grid_values, save
from plots.io import column, finite, read_points, read_rows


def _data(run):
    cols, labels = read_points(os.path.join(run, "data.csv"))
    return cols[0], cols[1], labels


def potential_figure(run, metrics):
    """Paper 000's potential v (eq. 10) over the input plane, with the data and the field -grad v."""
    xs, ys, v, gn, g0, g1 = grid_values(read_rows(os.path.join(run, "potential.csv")), "x0", "x1", "v", "grad_norm",
                                        "g0", "g1")
    dx0, dx1, labels = _data(run)
    fig, axes = plt.subplots(1, 2, figsize=(14, 5.8))
    ax = axes[0]
    mesh = ax.pcolormesh(xs, ys, v, cmap="RdYlBu_r", shading="auto", rasterized=True)
    ax.contour(xs, ys, v, levels=12, colors="k", linewidths=0.4, alpha=0.5)
    plt.colorbar(mesh, ax=ax, fraction=0.046, pad=0.04, label="v(x) = v(E(x))")
    ax.scatter(dx0, dx1, s=2, c="k", alpha=0.35, linewidths=0, label="training data")
    step = max(1, len(xs) // 22)
    sl = (slice(None, None, step), slice(None, None, step))
    gx, gy = np.meshgrid(xs, ys)
    mag = np.hypot(g0, g1)[sl]
    scale = np.where(mag > 0, 1.0 / np.maximum(mag, 1e-12), 0.0)  # unit arrows: direction only
    ax.quiver(gx[sl], gy[sl], g0[sl] * scale, g1[sl] * scale, color="#222222", alpha=0.7, width=0.0025,
              scale=35, label="grad v (direction)")
    p = metrics.get("potential", {})
    ax.set_title(f"Poisson potential v (paper 000, eq. 10), M = {p.get('quadrature_points')}, "
                 f"eps = {p.get('eps')}\n({p.get('options')}; quadrature on clean training samples)", fontsize=9)
    ax.legend(loc="upper right", fontsize=7, framealpha=0.8)
    ax = axes[1]
    positive = gn[np.isfinite(gn) & (gn > 0)]
    lo, hi = (max(positive.min(), positive.max() * 1e-4), positive.max()) if positive.size else (1e-6, 1.0)
    mesh = ax.pcolormesh(xs, ys, np.clip(gn, lo, hi), cmap="viridis", norm=LogNorm(lo, hi), shading="auto",
                         rasterized=True)
    plt.colorbar(mesh, ax=ax, fraction=0.046, pad=0.04, label="||grad_x v|| (data units)")
    colours = ["#ffffff" if labels is None else ("#ffffff", "#ff7f0e")[int(c) % 2] for c in
               (labels if labels is not None else [0] * len(dx0))]
    ax.scatter(dx0, dx1, s=2, c=colours, alpha=0.5, linewidths=0)
    ax.set_title("||grad v|| over the input plane (log scale), training data on top", fontsize=9)
    for ax in axes:
        ax.set_aspect("equal", adjustable="box")
        ax.set_xlim(xs[0], xs[-1])
        ax.set_ylim(ys[0], ys[-1])
        ax.set_xlabel("x0 (data units)")
        ax.set_ylabel("x1")
    save(fig, run, "potential.png", dpi=120)


def decoded_figure(run, metrics):
    """For 2-D data: where the attractors decode to, D(z*) in data units, over the training data, coloured by
    the distance to the nearest training sample (section 3.2's cosine is ~1 for any 2-D point)."""
    rows = read_rows(os.path.join(run, "decoded_attractors.csv"))
    starts = column(rows, "count_train") + column(rows, "count_test") + column(rows, "count_noise")
    x0, x1, dist = column(rows, "x0"), column(rows, "x1"), column(rows, "nearest_distance")
    dx0, dx1, labels = _data(run)
    fig, ax = plt.subplots(figsize=(8, 6))
    colours = [("#9ecae1", "#fdae6b")[int(c) % 2] for c in labels] if labels is not None else "#9ecae1"
    ax.scatter(dx0, dx1, s=3, c=colours, alpha=0.6, linewidths=0, label="training data")
    reached = starts > 0
    if (~reached).any():
        ax.scatter(x0[~reached], x1[~reached], s=10, marker="x", c="#7f7f7f", linewidths=0.8,
                   label="reached from the grid only")
    if reached.any():
        s = 10 + 160 * np.sqrt(starts[reached] / starts[reached].max())
        d = np.maximum(dist[reached], 1e-4)
        sc = ax.scatter(x0[reached], x1[reached], s=s, c=d, cmap="plasma", norm=LogNorm(d.min(), max(d.max(), d.min() * 10)),
                        marker="o", edgecolors="k", linewidths=0.4, zorder=5,
                        label="D(z*) from data/noise starts (size: starts)")
        plt.colorbar(sc, ax=ax, fraction=0.046, pad=0.04, label="distance to the nearest training sample (data units)")
        for i in np.argsort(-starts[reached])[:8]:
            ax.annotate(str(int(starts[reached][i])), (x0[reached][i], x1[reached][i]), xytext=(5, 4),
                        textcoords="offset points", fontsize=7, zorder=6)
    # Framed on the data; attractors decoded far from it are pointed at from the frame's edge.
    span = max(np.ptp(dx0), np.ptp(dx1))
    x_lo, x_hi = np.min(dx0) - 0.25 * span, np.max(dx0) + 0.25 * span
    y_lo, y_hi = np.min(dx1) - 0.25 * span, np.max(dx1) + 0.25 * span
    outside = (x0 < x_lo) | (x0 > x_hi) | (x1 < y_lo) | (x1 > y_hi)
    for i in np.nonzero(outside & reached)[0]:
        cx, cy = np.clip(x0[i], x_lo, x_hi), np.clip(x1[i], y_lo, y_hi)
        tx, ty = cx + (0.5 * (x_lo + x_hi) - cx) * 0.25, cy + (0.5 * (y_lo + y_hi) - cy) * 0.25
        ax.annotate(f"({x0[i]:.3g}, {x1[i]:.3g}): {int(starts[i])} starts", xy=(cx, cy), xytext=(tx, ty), fontsize=7,
                    color="#b30000", arrowprops=dict(arrowstyle="->", color="#b30000"), ha="center")
    ax.set_xlim(x_lo, x_hi)
    ax.set_ylim(y_lo, y_hi)
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel("x0 (data units)")
    ax.set_ylabel("x1")
    mem = metrics.get("memorization", {})
    mean, std, near = mem.get("mean"), mem.get("std"), mem.get("nearest_distance_mean")
    text = f"{mean:.4f} ± {std:.4f}" if finite(mean) and finite(std) else "n/a"
    ax.set_title("decoded attractors D(z*), data units (labels: starts that ended there)\n"
                 f"memorization coefficient (train attractors) {text}"
                 + (f"\nmean distance to the nearest training sample {near:.3g} (normalized units)"
                    if finite(near) else ""), fontsize=9)
    ax.legend(fontsize=7, loc="lower left")
    save(fig, run, "decoded_attractors_2d.png", dpi=120)
