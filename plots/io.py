"""The one reader of a run's data files: CSV rows, columns of them as arrays, JSON, and points files."""
import csv
import json
import math
import os

import numpy as np


def read_rows(path):
    """A CSV with a header as a list of dicts (column -> text)."""
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def column(rows, key, cast=float):
    """One column of read_rows' rows as an array; text that does not parse ("", "nan"...) reads as NaN."""
    out = []
    for r in rows:
        try:
            out.append(cast(r[key]))
        except (TypeError, ValueError):
            out.append(math.nan)
    return np.array(out)


def read_json(path):
    with open(path) as f:
        return json.load(f)


def read_points(path):
    """A points CSV (x0, x1, ..., optional label) as (list of coordinate arrays, label array or None)."""
    rows = read_rows(path)
    dims = [k for k in (rows[0].keys() if rows else []) if k.startswith("x")]
    labels = column(rows, "label", int) if rows and "label" in rows[0] else None
    return [column(rows, k) for k in dims], labels


def finite(x):
    """A JSON value that is a finite number (null, strings and NaN are not)."""
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def exists(folder, name):
    return os.path.exists(os.path.join(folder, name))
