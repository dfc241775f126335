"""The figures of `gradgrad poisson-check` (experiments/poisson_check.h), from the files it writes:

    poisson_check.png         p, s and every potential v on the grid, each on its own colour scale
    poisson_check_errors.png  per potential: Green's residual R - (flux - coupling) over R, and the relative
                              L2 distance of grad v to the grid solution (on Omega, and on the data)
"""
import os

import matplotlib.pyplot as plt
import numpy as np

from plots.draw import save
from plots.io import column, read_json, read_rows

TITLES = {"grid": "grid (finite differences)", "paper": "paper: eq. 10 as written",
          "importance": "importance: eq. 10 / q", "ritz": "ritz: v_theta, corrupted boundary",
          "ritz_box": "ritz_box: v_theta, box boundary",
          "ritz_omega": "ritz_omega: v_theta, v = 0 on Omega",
          "ritz_oracle": "ritz_oracle: the same, exact s", "weighted": "weighted: eq. 10 / p (oracle)"}


def _image(ax, rows, key, x, y, title, vmin=None, vmax=None, cmap="viridis"):
    side = int(round(np.sqrt(len(rows))))
    values = column(rows, key).reshape(side, side).T  # rows are (i, j) with x = i: transpose for imshow
    extent = (x.min(), x.max(), y.min(), y.max())
    shown = ax.imshow(values, origin="lower", extent=extent, vmin=vmin, vmax=vmax, cmap=cmap, aspect="auto")
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("x0")
    ax.set_ylabel("x1")
    return shown


def plot_poisson_check(run):
    rows = read_rows(os.path.join(run, "potentials.csv"))
    check = read_json(os.path.join(run, "poisson_check.json"))
    x, y = column(rows, "x0"), column(rows, "x1")
    potentials = [k[2:] for k in rows[0].keys() if k.startswith("v_")]
    fig, axes = plt.subplots(2, 5, figsize=(22, 8))  # p, s and eight potentials
    axes = axes.ravel()
    fig.colorbar(_image(axes[0], rows, "p", x, y, "p_Omega (the data's density)", cmap="magma"), ax=axes[0])
    fig.colorbar(_image(axes[1], rows, "s", x, y, "s_phi = ||J_f||_F^2 (eq. 3)", cmap="magma"), ax=axes[1])
    # Each v on its own scale: the free-space potentials differ from the Dirichlet one by a harmonic function
    # (mostly a level), so a shared scale would show their shape as one colour.
    for ax, name in zip(axes[2:], potentials):
        fig.colorbar(_image(ax, rows, "v_" + name, x, y, TITLES.get(name, name)), ax=ax)
    for ax in axes[2 + len(potentials):]:
        ax.axis("off")
    grid = check["grid"]
    fig.suptitle(f"{check['data']}: Laplace v = s (eq. 4), R = {grid['R']:.4g}, n = {grid['n']}")
    save(fig, run, "poisson_check.png", dpi=90)

    table = check["estimators"]
    names = [r["estimator"] for r in table]
    at = np.arange(len(names))

    def values(key, scale=1.0):
        return [abs(r[key]) / scale if isinstance(r[key], (int, float)) else np.nan for r in table]

    fig, axes = plt.subplots(1, 2, figsize=(14, 4.5))
    axes[0].bar(at, values("green_residual", abs(grid["R"])), color="#d62728")
    axes[0].set_title("|R - (flux - coupling)| / R: 0 when Laplace v = s (eq. 6)")
    axes[1].bar(at - 0.2, values("grad_error"), width=0.4, label="on Omega", color="#1f77b4")
    axes[1].bar(at + 0.2, values("grad_error_data"), width=0.4, label="on the data (p-weighted)", color="#ff7f0e")
    axes[1].set_title("|grad v - grad v_grid| / |grad v_grid|")
    axes[1].legend(fontsize=8)
    for ax in axes:
        ax.set_xticks(at)
        ax.set_xticklabels(names, rotation=20)
    save(fig, run, "poisson_check_errors.png", dpi=90)
