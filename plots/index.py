"""index.html over a folder of runs: one row per run (a folder with run.json, up to two levels down), the
config keys on which the runs differ and each run's headline numbers side by side, linked to its report."""
import html
import json
import os
import re

from plots import io
from plots.report import label, number_text, write_page

# The numbers a row shows when a run has them: "final" of a training run, "sweep_point" of a sweep's model.
HEADLINE = ["test_mse", "train_mse", "epochs", "minutes", "parameters", "memorization_mean", "distinct_train",
            "attractor_rank", "auroc", "fpr95"]


def natural_key(name):
    """Sorts k_4 before k_16: the digits in a name compare as numbers."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def find_runs(folder, depth=2):
    """Folders under `folder` (not itself) that hold a run.json, in natural order of their names."""
    runs = []
    for name in sorted(os.listdir(folder), key=natural_key):
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


def _read_or_empty(run, name):
    return io.read_json(os.path.join(run, name)) if io.exists(run, name) else {}


def write_index(folder):
    """Writes folder/index.html over the runs find_runs finds; returns whether there were any."""
    runs = find_runs(folder)
    if not runs:
        return False
    configs, numbers, kinds = {}, {}, {}
    for run in runs:
        configs[run] = flatten(_read_or_empty(run, "config.json"))
        numbers[run] = headline(_read_or_empty(run, "metrics.json"))
        kinds[run] = _read_or_empty(run, "run.json").get("kind", "?")
    keys = sorted({k for c in configs.values() for k in c})
    differing = [k for k in keys if len({configs[r].get(k) for r in runs}) > 1]
    columns = [k for k in HEADLINE if any(k in numbers[r] for r in runs)]
    head = "".join(f"<th>{html.escape(h)}</th>" for h in ["run", "kind"] + differing + [label(c) for c in columns])
    rows = []
    for run in runs:
        rel = os.path.relpath(run, folder)
        link = os.path.join(rel, "report.html")
        name = html.escape(rel)
        if io.exists(run, "report.html"):
            name = f'<a href="{html.escape(link)}">{name}</a>'
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
