"""The base of every data check: the shared check core (``mlgate.check_base``) plus pair and dimension."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from mlgate.check_base import CheckBase
from mlgate.data.table import TableView
from mlgate.reports.model import Check, Severity

Dimension = Literal["validity", "uniqueness"]


class DataCheck(CheckBase):
    """Base of every data check: the shared core (name, severity, on/off, report rows) plus whether
    it runs on a pair of tables and which quality-score dimension its failing cells count in."""

    pair: ClassVar[bool] = False  # True: runs once on (train, test) instead of per table
    dimension: ClassVar[Dimension | None] = None

    @property
    def level(self) -> Severity:
        """The severity of this check's failed rows: the configured one, else the class's default."""
        return self.severity or self.default_severity

    def run(self, view: TableView) -> list[Check]:
        """Check one table."""
        raise NotImplementedError

    def run_pair(self, train: TableView, test: TableView) -> list[Check]:
        """Check a training table against a test table."""
        raise NotImplementedError

    def result(self, view: TableView, passed: bool, message: str, *, column: str | None = None,
               observed: Any = None, expected: Any = None, **details: Any) -> Check:
        return self.row(passed, f"{view.label}: {message}", column=column, observed=observed,
                        expected=expected, details={"table": view.label, **details})
