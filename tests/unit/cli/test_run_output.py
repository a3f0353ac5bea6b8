"""What `mlgate run` prints: one table style whether the run was replayed without Rich or not."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest
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


_LONG = "best gradient-boosting: roc_auc 0.9312 (3 candidates; 2 more were refused by the allow list)"


def _table_lines(text: str) -> list[str]:
    """The table of a run's output: from its header to the line before 'All N stages' / 'Run folder'."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("stage "))
    end = next(i for i, line in enumerate(lines) if line.startswith(("All ", "Run folder: ")))
    return lines[start:end]


@pytest.mark.parametrize("columns", [None, "100"])
def test_without_a_terminal_the_run_table_wraps_within_80_columns_or_COLUMNS(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], columns: str | None) -> None:
    from mlgate.cli._outcome import print_outcome

    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)
    record = _cached_run()
    record.stages[1].key_figure = _LONG
    print_outcome(record)
    out = capsys.readouterr().out
    table = _table_lines(out)
    assert max(len(line.rstrip()) for line in table) <= int(columns or 80), out
    words = " ".join(table).split()
    assert all(word in words for word in _LONG.split()) and "…" not in out, out  # wrapped, not cut
    assert any(len(line) > 80 for line in out.splitlines()) or columns is None  # messages stay whole


def test_the_no_op_replay_wraps_a_wide_table_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from mlgate.cli._fast import replay_noop
    from mlgate.config import load_config
    from mlgate.pipeline import Pipeline, StageSpec
    from mlgate.reports import Check, Report

    def stage(figure: str) -> Callable[[object], Report]:
        return lambda ctx: Report(stage="x", checks=[Check(name="ok", passed=True)], key_figure=figure)

    (tmp_path / "train.csv").write_text("a,target\n1,0\n2,1\n")
    (tmp_path / "mlgate.yaml").write_text("data: {train: train.csv}\n")
    monkeypatch.delenv("COLUMNS", raising=False)
    table = (StageSpec("validate", stage("quality 1.0"), (), (("data",),)),
             StageSpec("train", stage(_LONG), ("validate",), (("models",),)))
    Pipeline(load_config(tmp_path / "mlgate.yaml"), stages=table).run()
    capsys.readouterr()
    assert replay_noop(["run", "--config", str(tmp_path / "mlgate.yaml")]) == 0
    out = capsys.readouterr().out
    assert "All 2 stages unchanged" in out
    assert max(len(line.rstrip()) for line in _table_lines(out)) <= 80, out
    (tmp_path / "mlgate.yaml").write_text("data: {train: train.csv}\n# narrow\n")
    table = (table[0], StageSpec("train", stage("auc 0.9"), ("validate",), (("models",),)))
    Pipeline(load_config(tmp_path / "mlgate.yaml"), stages=table).run()
    capsys.readouterr()
    assert replay_noop(["run", "--config", str(tmp_path / "mlgate.yaml")]) == 0
    assert _table_lines(capsys.readouterr().out)[2].split() == ["validate", "cached", "quality", "1.0", "-"]
