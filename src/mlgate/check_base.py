"""The core every check shares, whatever it checks: data (validate), a model (test), a server (smoke).

A check is a small pydantic class with a stable ``name`` (the key in mlgate.yaml and in reports); its
settings are its fields, so the user's mapping is validated by the class itself. ``severity`` and
``enabled`` are settings of every check, and ``row`` builds the report entry, which reads "observed
versus expected" with the check's severity.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from mlgate.reports.model import Check, Severity


class CheckBase(BaseModel):
    """Name, severity, on/off, and the report row: what data, model and smoke checks share."""

    model_config = ConfigDict(extra="forbid")

    name: ClassVar[str]
    default_severity: ClassVar[Severity] = "error"

    severity: Severity | None = None
    enabled: bool = True

    def row(self, passed: bool, message: str, *, column: str | None = None, observed: Any = None,
            expected: Any = None, details: dict[str, Any] | None = None, severity: Severity | None = None) -> Check:
        """A report row named after this check, at its configured severity unless ``severity`` is given."""
        level = severity or self.severity or self.default_severity
        return Check(name=self.name, passed=passed, severity=level, column=column,
                     observed=observed, expected=expected, message=message, details=details or {})
