"""The report every gate writes: one shape for all stages, extras beside it."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mlgate import __version__

Severity = Literal["error", "warning", "info"]


class Check(BaseModel):
    """One named check: what was observed against what was expected."""

    model_config = ConfigDict(extra="forbid")

    name: str
    passed: bool
    severity: Severity = "error"
    column: str | None = None
    observed: Any = None
    expected: Any = None
    message: str = ""
    details: dict[str, Any] = Field(default_factory=dict)

    @property
    def blocks(self) -> bool:
        """True when this check fails the gate (a failed check of severity error)."""
        return not self.passed and self.severity == "error"

    @property
    def skipped(self) -> bool:
        """A check that could not run here (its message says why): shown as skipped, counted apart."""
        return self.passed and (self.message.startswith("skipped:") or self.details.get("skipped") is True)


class Figure(BaseModel):
    """A plot for report.html, already rendered (an SVG string or a PNG data URI)."""

    title: str
    svg: str = ""
    png_data_uri: str = ""
    caption: str = ""


class Section(BaseModel):
    """A free-form block of report.html: a title and trusted HTML made by mlgate itself."""

    title: str
    html: str


class Report(BaseModel):
    """What a stage found. ``passed`` is False when any error-severity check failed.

    ``extras`` are written beside the common keys at the top level of report.json.
    ``key_figure`` is the one line shown for the stage in ``mlgate run``'s final table.
    """

    model_config = ConfigDict(extra="forbid")

    stage: str
    checks: list[Check] = Field(default_factory=list)
    metrics: dict[str, Any] = Field(default_factory=dict)
    score: float | None = None
    key_figure: str = ""
    started: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    duration_s: float = 0.0
    mlgate_version: str = __version__
    extras: dict[str, Any] = Field(default_factory=dict)
    figures: list[Figure] = Field(default_factory=list, exclude=True)
    sections: list[Section] = Field(default_factory=list, exclude=True)

    @property
    def passed(self) -> bool:
        return not any(c.blocks for c in self.checks)

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if c.blocks]

    @property
    def warnings(self) -> list[Check]:
        return [c for c in self.checks if not c.passed and c.severity != "error"]

    @property
    def skipped(self) -> list[Check]:
        return [c for c in self.checks if c.skipped]

    @property
    def business_unit(self) -> str:
        """The cost matrix's ``unit`` (``business.unit``), for the money metrics' values."""
        business = self.extras.get("business")
        return str(business.get("unit") or "") if isinstance(business, dict) else ""

    def add(self, check: Check) -> Check:
        self.checks.append(check)
        return check

    def to_dict(self) -> dict[str, Any]:
        """The report.json document: common keys first, then the stage's extras."""
        body = self.model_dump(mode="json", exclude={"extras", "key_figure"})
        ordered = {"stage": self.stage, "passed": self.passed, "score": self.score}
        ordered.update({k: v for k, v in body.items() if k not in ordered})
        ordered["key_figure"] = self.key_figure
        ordered.update(self.extras)
        return ordered


class Timer:
    """Measures a stage's duration into its report: ``with Timer(report): ...``."""

    def __init__(self, report: Report) -> None:
        self.report = report
        self._t0 = 0.0

    def __enter__(self) -> Report:
        self._t0 = time.perf_counter()
        return self.report

    def __exit__(self, *exc: object) -> None:
        self.report.duration_s = round(time.perf_counter() - self._t0, 3)
