"""The CLI must stay light: heavy libraries load inside commands, not at start-up."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HEAVY = ("pandas", "sklearn", "mlflow", "fastapi", "optuna", "matplotlib", "scipy", "pandera")


# Typer 0.29 imports pydantic itself; the report models and the config are mlgate's own cost
NOT_FOR_HELP = ("mlgate.config", "mlgate.reports.model", "mlgate.pipeline", "mlgate.metrics")


def _loaded(code: str, names: tuple[str, ...], cwd: Path | None = None) -> list[str]:
    code = f"import sys, json\n{code}\nprint(json.dumps([m for m in {names!r} if m in sys.modules]))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=cwd)
    return json.loads(out.stdout.splitlines()[-1])  # type: ignore[no-any-return]


def test_cli_app_loads_no_heavy_library_nor_the_report_models() -> None:
    assert _loaded("import mlgate.cli; mlgate.cli.get_app()", HEAVY + NOT_FOR_HELP) == []


def test_noop_run_replays_without_typer_or_pydantic(tmp_path: Path) -> None:
    from mlgate.config import load_config
    from mlgate.pipeline import Pipeline, StageSpec
    from mlgate.reports import Check, Report

    (tmp_path / "train.csv").write_text("a,target\n1,0\n2,1\n")
    (tmp_path / "mlgate.yaml").write_text("data: {train: train.csv}\n")

    def stage(ctx):  # type: ignore[no-untyped-def]
        return Report(stage="validate", checks=[Check(name="ok", passed=True)])

    Pipeline(load_config(tmp_path / "mlgate.yaml"), stages=(StageSpec("validate", stage),)).run()
    code = "from mlgate.cli._fast import replay_noop\nassert replay_noop(['run']) == 0"
    assert _loaded(code, ("typer", "pydantic", "click", *HEAVY), cwd=tmp_path) == []
    (tmp_path / "train.csv").write_text("a,target\n1,0\n3,1\n")  # a change: the full CLI runs
    assert _loaded("from mlgate.cli._fast import replay_noop\nassert replay_noop(['run']) is None", (), tmp_path) == []


def test_only_a_plain_run_takes_the_fast_path() -> None:
    from mlgate.cli._fast import config_argument

    assert config_argument(["run"]) == (True, None)
    assert config_argument(["run", "-c", "x.yaml"]) == (True, "x.yaml")
    assert config_argument(["run", "--config=x.yaml"]) == (True, "x.yaml")
    assert config_argument(["run", "--force"]) == (False, None)
    assert config_argument(["status"]) == (False, None)


def test_help_lists_every_command_with_one_line(mlgate_bin: list[str]) -> None:
    out = subprocess.run([*mlgate_bin, "--help"], capture_output=True, text=True, check=True)
    for command in ("init", "run", "status", "demo", "validate", "train", "tune", "test", "evaluate",
                    "compare", "register", "serve", "smoke", "keys", "ci"):
        assert f" {command} " in out.stdout


def test_status_summary_names_what_ran_and_counts_what_was_cached() -> None:
    from mlgate.cli.project import _stage_summary

    stages = [{"name": n, "status": "cached"} for n in ("validate", "tune", "train")]
    stages += [{"name": "test", "status": "failed"}, {"name": "evaluate", "status": "blocked"}]
    assert _stage_summary(stages) == "failed: test · blocked: evaluate · cached: 3"


def test_an_all_cached_replay_prints_a_plain_table() -> None:
    from mlgate.cli._fast import plain_outcome
    from mlgate.runs import RunRecord, StageRecord

    record = RunRecord("r1", "/x/runs/r1", "now", stages=[StageRecord("validate", "cached", True, key_figure="q 1.0"),
                                                          StageRecord("train", "cached", True, key_figure="auc 0.8")])
    lines = plain_outcome(record).splitlines()
    assert lines[0] == "mlgate run r1" and lines[3].split() == ["validate", "cached", "q", "1.0", "-"]
    assert "All 2 stages unchanged: nothing to do" in lines[-2] and lines[-1].startswith("Run folder: /x/runs/r1")
