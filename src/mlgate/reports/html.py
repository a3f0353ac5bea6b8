"""report.html: self-contained (inline CSS and plots), readable offline."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from mlgate.reports.markdown import MONEY_METRICS
from mlgate.reports.model import Report

if TYPE_CHECKING:
    import jinja2


@cache
def _environment() -> jinja2.Environment:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("mlgate", "reports/templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
    )


def report_to_html(report: Report) -> str:
    """Render the report with failed checks first and scalar metrics in a table."""
    checks = sorted(report.checks, key=lambda c: (not c.blocks, c.passed))
    unit = report.business_unit
    metrics = [(k, _fmt(v) + (f" {unit}" if unit and k.startswith(MONEY_METRICS) else ""))
               for k, v in report.metrics.items() if _is_scalar(v)]
    return _environment().get_template("report.html.j2").render(r=report, checks=checks, metrics=metrics)


def _is_scalar(v: Any) -> bool:
    return isinstance(v, int | float | str | bool)


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)
