"""report.html of a run folder: the command that made it, the numbers of metrics.json, and every PNG."""
import html
import json
import math
import os

from plots import io

STYLE = ("body{font-family:sans-serif;max-width:1400px;margin:2em auto}img{max-width:100%}"
         "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}"
         "figure{display:inline-block;margin:1em;vertical-align:top}")

# A key's unit, by how the key ends: the writers name their quantities this way (train_seconds, minutes...).
UNITS = [("_seconds", "s"), ("seconds", "s"), ("_minutes", "min"), ("minutes", "min"), ("_ms", "ms"),
         ("_bytes", "bytes"), ("_gb", "GB"), ("_mb", "MB")]


def label(key):
    """A column or row header: the key and its unit, if it has one ("minutes (min)")."""
    for suffix, unit in UNITS:
        if key == suffix.lstrip("_") or key.endswith(suffix):
            return f"{key} ({unit})"
    return key


def rounded(value):
    """A JSON value with its floats cut to 4 significant digits (a number means no more than that here)."""
    if isinstance(value, float):
        return float(f"{value:.4g}") if math.isfinite(value) else value
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded(v) for v in value]
    return value


def number_text(value):
    """One value for a table cell: floats to 4 significant digits, null (NaN, infinity) as "n/a", long lists
    summarized by their length and range."""
    if value is None:
        return "n/a"
    if isinstance(value, bool) or isinstance(value, str):
        return html.escape(str(value))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list) and len(value) > 8 and all(io.finite(v) for v in value):
        return f"{len(value)} values, {min(value):.4g} to {max(value):.4g}"
    return html.escape(json.dumps(rounded(value)))


def _table(d):
    rows = "".join(f"<tr><th>{html.escape(label(str(k)))}</th><td>{number_text(v)}</td></tr>" for k, v in d.items())
    return f"<table>{rows}</table>"


def metrics_tables(metrics):
    """metrics.json as HTML: scalars in one table, each object of scalars as a table of its own."""
    out, scalars = [], {k: v for k, v in metrics.items() if not isinstance(v, (dict, list))}
    if scalars:
        out.append(_table(scalars))
    for key, value in metrics.items():
        if isinstance(value, dict):
            out.append(f"<h3>{html.escape(key)}</h3>" + _table(value))
    return "\n".join(out)


def write_page(path, title, body):
    """An HTML page written whole or not at all (a temporary file renamed over the old one)."""
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head><body>{body}</body></html>\n")
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(page)
    os.replace(tmp, path)


def write_report(folder, info):
    figures = sorted(f for f in os.listdir(folder) if f.endswith(".png"))
    metrics = io.read_json(os.path.join(folder, "metrics.json")) if io.exists(folder, "metrics.json") else {}
    body = [f"<h1>gradgrad {html.escape(info['kind'])}</h1>",
            f"<p><code>{html.escape(info.get('command', ''))}</code></p>",
            "<h2>Numbers</h2>", metrics_tables(metrics), "<h2>Figures</h2>"]
    body += [f'<figure><img src="{f}" alt="{f}"><figcaption>{f}</figcaption></figure>' for f in figures]
    if io.exists(folder, "index.html"):
        body.insert(2, '<p><a href="index.html">the runs in this folder, side by side</a></p>')
    write_page(os.path.join(folder, "report.html"), f"gradgrad {info['kind']}", "".join(body))
