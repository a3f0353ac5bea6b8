"""The CLI must stay light: heavy libraries load inside commands, not at start-up."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("pandas", "sklearn", "mlflow", "fastapi", "optuna", "matplotlib", "scipy", "pandera")


def test_cli_import_loads_no_heavy_library() -> None:
    code = ("import sys, json, mlgate.cli; "
            f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


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
