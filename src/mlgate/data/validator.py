"""Run the configured data checks over one or two tables and compute the quality score.

Quality score = 1 - bad cells / all cells, over every validated table, where
all cells = rows x schema columns, and bad cells = missing values (completeness)
+ cells failing a validity check (wrong type, out of range, unseen category, pattern,
a missing column counts all its rows) + cells of duplicate rows and of test rows leaked
from train (uniqueness). The score is reported with its three parts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from mlgate.config import placed_in_file, validation_problems
from mlgate.data.checks import DATA_CHECKS, DataCheck
from mlgate.data.table import TableView
from mlgate.errors import ConfigError
from mlgate.reports.model import Check, Report, Timer

if TYPE_CHECKING:
    from mlgate.config import Config


def build_checks(settings: dict[str, dict[str, Any]] | None,
                 where: str = "gates -> validate -> checks") -> list[DataCheck]:
    """Every check of ``DATA_CHECKS``, configured from ``{name: {severity, enabled, ...}}``."""
    settings = settings or {}
    unknown = [name for name in settings if name not in DATA_CHECKS]
    if unknown:
        raise ConfigError("; ".join(f"{where} -> {name}: {DATA_CHECKS.unknown(name, 'data check')}"
                                    for name in unknown))
    checks = []
    for name, cls in DATA_CHECKS.items():
        try:
            checks.append(cls.model_validate(settings.get(name) or {}))
        except ValidationError as exc:
            raise ConfigError("; ".join(validation_problems(exc, (where, name)))) from exc
    return [c for c in checks if c.enabled]


def check_config(config: Config) -> None:
    """The validate stage's preflight: ``gates.validate.checks`` against ``DATA_CHECKS`` before any stage runs."""
    try:
        build_checks(config.gates.validate_.checks)
    except ConfigError as exc:
        raise ConfigError(placed_in_file(config, exc.message)) from exc


def validate_tables(tables: list[TableView], checks: list[DataCheck], *, min_score: float,
                    pair: tuple[TableView, TableView] | None = None,
                    progress: Any = None) -> Report:
    """Run ``checks`` on each table (and the pair checks on train/test); score and verdict."""
    report = Report(stage="validate")
    with Timer(report):
        steps = len(checks) * len(tables)
        done = 0
        for view in tables:
            for check in checks:
                if not check.pair:
                    report.checks.extend(check.run(view))
                done += 1
                if progress:
                    progress(f"{view.label}: {check.name}", done / max(steps, 1))
        if pair is not None:
            for check in checks:
                if check.pair:
                    report.checks.extend(check.run_pair(*pair))
        parts = quality(tables, report.checks)
        report.score = parts["score"]
        report.metrics.update(parts)
        report.add(Check(name="quality_score", passed=parts["score"] >= min_score, severity="error",
                         observed=parts["score"], expected=min_score,
                         message=f"quality score {parts['score']:.4f} (minimum {min_score:g})",
                         details={k: v for k, v in parts.items() if k != "score"}))
        for view in tables:
            report.metrics[f"rows_{view.label}"] = view.rows
        report.key_figure = (f"quality {parts['score']:.3f}, {len(report.failures)} errors, "
                             f"{len(report.warnings)} warnings")
    return report


def quality(tables: list[TableView], checks: list[Check]) -> dict[str, float]:
    """The quality score and its completeness, validity and uniqueness parts (see module doc)."""
    total = sum(v.rows * len(v.schema.columns) for v in tables)
    nulls = sum(v.nulls(c) for v in tables for c in v.present())
    bad = {"validity": 0, "uniqueness": 0}
    for check in checks:
        cls = DATA_CHECKS.get(check.name)
        if cls is not None and cls.dimension and not check.passed:
            bad[cls.dimension] += int(check.details.get("bad_cells", 0))
    if total == 0:
        return {"score": 0.0, "completeness": 0.0, "validity": 0.0, "uniqueness": 0.0}

    def part(n: int) -> float:
        return round(max(0.0, 1 - n / total), 6)

    return {"score": part(nulls + bad["validity"] + bad["uniqueness"]), "completeness": part(nulls),
            "validity": part(bad["validity"]), "uniqueness": part(bad["uniqueness"]),
            "cells": total, "missing_cells": nulls, "invalid_cells": bad["validity"],
            "duplicate_cells": bad["uniqueness"]}
