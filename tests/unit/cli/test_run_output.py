"""What `mlgate run` prints: one table style whether the run was replayed without Rich or not."""

from __future__ import annotations

import io

from rich.console import Console

from mlgate.cli._fast import plain_outcome
from mlgate.cli._outcome import final_table
from mlgate.runs import RunRecord, StageRecord


def _cached_run() -> RunRecord:
    stages = [StageRecord("validate", "cached", True, key_figure="quality 0.995, 0 errors, 0 warnings"),
              StageRecord("train", "cached", True, key_figure="best gradient-boosting: roc_auc 0.9312 (3 candidates)"),
              StageRecord("register", "cached", True, key_figure="churn v1 @staging")]
    return RunRecord("20261206-120000-ab12", "/tmp/run", "2026-12-06T12:00:00+00:00", stages=stages)


def test_replayed_table_is_drawn_as_rich_draws_it() -> None:
    record = _cached_run()
    out = io.StringIO()
    Console(file=out, width=1000, color_system=None, highlight=False).print(final_table(record))
    rich_lines = [line.rstrip() for line in out.getvalue().splitlines()]
    plain_lines = [line.rstrip() for line in plain_outcome(record).splitlines()][:len(rich_lines)]
    assert plain_lines == rich_lines
    assert any(len(line) > 80 for line in rich_lines)  # wide rows stay whole
