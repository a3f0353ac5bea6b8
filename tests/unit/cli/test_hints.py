"""Next steps are printed as commands that run: `.venv/bin/mlgate` when `mlgate` is not on PATH."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from mlgate.cli._hints import next_steps, runnable
from mlgate.runs import RunRecord, StageRecord

BIN = Path(sys.executable).parent


@pytest.mark.skipif(not (BIN / "mlgate").exists(), reason="needs the console script beside the interpreter")
def test_runnable_is_the_bare_name_only_when_path_finds_this_installation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(BIN))
    assert runnable("mlgate") == "mlgate"
    monkeypatch.setenv("PATH", "/nonexistent")
    assert runnable("mlgate", BIN.parent.parent) == f"{BIN.parent.name}/bin/mlgate"  # e.g. .venv/bin/mlgate
    assert runnable("mlgate", Path("/")) == str((BIN / "mlgate").absolute()).removeprefix("/")
    assert Path("/", runnable("mlgate", Path("/"))).exists()


def test_next_steps_after_a_passing_run_that_registered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    (tmp_path / "register").mkdir()
    (tmp_path / "register" / "registered.json").write_text(json.dumps({"name": "churn", "version": "3",
                                                                       "alias": "staging"}))
    record = RunRecord("r", str(tmp_path), "now", stages=[StageRecord("register", "ran", True,
                                                                      out_dir=str(tmp_path / "register"))])
    lines = next_steps(record, Path("/"))
    assert lines[0].endswith("bin/mlgate serve --model models:/churn@staging")
    assert "deploy --env staging" in lines[1]
    record.stages.append(StageRecord("monitor", "failed", False))
    assert next_steps(record) == []  # a failed run: what failed is the next step
