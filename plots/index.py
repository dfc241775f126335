"""index.html over a folder of runs: one row per run (a folder with run.json, up to two levels down), the
config keys on which the runs differ and each run's headline numbers side by side, linked to its report."""
import html
import json
import os

from plots import io
from plots.report import label, number_text, write_page

# The numbers a row shows when a run has them: "final" of a training run, "sweep_point" of a sweep's model.
HEADLINE = ["test_mse", "train_mse", "epochs", "minutes", "parameters", "memorization_mean", "distinct_train",
            "attractor_rank", "auroc", "fpr95"]


def find_runs(folder, depth=2):
    """Folders under `folder` (not itself) that hold a run.json, sorted by path."""
    runs = []
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        if os.path.isdir(path):
            if io.exists(path, "run.json"):
                runs.append(path)
            if depth > 1:
                runs += find_runs(path, depth - 1)
    return runs


def flatten(value, prefix=""):
    """A config as {"training.lr": "0.001", ...}: one entry per leaf, lists kept whole."""
    if isinstance(value, dict):
        out = {}
        for key, v in value.items():
            out.update(flatten(v, f"{prefix}.{key}" if prefix else key))
        return out
    return {prefix: json.dumps(value)}


def headline(metrics):
    """The HEADLINE numbers of a run's metrics.json, from its "final" or "sweep_point" section or its top level."""
    out = {}
    for section in (metrics.get("final", {}), metrics.get("sweep_point", {}), metrics):
        if isinstance(section, dict):
            for key in HEADLINE:
                if key not in out and io.finite(section.get(key)):
                    out[key] = section[key]
    return out


def write_index(folder):
    runs = find_runs(folder)
    if not runs:
        return False
    configs, numbers, kinds = {}, {}, {}
    for run in runs:
        configs[run] = flatten(io.read_json(os.path.join(run, "config.json"))) if io.exists(run, "config.json") else {}
        numbers[run] = headline(io.read_json(os.path.join(run, "metrics.json"))) if io.exists(run, "metrics.json") else {}
        kinds[run] = io.read_json(os.path.join(run, "run.json")).get("kind", "?")
    keys = sorted({k for c in configs.values() for k in c})
    differing = [k for k in keys if len({configs[r].get(k) for r in runs}) > 1]
    columns = [k for k in HEADLINE if any(k in numbers[r] for r in runs)]
    head = "".join(f"<th>{html.escape(h)}</th>" for h in ["run", "kind"] + differing + [label(c) for c in columns])
    rows = []
    for run in runs:
        rel = os.path.relpath(run, folder)
        link = os.path.join(rel, "report.html")
        name = f'<a href="{html.escape(link)}">{html.escape(rel)}</a>' if io.exists(run, "report.html") else html.escape(rel)
        cells = [name, html.escape(kinds[run])]
        cells += [html.escape(configs[run].get(k, "")) for k in differing]
        cells += [number_text(numbers[run][c]) if c in numbers[run] else "" for c in columns]
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    same = len(keys) - len(differing)
    body = (f"<h1>gradgrad runs in {html.escape(os.path.basename(os.path.abspath(folder)))}</h1>"
            f"<p>{len(runs)} runs. Config keys that differ between them are columns; the other {same} keys are "
            f"the same in every run.</p><table><tr>{head}</tr>{''.join(rows)}</table>")
    write_page(os.path.join(folder, "index.html"), "gradgrad runs", body)
    return True
