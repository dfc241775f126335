"""Figures of `gradgrad field` (paper 002's latent vector field), from the files it writes:

    field_2d.png     Figure 1: the field with its attractors, codes and a few trajectories
    basins.png       the basins of attraction on the grid, and the iterations until the stop (k = 2)
    convergence.png  Figure 11: Proposition 3.2's predicted iterations against the measured ones
    spectra.png      eigenvalues of J_f at the fixed points (Definition 2), spectral norms (Definition 3)
and, for 2-D data, field_input.py's potential.png and decoded_attractors_2d.png.
"""
import os

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap, LogNorm

from plots import field_input
from plots.draw import SOURCE_COLOURS, draw_attractors, draw_codes, draw_field, draw_trajectories, grid_values, save
from plots.io import column, exists, finite, read_json, read_rows


def plot_field(run):
    metrics = read_json(os.path.join(run, "metrics.json"))
    k = metrics.get("code_dim", 2)
    attractors = read_rows(os.path.join(run, "attractors.csv")) if exists(run, "attractors.csv") else []
    _field_figure(run, metrics, attractors, k)
    if exists(run, "basins.csv"):
        _basins_figure(run, metrics, attractors)
    if exists(run, "convergence.csv"):
        _convergence_figure(run, metrics)
    if attractors:
        _spectra_figure(run, attractors)
    if exists(run, "potential.csv"):
        field_input.potential_figure(run, metrics)
    if exists(run, "decoded_attractors.csv") and exists(run, "data.csv"):
        field_input.decoded_figure(run, metrics)


def _field_figure(run, metrics, attractors, k):
    """Figure 1: the latent field with its attractors and a few trajectories."""
    pca = k > 2
    field = os.path.join(run, "field.csv")
    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    if os.path.exists(field):
        draw_field(ax, field)
        xlim, ylim = ax.get_xlim(), ax.get_ylim()
    draw_codes(ax, os.path.join(run, "codes.csv"))
    draw_trajectories(ax, os.path.join(run, "trajectories.csv"))
    starts = [r for r in attractors if float(r["count_train"]) + float(r["count_test"]) + float(r["count_noise"]) > 0]
    for r in starts:
        r["starts"] = str(float(r["count_train"]) + float(r["count_test"]) + float(r["count_noise"]))
    draw_attractors(ax, starts, count_key="starts")
    outside = ""
    if os.path.exists(field):
        ax.set_xlim(*xlim)
        ax.set_ylim(*ylim)
        p0, p1 = column(starts, "p0"), column(starts, "p1")
        out = (p0 < xlim[0]) | (p0 > xlim[1]) | (p1 < ylim[0]) | (p1 > ylim[1])
        if out.any():
            n_out = int(sum(float(r["starts"]) for r, o in zip(starts, out) if o))
            outside = f"; {int(out.sum())} outside the frame ({n_out} starts)"
    tr, te, no = metrics.get("train", {}), metrics.get("test", {}), metrics.get("noise", {})
    ax.set_title(f"latent field f(z) - z, f = E∘D (eq. 4), k = {k}" + (" — projected on the PCA plane" if pca else "")
                 + f"\ndistinct attractors from train {tr.get('distinct_attractors')}, test "
                 f"{te.get('distinct_attractors')}, noise {no.get('distinct_attractors')} "
                 f"(merge: {metrics.get('merge', {}).get('rule')}){outside}", fontsize=9)
    ax.set_xlabel("pc 0" if pca else "z0")
    ax.set_ylabel("pc 1" if pca else "z1")
    ax.legend(loc="upper left", fontsize=7, framealpha=0.8, markerscale=1.5)
    save(fig, run, "field_2d.png", dpi=120)


def _basins_figure(run, metrics, attractors):
    xs, ys, labels, iters = grid_values(read_rows(os.path.join(run, "basins.csv")), "p0", "p1", "label", "iterations")
    labels = np.nan_to_num(labels, nan=-1).astype(int)
    # Basins relabelled 0.. by size, so the largest get the first (most distinct) colours.
    ids, sizes = np.unique(labels[labels >= 0], return_counts=True)
    rank = {int(i): r for r, i in enumerate(ids[np.argsort(-sizes)])}
    image = np.full(labels.shape, np.nan)
    for (j, i), lab in np.ndenumerate(labels):
        if lab >= 0:
            image[j, i] = rank[int(lab)] % 20
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.8))
    ax = axes[0]
    ax.set_facecolor("#404040")  # cells that did not converge
    ax.pcolormesh(xs, ys, np.ma.masked_invalid(image), cmap=ListedColormap(plt.get_cmap("tab20").colors), vmin=-0.5,
                  vmax=19.5, shading="auto", rasterized=True)
    draw_codes(ax, os.path.join(run, "codes.csv"), sources=("train",), size=1.5, alpha=0.5)
    # Attractors reached from the grid, at their places (those inside the frame).
    grid_att = [r for r in attractors if float(r["count_grid"]) > 0]
    draw_attractors(ax, grid_att, count_key="count_grid", annotate=6)
    b = metrics.get("basins", {})
    ax.set_title(f"basins of attraction: {len(ids)} attractors reached from {b.get('cells')} cells\n"
                 f"(colour = attractor, dark grey = not converged: {b.get('cells_not_converged')})", fontsize=9)
    ax = axes[1]
    mesh = ax.pcolormesh(xs, ys, iters, cmap="viridis", norm=LogNorm(max(1, np.nanmin(iters)), max(2, np.nanmax(iters))),
                         shading="auto", rasterized=True)
    plt.colorbar(mesh, ax=ax, fraction=0.046, pad=0.04, label="applications of f until the stop")
    draw_attractors(ax, grid_att, count_key="count_grid", annotate=0)
    it = metrics.get("iterate", {})
    ax.set_title("applications of f until ||z_{t+1} - z_t||^2 < %.3g (eq. 3)" % it.get("tol_effective", float("nan")),
                 fontsize=9)
    for ax in axes:
        ax.set_xlim(xs[0], xs[-1])
        ax.set_ylim(ys[0], ys[-1])
        ax.set_aspect("equal", adjustable="box")
        ax.set_xlabel("z0")
        ax.set_ylabel("z1")
    save(fig, run, "basins.png", dpi=120)


def _convergence_figure(run, metrics):
    """Figure 11: Proposition 3.2's predicted iterations against the measured ones (log-log: rho near 1 gives
    predictions of thousands), and the measured iterations against the initial error."""
    rows = read_rows(os.path.join(run, "convergence.csv"))
    conv = metrics.get("convergence", {})
    fig, axes = plt.subplots(1, 2, figsize=(12.5, 5.2))
    lo, hi, zero = np.inf, 1.0, 0
    for source in ("grid", "noise", "test", "train"):
        part = [r for r in rows if r["source"] == source]
        if not part:
            continue
        pred, meas, e0 = column(part, "predicted"), column(part, "measured"), column(part, "initial_error")
        ok = np.isfinite(pred) & (pred > 0)
        zero += int(np.sum(np.isfinite(pred) & (pred <= 0)))
        r = conv.get(f"pearson_{source}")
        label = f"{source} (Pearson r = {r:.3f})" if finite(r) else f"{source} (r undefined)"
        alpha = 0.2 if source == "grid" else 0.6
        axes[0].scatter(pred[ok], meas[ok], s=6, alpha=alpha, c=SOURCE_COLOURS[source], linewidths=0, label=label)
        ok_e = e0 > 0
        axes[1].scatter(e0[ok_e], meas[ok_e], s=6, alpha=alpha, c=SOURCE_COLOURS[source], linewidths=0, label=source)
        if ok.any():
            lo = min(lo, np.min(pred[ok]), np.min(meas[ok]))
            hi = max(hi, np.max(pred[ok]), np.max(meas[ok]))
    lo = max(min(lo, 1.0), 1e-2) if np.isfinite(lo) else 0.5
    axes[0].plot([lo, hi], [lo, hi], color="#555555", linewidth=0.8, linestyle="--", label="measured = predicted")
    axes[0].set_xlabel("predicted T = log(eps / e0) / log(rho)  (Proposition 3.2)")
    r_all = conv.get("pearson_all")
    axes[0].set_title("speed of convergence: prediction vs measurement (Figure 11)\n"
                      + (f"Pearson r (linear) over all finite predictions = {r_all:.3f}; " if finite(r_all) else "")
                      + f"{zero} starts already within eps (T = 0) not shown", fontsize=9)
    axes[1].set_xlabel("initial error e0 = ||z0 - z*||")
    axes[1].set_title("iterations against the distance of the start to its attractor", fontsize=10)
    for ax in axes:
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_ylabel("measured applications of f")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    save(fig, run, "convergence.png")


def _spectra_figure(run, attractors):
    """The local picture at the attractors: eigenvalues of J_f(z*) against the unit circle (Definition 2), the
    same zoomed on where they lie, and spectral norms (Definition 3) from the Jacobian and by power iteration."""
    eig = read_rows(os.path.join(run, "eigenvalues.csv")) if exists(run, "eigenvalues.csv") else []
    by_id = {r["id"]: r for r in attractors}
    fig, axes = plt.subplots(1, 3, figsize=(18, 5.4))
    t = np.linspace(0, 2 * np.pi, 2000)
    n_def2 = sum(r["is_attractor"] == "1" for r in attractors)
    for panel, ax in enumerate(axes[:2]):
        ax.plot(np.cos(t), np.sin(t), color="#555555", linewidth=0.8, label="|lambda| = 1")
        ax.axhline(0, color="#bbbbbb", linewidth=0.5)
        ax.axvline(0, color="#bbbbbb", linewidth=0.5)
        ax.set_xlabel("Re lambda")
        ax.set_ylabel("Im lambda")
        if not eig:
            continue
        re, im = column(eig, "re"), column(eig, "im")
        is_att = np.array([by_id.get(r["id"], {}).get("is_attractor") == "1" for r in eig])
        weight = np.array([float(by_id.get(r["id"], {}).get("count", 1)) for r in eig])
        size = 6 + 40 * np.sqrt(weight / max(weight.max(), 1))
        ax.scatter(re[is_att], im[is_att], s=size[is_att], c="#1f77b4", alpha=0.6, linewidths=0,
                   label="attractor (all |lambda| < 1)")
        ax.scatter(re[~is_att], im[~is_att], s=size[~is_att], c="#d62728", alpha=0.7, linewidths=0,
                   label="not an attractor (some |lambda| >= 1)")
        if panel == 0:
            lim = max(1.15, np.nanmax(np.abs(np.concatenate([re, im]))) * 1.1)
            ax.set_xlim(-lim, lim)
            ax.set_ylim(-lim, lim)
            ax.set_aspect("equal")
            ax.set_title(f"eigenvalues of J_f(z*) at {len(attractors)} fixed points\n"
                         f"{n_def2} are attractors by Definition 2 (size: endpoints merged)", fontsize=9)
            ax.legend(fontsize=7, loc="lower left")
        else:  # zoomed on the eigenvalues, the unit circle's arc for reference
            pad_x = max(0.02, 0.1 * (re.max() - re.min()))
            pad_y = max(0.02, 0.1 * (im.max() - im.min()))
            ax.set_xlim(re.min() - pad_x, re.max() + pad_x)
            ax.set_ylim(im.min() - pad_y, im.max() + pad_y)
            ax.set_title("the same, zoomed on the eigenvalues", fontsize=9)
    ax = axes[2]
    counts = column(attractors, "count")
    sn, sp = column(attractors, "spectral_norm"), column(attractors, "spectral_norm_power")
    ax.scatter(counts, sn, s=14, c="#1f77b4", alpha=0.7, linewidths=0, label="||J_f(z*)||_2 (from the Jacobian)")
    ax.scatter(counts, column(attractors, "spectral_radius"), s=10, c="#2ca02c", alpha=0.6, marker="s", linewidths=0,
               label="spectral radius")
    ok = np.isfinite(sp)
    if ok.any():
        ax.scatter(counts[ok], sp[ok], s=40, facecolors="none", edgecolors="#d62728", linewidths=0.8,
                   label="power iteration (most visited)")
    ax.axhline(1.0, color="#555555", linestyle="--", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("endpoints merged into the attractor (all sources)")
    ax.set_ylabel("spectral norm / radius")
    ax.set_title("spectral norm (Definition 3, Proposition 3.2's rho) per fixed point", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    save(fig, run, "spectra.png")
