"""The monitor report: one check per column, the dataset verdict, the performance trend, plots."""

from __future__ import annotations

import html
import math
from typing import TYPE_CHECKING, Any

from mlgate.monitor.drift import ColumnDrift, DriftResult, coarse_counts
from mlgate.monitor.profile import TableProfile
from mlgate.reports.model import Check, Report, Section

if TYPE_CHECKING:
    from mlgate.monitor.performance import Decay, Window

PLOTTED_LEVELS = 20  # bars per categorical column in the report (a column may keep up to 1,000 levels)


def drift_check(col: ColumnDrift) -> Check:
    """``drift`` for one column: failed when it differs; blocking only for a critical column."""
    d = col.decision
    cmp, rule = d.comparison, d.rule
    observed = {"method": col.method, "statistic": _num(cmp.statistic) if cmp else None,
                "p_value": _num(cmp.p_value) if cmp else None, "adjusted_p": _num(d.adjusted_p),
                "effect": _num(cmp.effect) if cmp else None, "n": list(cmp.n) if cmp else None}
    expected = {"alpha": rule.alpha, "material": rule.material, "min_n": rule.min_n} if rule else None
    role = "" if col.role == "feature" else f"{col.role} "
    message = f"{role}{d.reason}" + (f" [{col.note}]" if col.note else "") + (" (critical)" if col.critical else "")
    severity = "error" if col.critical else "warning" if d.outcome != "undecided" else "info"
    return Check(name=f"{col.role}_drift", column=col.column, passed=not col.drifted, severity=severity,
                 observed=observed, expected=expected, message=message,
                 details={"outcome": d.outcome, "kind": col.kind})


def dataset_check(result: DriftResult) -> Check:
    feats = result.features
    drifted = result.drifted_features
    shown = f": {', '.join(drifted)}" if drifted else ""
    return Check(name="dataset_drift", passed=not result.dataset_drift, observed=round(result.drift_share, 4),
                 expected={"max_share": result.share_limit},
                 message=f"{len(drifted)} of {len(feats)} features drifted ({result.drift_share:.0%}, "
                         f"limit {result.share_limit:.0%}){shown}")


def decay_check(decay: Decay) -> Check:
    severity = "info" if decay.undecided else "error"
    return Check(name="performance_decay", passed=not decay.decayed, severity=severity,
                 observed={"metric": decay.latest.metric, "value": round(decay.latest.value, 6),
                           "low": round(decay.latest.low, 6), "high": round(decay.latest.high, 6),
                           "rows": decay.latest.rows,
                           "p_value": _num(decay.comparison.p_value) if decay.comparison else None},
                 expected={"baseline": _num(decay.baseline.get("value"))}, message=decay.message)


def build_report(result: DriftResult, reference: TableProfile, current: TableProfile,
                 wins: list[Window] | None = None, decay: Decay | None = None) -> Report:
    """The monitor stage's report with checks, extras for report.json, and HTML sections."""
    report = Report(stage="monitor")
    report.add(dataset_check(result))
    for col in result.by_severity():
        report.add(drift_check(col))
    if decay is not None:
        report.add(decay_check(decay))
    feats = result.features
    report.metrics = {"features": len(feats), "drifted_features": len(result.drifted_features),
                      "drift_share": round(result.drift_share, 4), "current_rows": current.rows,
                      "reference_rows": reference.rows}
    figure = f"{len(result.drifted_features)}/{len(feats)} features drifted"
    if decay is not None:
        figure += f"; {decay.latest.metric} {decay.latest.value:.3f} latest window"
    report.key_figure = figure
    report.extras = {"drift": [_row(c) for c in result.by_severity()],
                     "reference": {k: v for k, v in reference.meta.items() if k != "baseline"},
                     "performance": {"windows": [w.to_dict() for w in wins or []],
                                     "baseline": {k: v for k, v in (decay.baseline if decay else {}).items()
                                                  if k != "errors"}}}
    report.sections.append(Section(title="Drift by severity", html=_table(result)))
    if wins:
        report.sections.append(Section(title="Performance by window", html=_trend(wins, decay)))
    report.sections.append(Section(title="Reference versus current", html=_plots(result, reference, current)))
    return report


def _row(col: ColumnDrift) -> dict[str, Any]:
    return {"column": col.column, "role": col.role, "kind": col.kind, "critical": col.critical,
            **col.decision.to_dict(), "note": col.note}


def _num(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.3g}"


def _table(result: DriftResult) -> str:
    head = "".join(f"<th>{h}</th>" for h in ("column", "role", "method", "statistic", "p (adjusted)",
                                             "effect", "material", "verdict"))
    rows = []
    for col in result.by_severity():
        cmp, rule = col.decision.comparison, col.decision.rule
        verdict = col.decision.outcome + (" (critical)" if col.critical else "")
        style = ' style="color:#b00020;font-weight:600"' if col.drifted else ""
        cells = (col.column, col.role, col.method, _fmt(_num(cmp.statistic) if cmp else None),
                 _fmt(_num(col.decision.adjusted_p)), _fmt(_num(cmp.effect) if cmp else None),
                 _fmt(rule.material if rule else None), verdict)
        rows.append(f"<tr{style}>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def _shares(col: ColumnDrift, prof: TableProfile) -> tuple[list[str], list[float]]:
    spec = prof.spec.column(col.column)
    cp = prof.columns[col.column]
    if spec.kind == "categorical":  # the reference's most frequent levels, the rest as one bar
        shown = min(PLOTTED_LEVELS, len(spec.levels))
        labels = [*spec.levels[:shown], "(rest)"]
        counts = [*cp.counts[:shown], sum(cp.counts[shown:])]  # (the counts' last place is the rest)
    else:
        by_bin = coarse_counts(spec, cp)
        cuts = [_fmt(d) for d in spec.deciles]
        labels = [f"< {cuts[0]}" if cuts else "all", *(f"{a} to {b}" for a, b in zip(cuts, cuts[1:], strict=False)),
                  *([f">= {cuts[-1]}"] if cuts else [])]
        counts = [by_bin.get(i, 0) for i in range(len(labels))]
    total = sum(counts) or 1
    return labels, [c / total for c in counts]


def _plots(result: DriftResult, reference: TableProfile, current: TableProfile) -> str:
    """Reference (grey) and current (blue or red when drifted) shares per decile or level, as inline SVG."""
    out = []
    for col in result.by_severity():
        labels, ref = _shares(col, reference)
        _, cur = _shares(col, current)
        out.append(f"<figure style='display:inline-block;margin:6px'>{_bars(labels, ref, cur, col.drifted)}"
                   f"<figcaption>{html.escape(col.column)} ({col.role}, {col.decision.outcome})</figcaption></figure>")
    return "".join(out)


def _bars(labels: list[str], ref: list[float], cur: list[float], drifted: bool, w: int = 300, h: int = 140) -> str:
    n = max(len(labels), 1)
    top = max([*ref, *cur, 1e-9])
    slot = (w - 10) / n
    colour = "#c62828" if drifted else "#1e63b5"
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{w}' height='{h}' role='img'>"]
    for i, (r, c) in enumerate(zip(ref, cur, strict=True)):
        x = 5 + i * slot
        for j, (v, fill) in enumerate(((r, "#9e9e9e"), (c, colour))):
            bh = (h - 20) * v / top
            parts.append(f"<rect x='{x + j * slot / 2:.1f}' y='{h - 15 - bh:.1f}' width='{slot / 2 - 1:.1f}' "
                         f"height='{bh:.1f}' fill='{fill}'><title>{html.escape(labels[i])}: "
                         f"{'reference' if j == 0 else 'current'} {v:.1%}</title></rect>")
    parts.append(f"<text x='5' y='{h - 2}' font-size='10'>grey: reference, colour: current</text></svg>")
    return "".join(parts)


def _trend(wins: list[Window], decay: Decay | None, w: int = 560, h: int = 180) -> str:
    """The metric per window with its interval, and the baseline as a dashed line."""
    base = _num(decay.baseline.get("value")) if decay and decay.baseline else None
    values = [v for win in wins for v in (win.low, win.high)] + ([base] if base is not None else [])
    lo, hi = min(values), max(values)
    span = (hi - lo) or 1.0

    def y(v: float) -> float:
        return 10 + (h - 30) * (1 - (v - lo) / span)

    step = (w - 40) / max(len(wins) - 1, 1)
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{w}' height='{h}' role='img'>"]
    if base is not None:
        parts.append(f"<line x1='20' x2='{w - 20}' y1='{y(base):.1f}' y2='{y(base):.1f}' stroke='#555' "
                     f"stroke-dasharray='4 3'><title>baseline {base:.3f}</title></line>")
    pts = []
    for i, win in enumerate(wins):
        x = 20 + i * step
        pts.append(f"{x:.1f},{y(win.value):.1f}")
        parts.append(f"<line x1='{x:.1f}' x2='{x:.1f}' y1='{y(win.low):.1f}' y2='{y(win.high):.1f}' stroke='#1e63b5'/>")
        parts.append(f"<circle cx='{x:.1f}' cy='{y(win.value):.1f}' r='3' fill='#1e63b5'><title>{win.start}: "
                     f"{win.metric} {win.value:.3f} [{win.low:.3f}, {win.high:.3f}], {win.rows} rows</title></circle>")
    parts.append(f"<polyline points='{' '.join(pts)}' fill='none' stroke='#1e63b5'/>")
    parts.append(f"<text x='20' y='{h - 4}' font-size='10'>{html.escape(wins[0].metric)} per window "
                 f"(95% interval); dashed: baseline</text></svg>")
    rows = "".join(f"<tr><td>{w_.start}</td><td>{w_.rows}</td><td>{w_.value:.3f}</td>"
                   f"<td>[{w_.low:.3f}, {w_.high:.3f}]</td></tr>" for w_ in wins)
    return "".join(parts) + f"<table><tr><th>window start</th><th>rows</th><th>{html.escape(wins[0].metric)}</th>" \
                            f"<th>95% interval</th></tr>{rows}</table>"
