"""Per-column profile for report.html: exact counts, plus a histogram or bar chart per column.

Counts (rows, missing, min, max) are exact; the mean, distinct count, histograms and top
values come from a systematic sample of at most ``SAMPLE`` rows (``TableView.spread``: every k-th
row, which a streamed table keeps batch by batch), so the profile stays cheap on large tables.
Charts are small hand-drawn inline SVGs (no plotting library needed).
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from mlgate.data.table import TableView, jsonable
from mlgate.reports.model import Section

if TYPE_CHECKING:
    import pandas as pd

SAMPLE = 200_000
BINS = 20
TOP = 8


def profile_table(view: TableView) -> dict[str, dict[str, Any]]:
    """Profile each column: kind, missing, min/max/mean or top values, and chart data."""
    sample = view.spread(SAMPLE)
    out: dict[str, dict[str, Any]] = {}
    for col in view.columns:
        name = str(col)
        known = name in view.schema.columns
        kind = view.kind(name)
        nulls = view.nulls(name)
        entry: dict[str, Any] = {"kind": kind, "schema_dtype": view.schema.columns[name].dtype if known else None,
                                 "missing": nulls,
                                 "missing_share": round(nulls / max(view.rows, 1), 6)}
        s = sample[col].dropna()
        if kind in ("int", "float") and len(s):
            entry.update(_numeric(view, name, s))
        elif len(s):
            top = s.astype("str").value_counts().head(TOP)
            entry["distinct_in_sample"] = int(s.nunique())
            if entry["distinct_in_sample"] < len(s):  # an id-like column has no useful top values
                entry["top"] = {str(k): int(v) for k, v in top.items()}
            else:
                entry["example"] = str(s.iloc[0])
        out[name] = entry
    return out


def _numeric(view: TableView, col: str, s: pd.Series) -> dict[str, Any]:
    import numpy as np

    lo, hi = view.min_max(col)
    values = s.to_numpy(dtype="float64")
    counts, edges = np.histogram(values, bins=BINS)
    return {"min": jsonable(lo), "max": jsonable(hi), "mean": round(float(values.mean()), 6),
            "distinct_in_sample": int(len(np.unique(values))),
            "histogram": {"counts": counts.tolist(), "edges": [round(float(e), 6) for e in edges]}}


def profile_section(label: str, profile: dict[str, dict[str, Any]]) -> Section:
    """An HTML table with one row per column and its chart."""
    rows = []
    for col, p in profile.items():
        if "histogram" in p:
            chart = _bars(p["histogram"]["counts"], f"{p['min']} .. {p['max']}")
            summary = f"min {p['min']:.6g}<br>max {p['max']:.6g}<br>mean {p['mean']:.6g}"
        elif "top" in p:
            chart = _bars(list(p["top"].values()), ", ".join(list(p["top"])[:TOP]))
            summary = "<br>".join(f"{html.escape(k)}: {v}" for k, v in list(p["top"].items())[:4])
        elif "example" in p:
            chart = ""
            summary = f"all {p['distinct_in_sample']} distinct (sample), e.g. {html.escape(p['example'])}"
        else:
            chart, summary = "", ""
        kind = p["kind"] if p["schema_dtype"] in (None, p["kind"]) else f"{p['schema_dtype']} ({p['kind']})"
        rows.append(f"<tr><td><code>{html.escape(col)}</code></td><td>{html.escape(kind)}</td>"
                    f"<td class=num>{p['missing']} ({p['missing_share']:.2%})</td>"
                    f"<td>{summary}</td><td>{chart}</td></tr>")
    body = ("<table><tr><th>column</th><th>type</th><th>missing</th><th>values</th>"
            "<th>distribution</th></tr>" + "".join(rows) + "</table>")
    return Section(title=f"Column profile: {label}", html=body)


def _bars(counts: list[int], title: str, width: int = 220, height: int = 48) -> str:
    if not counts or max(counts) == 0:
        return ""
    step = width / len(counts)
    top = max(counts)
    rects = "".join(
        f'<rect x="{i * step:.1f}" y="{height - c / top * height:.1f}" width="{max(step - 1, 1):.1f}" '
        f'height="{c / top * height:.1f}" fill="#4c78a8"/>' for i, c in enumerate(counts))
    return (f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img">'
            f"<title>{html.escape(title)}</title>{rects}</svg>")
