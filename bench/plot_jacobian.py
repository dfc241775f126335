"""Figures of `gradgrad bench jacobian` (its bench_jacobian.json): how the exact penalty's step time scales.

    plot_jacobian(data, out_dir) -> list of the PNG paths written
    python3 bench/plot_jacobian.py DIR_OR_JSON [OUT_DIR]

jacobian_scaling.png: ms per Adam step of the MNIST MLP (784-512-m) against the code size m (batch 128)
and against the batch (m = 32), log-log: ours plain, exact-reverse (vectorized one-hot pass) and
exact-gram (through the first layer's Gram matrix), PyTorch's plain step and its fastest exact way, and
the FLOP floor of exact-gram (the cost model's FLOPs at the SGEMM rate measured in the same run). The
second row is the same steps divided by the plain step of their size.

jacobian_methods.png: every method's step time as a multiple of its plain step, per size (toy, mlp32,
mlp128, conv), ours beside PyTorch's where it has the case.

Only matplotlib and the JSON are needed; the JSON is read by the plotting package's reader (plots/io.py), and
plots/run.py imports this module and calls plot_jacobian for a `gradgrad bench jacobian` run.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))  # the source root: plots/
from plots.io import read_json  # noqa: E402  (the package also selects matplotlib's Agg backend)

import matplotlib.pyplot as plt  # noqa: E402

OURS_STYLE = {"plain": ("C0", "o", "-"), "exact-reverse": ("C1", "s", "-"), "exact-gram": ("C2", "^", "-")}


def _rows(data, group):
    return [r for r in data.get("rows", []) if r.get("group") == group and "ours" in r]


def _axis_value(row, group):
    return row["model"]["code_dim"] if group == "scale-m" else row["batch"]


def _scaling_panels(data, group, ax_ms, ax_ratio, xlabel):
    rows = _rows(data, group)
    if not rows:
        for ax in (ax_ms, ax_ratio):
            ax.text(0.5, 0.5, f"no {group} rows", ha="center", va="center", transform=ax.transAxes)
        return
    for method, (color, marker, ls) in OURS_STYLE.items():
        pts = sorted((_axis_value(r, group), r["ours"]["median_ms"], r["ours"]["min_ms"], r["ours"]["max_ms"],
                      r.get("ratio_to_plain")) for r in rows if r["method"] == method)
        if not pts:
            continue
        xs = [p[0] for p in pts]
        ys = [p[1] for p in pts]
        err = [[p[1] - p[2] for p in pts], [p[3] - p[1] for p in pts]]
        ax_ms.errorbar(xs, ys, yerr=err, color=color, marker=marker, ls=ls, capsize=2, label=f"ours {method}")
        if method != "plain":
            ax_ratio.plot(xs, [p[4] for p in pts], color=color, marker=marker, ls=ls, label=f"ours {method}")
    # PyTorch: its plain step and its fastest exact way (one per size).
    for method, color, label in (("plain", "C0", "torch plain"), ("exact-reverse", "C3", "torch exact (fastest way)")):
        pts = sorted((_axis_value(r, group), r["torch"]["median_ms"], r["torch"].get("ratio_to_plain"),
                      r["torch"].get("way", "")) for r in rows if r["method"] == method and "torch" in r)
        if not pts:
            continue
        ax_ms.plot([p[0] for p in pts], [p[1] for p in pts], color=color, marker="x", ls="--", label=label)
        if method != "plain":
            ax_ratio.plot([p[0] for p in pts], [p[2] for p in pts], color=color, marker="x", ls="--", label=label)
            for p in pts:
                ax_ms.annotate(p[3], (p[0], p[1]), fontsize=6, color=color, xytext=(2, 2), textcoords="offset points")
    floor = sorted((_axis_value(r, group), r["floor_ms"]) for r in rows if r["method"] == "exact-gram" and "floor_ms" in r)
    if floor:
        ax_ms.plot([p[0] for p in floor], [p[1] for p in floor], color="0.5", ls=":", label="exact-gram FLOP floor")
    for ax in (ax_ms, ax_ratio):
        ax.set_xscale("log", base=2)
        ax.set_xlabel(xlabel)
        ax.grid(True, which="both", alpha=0.3)
    ax_ms.set_yscale("log")
    ax_ratio.set_yscale("log")
    ax_ms.set_ylabel("ms per Adam step")
    ax_ratio.set_ylabel("x plain step")
    ax_ms.legend(fontsize=7)
    ax_ratio.legend(fontsize=7)


def plot_scaling(data, path):
    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    _scaling_panels(data, "scale-m", axes[0][0], axes[1][0], "code size m (784-512-m, batch 128)")
    _scaling_panels(data, "scale-batch", axes[0][1], axes[1][1], "batch (784-512-32)")
    s = data.get("settings", {})
    fig.suptitle(f"Exact contractive penalty: step time scaling ({s.get('threads', '?')} threads"
                 + (", --quick" if s.get("quick") else "") + ")")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_methods(data, path):
    sizes = [s for s in ("toy", "mlp32", "mlp128", "conv") if _rows(data, s)]
    if not sizes:
        return False
    fig, axes = plt.subplots(1, len(sizes), figsize=(4.5 * len(sizes), 4.5), squeeze=False)
    for ax, size in zip(axes[0], sizes):
        rows = [r for r in _rows(data, size) if "ratio_to_plain" in r]
        names = [r["method"] for r in rows]
        ours = [r["ratio_to_plain"] for r in rows]
        torch = [r.get("torch", {}).get("ratio_to_plain", float("nan")) for r in rows]
        ys = range(len(rows))
        ax.barh([y - 0.2 for y in ys], ours, height=0.4, color="C0", label="ours")
        ax.barh([y + 0.2 for y in ys], torch, height=0.4, color="C3", label="PyTorch")
        ax.set_yticks(list(ys))
        ax.set_yticklabels(names, fontsize=8)
        ax.invert_yaxis()
        ax.set_xscale("log")
        ax.axvline(1.0, color="0.5", lw=0.8)
        ax.set_xlabel("step time / plain step")
        ax.set_title(size)
        ax.grid(True, axis="x", which="both", alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def plot_jacobian(data, out_dir):
    """Draws the figures of one bench_jacobian.json (already parsed) into out_dir; returns their paths."""
    os.makedirs(out_dir, exist_ok=True)
    written = []
    scaling = os.path.join(out_dir, "jacobian_scaling.png")
    plot_scaling(data, scaling)
    written.append(scaling)
    methods = os.path.join(out_dir, "jacobian_methods.png")
    if plot_methods(data, methods):
        written.append(methods)
    return written


def main(argv):
    if len(argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    src = argv[1]
    path = os.path.join(src, "bench_jacobian.json") if os.path.isdir(src) else src
    data = read_json(path)
    out_dir = argv[2] if len(argv) == 3 else os.path.dirname(os.path.abspath(path))
    for p in plot_jacobian(data, out_dir):
        print(f"wrote {p}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
