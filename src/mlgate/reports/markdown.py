"""summary.md: a short verdict for a merge-request comment."""

from __future__ import annotations

from mlgate.reports.model import Check, Report

_ICON = {True: "✅", False: "❌"}
MONEY_METRICS = ("expected_cost", "savings")  # metrics in the cost matrix's unit
_HEADER = "| check | column | verdict | message |"


def report_to_markdown(report: Report) -> str:
    """A heading with the verdict, the key figure, then a table of the checks."""
    verdict = "passed" if report.passed else "failed"
    lines = [f"### {_ICON[report.passed]} mlgate {report.stage}: {verdict}", ""]
    if report.key_figure:
        lines += [f"**{report.key_figure}**", ""]
    if report.score is not None:
        lines += [f"Score: **{report.score:.3f}**", ""]
    shown = [c for c in report.checks if not c.passed]
    passing = [c for c in report.checks if c.passed and not c.skipped]
    skipped = report.skipped
    if shown:
        lines += [_HEADER, "|---|---|---|---|"]
        lines += [_row(c) for c in _failed_first(shown)]
        lines.append("")
    if passing or skipped:
        # A merge-request comment stays short: passing and skipped checks fold away.
        folded = ", ".join(part for part in (_count(len(passing), "passing check"),
                                             f"{len(skipped)} skipped" if skipped else "") if part)
        lines += [f"<details><summary>{folded}</summary>", "", _HEADER, "|---|---|---|---|"]
        lines += [_row(c) for c in passing + skipped]
        lines += ["", "</details>", ""]
    if report.metrics:
        unit = report.business_unit
        lines += ["| metric | value |", "|---|---|"]
        lines += [f"| {k} | {_fmt(v)}{_unit(k, unit)} |" for k, v in report.metrics.items() if _is_scalar(v)]
        lines.append("")
    lines.append(f"_{len(report.checks)} checks, {len(report.failures)} failed, "
                 f"{len(report.warnings)} warnings, {len(report.skipped)} skipped, {report.duration_s:.1f} s, "
                 f"mlgate {report.mlgate_version}_")
    return "\n".join(lines) + "\n"


def _failed_first(checks: list[Check]) -> list[Check]:
    return sorted(checks, key=lambda c: (not c.blocks, c.passed))


def _count(n: int, noun: str) -> str:
    return "" if not n else f"{n} {noun}{'s' if n != 1 else ''}"


def _unit(metric: str, unit: str) -> str:
    """`` EUR`` after a money metric (expected_cost, savings and their interval ends) when the cost
    matrix names a unit."""
    return f" {unit}" if unit and metric.startswith(MONEY_METRICS) else ""


def _row(c: Check) -> str:
    verdict = "skipped" if c.skipped else "pass" if c.passed else ("**FAIL**" if c.severity == "error" else "warn")
    message = c.message.replace("|", "\\|").replace("\n", " ")
    table = c.details.get("table")
    name = f"{table}: {c.name}" if table else c.name
    return f"| {name} | {c.column or ''} | {verdict} | {message} |"


def _is_scalar(v: object) -> bool:
    return isinstance(v, int | float | str | bool) or v is None


def _fmt(v: object) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)
