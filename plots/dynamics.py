"""Paper 002's Figure 3 from a training run's metrics.json "dynamics" list (`gradgrad train --track-dynamics N`):

    dynamics.png         (b) memorization vs test error, (c) distinct attractors, (d) noise vs training
                         attractors, the decoded attractors' distance to the data, Figure 12's rank
    dynamics_fields.png  (a) the 2-D latent field at a few epochs (dynamics/field_epoch_<e>.csv)
"""
import os

import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np

from plots.draw import SOURCE_COLOURS, draw_attractors, draw_field, save
from plots.io import column, finite, read_json, read_rows

# Records written before the snapshot shared its keys with the sweep (experiments/records.h).
LEGACY_KEYS = {"distinct_train": "attractors_train", "distinct_test": "attractors_test",
               "distinct_noise": "attractors_noise", "starts_train": "starts", "attractor_rank": "attractor_rank_90",
               "attractor_rank_distinct": "attractor_rank_90_distinct"}


def _get(d, key):
    return d.get(key, d.get(LEGACY_KEYS.get(key, key)))


def plot_training_dynamics(run):
    dyn = read_json(os.path.join(run, "metrics.json")).get("dynamics") or []
    if not dyn:
        return
    dyn = sorted(dyn, key=lambda d: d["epoch"])
    ep = np.array([d["epoch"] for d in dyn])

    def series(key):
        return np.array([_get(d, key) if finite(_get(d, key)) else np.nan for d in dyn], dtype=float)

    fig, axes = plt.subplots(1, 5, figsize=(25, 4.2))
    ax = axes[0]
    m, s = series("memorization_mean"), series("memorization_std")
    ax.plot(ep, m, "o-", color="#1f77b4", label="memorization coefficient")
    ax.fill_between(ep, m - s, m + s, color="#1f77b4", alpha=0.15)
    ax.set_ylabel("memorization coefficient (mean ± std)", color="#1f77b4")
    ax.ticklabel_format(axis="y", useOffset=False)
    if np.isfinite(m).any():
        ax.set_ylim(min(-0.05, np.nanmin(m - s) - 0.05), 1.05)
    twin = ax.twinx()
    twin.plot(ep, series("test_mse"), "s-", color="#d62728", label="test MSE")
    twin.set_yscale("log")
    twin.set_ylabel("test MSE", color="#d62728")
    ax.set_title("(b) memorization vs test error", fontsize=10)
    ax = axes[1]
    for source in ("train", "test", "noise"):
        ax.plot(ep, series("distinct_" + source), "o-", color=SOURCE_COLOURS[source], label=f"from {source}")
    ax.set_title(f"(c) distinct attractors (of {_get(dyn[-1], 'starts_train')} starts each)", fontsize=10)
    ax.set_ylabel("distinct attractors")
    ax.set_yscale("log")
    ax.legend(fontsize=8)
    ax = axes[2]
    ax.plot(ep, series("chamfer_noise_train"), "o-", color="#2ca02c", label="Chamfer(Z*_noise, Z*_train)")
    ax.set_ylabel("Chamfer similarity", color="#2ca02c")
    twin = ax.twinx()
    twin.plot(ep, series("fpr95_noise_vs_train"), "s-", color="#9467bd", label="FPR95 noise vs train")
    twin.set_ylabel("FPR95 (trajectory score)", color="#9467bd")
    twin.set_ylim(-0.05, 1.05)
    ax.set_title("(d) noise vs training attractors and trajectories", fontsize=10)
    ax = axes[3]
    ax.plot(ep, series("nearest_distance_mean"), "o-", color="#17becf")
    ax.set_ylabel("mean ||D(z*) - nearest x_train|| (normalized units)")
    ax.set_title("decoded training attractors: distance to the data", fontsize=10)
    ax = axes[4]
    rank = series("attractor_rank")
    ax.plot(ep, rank, "o-", color="#8c564b", label="all converged training endpoints")
    distinct = series("attractor_rank_distinct")
    if np.isfinite(distinct).any():
        ax.plot(ep, distinct, "s--", color="#e377c2", label="distinct training attractors")
        rank = np.concatenate([rank, distinct])
    ax.legend(fontsize=8)
    ax.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    if np.isfinite(rank).any():
        ax.set_ylim(0, np.nanmax(rank) + 1)
    ax.set_ylabel("components for 90% of the variance")
    ax.set_title("rank of the decoded attractors D(Z*) (Figure 12)", fontsize=10)
    for a in axes:
        a.set_xlabel("epoch")
        a.grid(alpha=0.3)
    save(fig, run, "dynamics.png", dpi=100)
    _fields_figure(run, dyn)


def _fields_figure(run, dyn):
    base = os.path.join(run, "dynamics")
    fields = [d for d in dyn if os.path.exists(os.path.join(base, f"field_epoch_{d['epoch']}.csv"))]
    if not fields:
        return
    if len(fields) > 8:  # at most 8 panels, evenly spread, first and last included
        pick = sorted(set(np.linspace(0, len(fields) - 1, 8).round().astype(int)))
        fields = [fields[i] for i in pick]
    fig, axes = plt.subplots(1, len(fields), figsize=(3.6 * len(fields), 3.9), squeeze=False)
    for ax, d in zip(axes[0], fields):
        field_snapshot_panel(ax, base, f"epoch_{d['epoch']}",
                             f"epoch {d['epoch']}: {_get(d, 'distinct_train')} attractors\n"
                             f"test MSE {d.get('test_mse', 0):.3g}")
    fig.suptitle("(a) the 2-D latent field f(z) - z across training (each panel framed on its own codes)",
                 fontsize=10)
    save(fig, run, "dynamics_fields.png", dpi=100)


def field_snapshot_panel(ax, folder, tag, title, colorbar=False):
    """One 2-D field snapshot (experiments/field_analysis.h, write_field_snapshot): the field f(z) - z with its
    streamlines, coloured by its norm, the training codes and the most visited training attractors."""
    draw_field(ax, os.path.join(folder, f"field_{tag}.csv"), colorbar=colorbar, density=0.9)
    xlim, ylim = ax.get_xlim(), ax.get_ylim()
    codes = os.path.join(folder, f"codes_{tag}.csv")
    if os.path.exists(codes):
        rows = read_rows(codes)
        ax.scatter(column(rows, "p0"), column(rows, "p1"), s=1.5, c="#1f77b4", alpha=0.5, linewidths=0)
    att = os.path.join(folder, f"attractors_{tag}.csv")
    if os.path.exists(att):
        draw_attractors(ax, [r for r in read_rows(att) if r["source"] == "train"], annotate=3, max_size=90)
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("code coordinate z0", fontsize=8)
    ax.set_ylabel("code coordinate z1", fontsize=8)
    ax.tick_params(labelsize=7)
