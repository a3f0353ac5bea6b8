"""The base of every data check: severity, on/off, and how to build a report entry."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from mlgate.data.table import TableView
from mlgate.reports.model import Check, Severity

Dimension = Literal["validity", "uniqueness"]


class DataCheck(BaseModel):
    """Base of every data check: severity, on/off, and how to build a report entry."""

    model_config = ConfigDict(extra="forbid")

    name: ClassVar[str]
    default_severity: ClassVar[Severity] = "error"
    pair: ClassVar[bool] = False  # True: runs once on (train, test) instead of per table
    dimension: ClassVar[Dimension | None] = None

    severity: Severity | None = None
    enabled: bool = True

    @property
    def level(self) -> Severity:
        return self.severity or self.default_severity

    def run(self, view: TableView) -> list[Check]:
        """Check one table."""
        raise NotImplementedError

    def run_pair(self, train: TableView, test: TableView) -> list[Check]:
        """Check a training table against a test table."""
        raise NotImplementedError

    def result(self, view: TableView, passed: bool, message: str, *, column: str | None = None,
               observed: Any = None, expected: Any = None, **details: Any) -> Check:
        details = {"table": view.label, **details}
        return Check(name=self.name, passed=passed, severity=self.level, column=column,
                     observed=observed, expected=expected, message=f"{view.label}: {message}",
                     details=details)
