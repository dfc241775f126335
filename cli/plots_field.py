"""Figures of paper 002's latent vector field, drawn from the files `gradgrad field` and
`gradgrad train --track-dynamics` write (cli/plots.py imports this module when it draws such a run).

    plot_field(run)              field_2d.png (Figure 1), basins.png, convergence.png (Figure 11), spectra.png,
                                 potential.png (paper 000's eq. 10), decoded_attractors_2d.png
    plot_training_dynamics(run)  dynamics.png (Figure 3b-d, Figure 12 right), dynamics_fields.png (Figure 3a)

Every picture of codes is drawn in the "picture plane": the codes themselves when k = 2, the plane of the
first two principal components of the training codes when k > 2 (the files' p0, p1 columns).
"""
import csv
import json
import math
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import ListedColormap, LogNorm  # noqa: E402

SOURCE_COLOURS = {"train": "#1f77b4", "test": "#d62728", "noise": "#e6b000", "grid": "#7f7f7f"}
FIELD_CMAP = "magma_r"  # light where the field vanishes (the attractors' neighbourhoods), dark where it is strong


def read_rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def column(rows, key, cast=float):
    out = []
    for r in rows:
        v = r[key]
        try:
            out.append(cast(v))
        except ValueError:  # "nan", "inf" are fine for float(); anything else reads as NaN
            out.append(float("nan"))
    return np.array(out)


def load_json(path):
    with open(path) as f:
        return json.load(f)


def _finite(x):
    return x is not None and isinstance(x, (int, float)) and math.isfinite(x)


# ---- The field on a grid ------------------------------------------------------------------------------------

def read_field(path):
    """field.csv (rows y-outer, x-inner) as 1-D axes and [ny, nx] arrays: x, y, u, v, norm."""
    rows = read_rows(path)
    p0, p1 = column(rows, "p0"), column(rows, "p1")
    xs, ys = np.unique(p0), np.unique(p1)
    nx, ny = len(xs), len(ys)
    shape = (ny, nx)
    return (xs, ys, column(rows, "v0").reshape(shape), column(rows, "v1").reshape(shape),
            column(rows, "norm").reshape(shape))


def draw_field(ax, field_path, colorbar=True, density=1.4, title=None):
    """The residual f(z) - z: its norm as the background (log scale), streamlines on top."""
    xs, ys, u, v, norm = read_field(field_path)
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
    rows = read_rows(path)
    paths = {}
    for r in rows:
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
        part = [r for r in rows if r["source"] == source]
        if part:
            ax.scatter(column(part, "p0"), column(part, "p1"), s=size, c=SOURCE_COLOURS[source], alpha=alpha,
                       linewidths=0, zorder=3, label=f"{source} codes")


# ---- plot_field -----------------------------------------------------------------------------------------------

def plot_field(run):
    metrics = load_json(os.path.join(run, "metrics.json"))
    k = metrics.get("code_dim", 2)
    pca = k > 2
    attractors = read_rows(os.path.join(run, "attractors.csv")) if os.path.exists(
        os.path.join(run, "attractors.csv")) else []
    plane = "PCA plane of the codes" if pca else "codes z"
    _field_figure(run, metrics, attractors, k, pca, plane)
    if os.path.exists(os.path.join(run, "basins.csv")):
        _basins_figure(run, metrics, attractors)
    if os.path.exists(os.path.join(run, "convergence.csv")):
        _convergence_figure(run, metrics)
    if attractors:
        _spectra_figure(run, attractors)
    if os.path.exists(os.path.join(run, "potential.csv")):
        _potential_figure(run, metrics)
    if os.path.exists(os.path.join(run, "decoded_attractors.csv")) and os.path.exists(os.path.join(run, "data.csv")):
        _decoded_2d_figure(run, metrics)


def _field_figure(run, metrics, attractors, k, pca, plane):
    """Figure 1: the latent field with its attractors and a few trajectories."""
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
    fig.tight_layout()
    fig.savefig(os.path.join(run, "field_2d.png"), dpi=120)
    plt.close(fig)


def _basins_figure(run, metrics, attractors):
    rows = read_rows(os.path.join(run, "basins.csv"))
    p0, p1 = column(rows, "p0"), column(rows, "p1")
    xs, ys = np.unique(p0), np.unique(p1)
    labels = column(rows, "label", int).reshape(len(ys), len(xs))
    iters = column(rows, "iterations").reshape(len(ys), len(xs))
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
    ax.set_xlim(xs[0], xs[-1])
    ax.set_ylim(ys[0], ys[-1])
    ax.set_aspect("equal", adjustable="box")
    b = metrics.get("basins", {})
    ax.set_title(f"basins of attraction: {len(ids)} attractors reached from {b.get('cells')} cells\n"
                 f"(colour = attractor, dark grey = not converged: {b.get('cells_not_converged')})", fontsize=9)
    ax.set_xlabel("z0")
    ax.set_ylabel("z1")
    ax = axes[1]
    mesh = ax.pcolormesh(xs, ys, iters, cmap="viridis", norm=LogNorm(max(1, np.nanmin(iters)), max(2, np.nanmax(iters))),
                         shading="auto", rasterized=True)
    plt.colorbar(mesh, ax=ax, fraction=0.046, pad=0.04, label="applications of f until the stop")
    draw_attractors(ax, grid_att, count_key="count_grid", annotate=0)
    ax.set_xlim(xs[0], xs[-1])
    ax.set_ylim(ys[0], ys[-1])
    ax.set_aspect("equal", adjustable="box")
    it = metrics.get("iterate", {})
    ax.set_title("applications of f until ||z_{t+1} - z_t||^2 < %.3g (eq. 3)" % it.get("tol_effective", float("nan")),
                 fontsize=9)
    ax.set_xlabel("z0")
    fig.tight_layout()
    fig.savefig(os.path.join(run, "basins.png"), dpi=120)
    plt.close(fig)


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
        label = f"{source} (Pearson r = {r:.3f})" if _finite(r) else f"{source} (r undefined)"
        alpha = 0.2 if source == "grid" else 0.6
        axes[0].scatter(pred[ok], meas[ok], s=6, alpha=alpha, c=SOURCE_COLOURS[source], linewidths=0, label=label)
        ok_e = e0 > 0
        axes[1].scatter(e0[ok_e], meas[ok_e], s=6, alpha=alpha, c=SOURCE_COLOURS[source], linewidths=0, label=source)
        if ok.any():
            lo = min(lo, np.min(pred[ok]), np.min(meas[ok]))
            hi = max(hi, np.max(pred[ok]), np.max(meas[ok]))
    lo = max(min(lo, 1.0), 1e-2) if np.isfinite(lo) else 0.5
    axes[0].plot([lo, hi], [lo, hi], color="#555555", linewidth=0.8, linestyle="--", label="measured = predicted")
    axes[0].set_xscale("log")
    axes[0].set_yscale("log")
    axes[0].set_xlabel("predicted T = log(eps / e0) / log(rho)  (Proposition 3.2)")
    axes[0].set_ylabel("measured applications of f")
    r_all = conv.get("pearson_all")
    axes[0].set_title("speed of convergence: prediction vs measurement (Figure 11)\n"
                      + (f"Pearson r (linear) over all finite predictions = {r_all:.3f}; " if _finite(r_all) else "")
                      + f"{zero} starts already within eps (T = 0) not shown", fontsize=9)
    axes[1].set_xlabel("initial error e0 = ||z0 - z*||")
    axes[1].set_ylabel("measured applications of f")
    axes[1].set_xscale("log")
    axes[1].set_yscale("log")
    axes[1].set_title("iterations against the distance of the start to its attractor", fontsize=10)
    for ax in axes:
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(run, "convergence.png"), dpi=110)
    plt.close(fig)


def _spectra_figure(run, attractors):
    """The local picture at the attractors: eigenvalues of J_f(z*) against the unit circle (Definition 2), the
    same zoomed on where they lie, and spectral norms (Definition 3) from the Jacobian and by power iteration."""
    eig_path = os.path.join(run, "eigenvalues.csv")
    eig = read_rows(eig_path) if os.path.exists(eig_path) else []
    by_id = {r["id"]: r for r in attractors}
    fig, axes = plt.subplots(1, 3, figsize=(18, 5.4))
    t = np.linspace(0, 2 * np.pi, 2000)
    n_def2 = sum(r["is_attractor"] == "1" for r in attractors)
    for panel, ax in enumerate(axes[:2]):
        ax.plot(np.cos(t), np.sin(t), color="#555555", linewidth=0.8, label="|lambda| = 1")
        ax.axhline(0, color="#bbbbbb", linewidth=0.5)
        ax.axvline(0, color="#bbbbbb", linewidth=0.5)
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
        ax.set_xlabel("Re lambda")
        ax.set_ylabel("Im lambda")
    ax = axes[2]
    counts = column(attractors, "count")
    sn, sp = column(attractors, "spectral_norm"), column(attractors, "spectral_norm_power")
    radius = column(attractors, "spectral_radius")
    ax.scatter(counts, sn, s=14, c="#1f77b4", alpha=0.7, linewidths=0, label="||J_f(z*)||_2 (from the Jacobian)")
    ax.scatter(counts, radius, s=10, c="#2ca02c", alpha=0.6, marker="s", linewidths=0, label="spectral radius")
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
    fig.tight_layout()
    fig.savefig(os.path.join(run, "spectra.png"), dpi=110)
    plt.close(fig)


def _read_data(run):
    rows = read_rows(os.path.join(run, "data.csv"))
    labels = column(rows, "label", int) if rows and "label" in rows[0] else None
    return column(rows, "x0"), column(rows, "x1"), labels


def _potential_figure(run, metrics):
    """Paper 000's potential v (eq. 10) over the input plane, with the data and the field -grad v."""
    rows = read_rows(os.path.join(run, "potential.csv"))
    x0, x1 = column(rows, "x0"), column(rows, "x1")
    xs, ys = np.unique(x0), np.unique(x1)
    shape = (len(ys), len(xs))
    v, gn = column(rows, "v").reshape(shape), column(rows, "grad_norm").reshape(shape)
    g0, g1 = column(rows, "g0").reshape(shape), column(rows, "g1").reshape(shape)
    dx0, dx1, labels = _read_data(run)
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
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlim(xs[0], xs[-1])
    ax.set_ylim(ys[0], ys[-1])
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
    colours = ["#ffffff" if labels is None else ("#ffffff", "#ff7f0e")[int(l) % 2] for l in
               (labels if labels is not None else [0] * len(dx0))]
    ax.scatter(dx0, dx1, s=2, c=colours, alpha=0.5, linewidths=0)
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlim(xs[0], xs[-1])
    ax.set_ylim(ys[0], ys[-1])
    ax.set_title("||grad v|| over the input plane (log scale), training data on top", fontsize=9)
    fig.tight_layout()
    fig.savefig(os.path.join(run, "potential.png"), dpi=120)
    plt.close(fig)


def _decoded_2d_figure(run, metrics):
    """For 2-D data: where the attractors decode to, D(z*) in data units, over the training data, coloured by
    the distance to the nearest training sample (section 3.2's cosine is ~1 for any 2-D point)."""
    rows = read_rows(os.path.join(run, "decoded_attractors.csv"))
    starts = column(rows, "count_train") + column(rows, "count_test") + column(rows, "count_noise")
    x0, x1, dist = column(rows, "x0"), column(rows, "x1"), column(rows, "nearest_distance")
    dx0, dx1, labels = _read_data(run)
    fig, ax = plt.subplots(figsize=(8, 6))
    colours = [("#9ecae1", "#fdae6b")[int(l) % 2] for l in labels] if labels is not None else "#9ecae1"
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
        top = np.argsort(-starts[reached])[:8]
        for i in top:
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
    mem = metrics.get("memorization", {})
    mean, std, near = mem.get("mean"), mem.get("std"), mem.get("nearest_distance_mean")
    text = f"{mean:.4f} ± {std:.4f}" if _finite(mean) and _finite(std) else "n/a"
    ax.set_title("decoded attractors D(z*), data units (labels: starts that ended there)\n"
                 f"memorization coefficient (train attractors) {text}"
                 + (f"\nmean distance to the nearest training sample {near:.3g} (normalized units)"
                    if _finite(near) else ""), fontsize=9)
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    fig.savefig(os.path.join(run, "decoded_attractors_2d.png"), dpi=120)
    plt.close(fig)


# ---- plot_training_dynamics -------------------------------------------------------------------------------------

def plot_training_dynamics(run):
    """Figure 3 from metrics.json's "dynamics" (gradgrad train --track-dynamics N)."""
    dyn = load_json(os.path.join(run, "metrics.json")).get("dynamics") or []
    if not dyn:
        return
    dyn = sorted(dyn, key=lambda d: d["epoch"])
    ep = np.array([d["epoch"] for d in dyn])

    def series(key):
        return np.array([d.get(key) if _finite(d.get(key)) else np.nan for d in dyn], dtype=float)

    fig, axes = plt.subplots(1, 5, figsize=(25, 4.2))
    ax = axes[0]
    ax.plot(ep, series("memorization_mean"), "o-", color="#1f77b4", label="memorization coefficient")
    m, s = series("memorization_mean"), series("memorization_std")
    ax.fill_between(ep, m - s, m + s, color="#1f77b4", alpha=0.15)
    ax.set_ylabel("memorization coefficient (mean ± std)", color="#1f77b4")
    ax.ticklabel_format(axis="y", useOffset=False)
    if np.isfinite(m).any():
        ax.set_ylim(min(-0.05, np.nanmin(m - s) - 0.05), 1.05)
    ax.set_xlabel("epoch")
    twin = ax.twinx()
    twin.plot(ep, series("test_mse"), "s-", color="#d62728", label="test MSE")
    twin.set_yscale("log")
    twin.set_ylabel("test MSE", color="#d62728")
    ax.set_title("(b) memorization vs test error", fontsize=10)
    ax = axes[1]
    for key, source in (("attractors_train", "train"), ("attractors_test", "test"), ("attractors_noise", "noise")):
        ax.plot(ep, series(key), "o-", color=SOURCE_COLOURS[source], label=f"from {source}")
    starts = dyn[-1].get("starts")
    ax.set_title(f"(c) distinct attractors (of {starts} starts each)", fontsize=10)
    ax.set_xlabel("epoch")
    ax.set_yscale("log")
    ax.legend(fontsize=8)
    ax = axes[2]
    ax.plot(ep, series("chamfer_noise_train"), "o-", color="#2ca02c", label="Chamfer(Z*_noise, Z*_train)")
    ax.set_ylabel("Chamfer similarity", color="#2ca02c")
    ax.set_xlabel("epoch")
    twin = ax.twinx()
    twin.plot(ep, series("fpr95_noise_vs_train"), "s-", color="#9467bd", label="FPR95 noise vs train")
    twin.set_ylabel("FPR95 (trajectory score)", color="#9467bd")
    twin.set_ylim(-0.05, 1.05)
    ax.set_title("(d) noise vs training attractors and trajectories", fontsize=10)
    ax = axes[3]
    ax.plot(ep, series("nearest_distance_mean"), "o-", color="#17becf")
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean ||D(z*) - nearest x_train|| (normalized units)")
    ax.set_title("decoded training attractors: distance to the data", fontsize=10)
    ax = axes[4]
    rank = series("attractor_rank_90")
    ax.plot(ep, rank, "o-", color="#8c564b", label="all converged training endpoints")
    distinct = series("attractor_rank_90_distinct")
    if np.isfinite(distinct).any():
        ax.plot(ep, distinct, "s--", color="#e377c2", label="distinct training attractors")
        rank = np.concatenate([rank, distinct])
    ax.legend(fontsize=8)
    ax.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    if np.isfinite(rank).any():
        ax.set_ylim(0, np.nanmax(rank) + 1)
    ax.set_xlabel("epoch")
    ax.set_ylabel("components for 90% of the variance")
    ax.set_title("rank of the decoded attractors D(Z*) (Figure 12)", fontsize=10)
    for a in axes:
        a.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(os.path.join(run, "dynamics.png"), dpi=100)
    plt.close(fig)

    fields = [d for d in dyn if os.path.exists(os.path.join(run, "dynamics", f"field_epoch_{d['epoch']}.csv"))]
    if not fields:
        return
    if len(fields) > 8:  # at most 8 panels, evenly spread, first and last included
        pick = sorted(set(np.linspace(0, len(fields) - 1, 8).round().astype(int)))
        fields = [fields[i] for i in pick]
    fig, axes = plt.subplots(1, len(fields), figsize=(3.6 * len(fields), 3.9), squeeze=False)
    for ax, d in zip(axes[0], fields):
        e = d["epoch"]
        base = os.path.join(run, "dynamics")
        draw_field(ax, os.path.join(base, f"field_epoch_{e}.csv"), colorbar=False, density=0.9)
        xlim, ylim = ax.get_xlim(), ax.get_ylim()
        codes = os.path.join(base, f"codes_epoch_{e}.csv")
        if os.path.exists(codes):
            rows = read_rows(codes)
            ax.scatter(column(rows, "p0"), column(rows, "p1"), s=1.5, c="#1f77b4", alpha=0.5, linewidths=0)
        att = os.path.join(base, f"attractors_epoch_{e}.csv")
        if os.path.exists(att):
            draw_attractors(ax, [r for r in read_rows(att) if r["source"] == "train"], annotate=3, max_size=90)
        ax.set_xlim(*xlim)
        ax.set_ylim(*ylim)
        ax.set_title(f"epoch {e}: {d.get('attractors_train')} attractors\ntest MSE {d.get('test_mse', 0):.3g}",
                     fontsize=9)
        ax.tick_params(labelsize=7)
    fig.suptitle("(a) the 2-D latent field f(z) - z across training (each panel framed on its own codes)",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(os.path.join(run, "dynamics_fields.png"), dpi=100)
    plt.close(fig)
