"""report.html of a run folder: the command that made it, the numbers of metrics.json, and every PNG."""
import html
import json
import os

from plots import io


def _table(d):
    rows = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(json.dumps(v))}</td></tr>"
                   for k, v in d.items())
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


def write_report(folder, info):
    figures = sorted(f for f in os.listdir(folder) if f.endswith(".png"))
    metrics = io.read_json(os.path.join(folder, "metrics.json")) if io.exists(folder, "metrics.json") else {}
    body = [f"<h1>gradgrad {html.escape(info['kind'])}</h1>",
            f"<p><code>{html.escape(info.get('command', ''))}</code></p>",
            "<h2>Numbers</h2>", metrics_tables(metrics), "<h2>Figures</h2>"]
    body += [f'<figure><img src="{f}" alt="{f}"><figcaption>{f}</figcaption></figure>' for f in figures]
    style = ("body{font-family:sans-serif;max-width:1400px;margin:2em auto}img{max-width:100%}"
             "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}"
             "figure{display:inline-block;margin:1em;vertical-align:top}")
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>gradgrad {html.escape(info['kind'])}"
            f"</title><style>{style}</style></head><body>{''.join(body)}</body></html>\n")
    tmp = os.path.join(folder, "report.html.tmp")
    with open(tmp, "w") as f:
        f.write(page)
    os.replace(tmp, os.path.join(folder, "report.html"))
