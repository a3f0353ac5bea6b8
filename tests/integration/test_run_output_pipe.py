"""`mlgate run` in a CI job: stdout is a pipe, not a terminal, and no line is cut at 80 columns."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def test_run_with_stdout_to_a_pipe_prints_whole_lines(mlgate_bin: list[str], churn_project: Path) -> None:
    config = churn_project / "mlgate.yaml"
    text = config.read_text().replace("enabled: true", "enabled: false")
    text = re.sub(r"models:\n(  - .*\n(    .*\n)?)+", "models:\n  - type: logistic-regression\n", text)
    config.write_text(text)
    env = {**os.environ, "COLUMNS": "80", "LINES": "24"}  # as pytest-xdist's workers and some CI runners set
    out = subprocess.run([*mlgate_bin, "run", "--until", "train"], cwd=churn_project, capture_output=True,
                         text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "…" not in out.stdout, out.stdout
    run_dir = Path(next(line for line in out.stdout.splitlines() if line.startswith("Run folder: ")).split()[2])
    stages = json.loads((run_dir / "run.json").read_text())["stages"]
    assert [s["name"] for s in stages] == ["validate", "train"]
    for stage in stages:  # one whole line per finished stage, and a whole row in the table
        assert f"✓ {stage['name']}: passed {stage['key_figure']} (" in out.stdout, out.stdout
        row = [line for line in out.stdout.splitlines() if line.startswith(stage["name"] + " ")]
        assert row and stage["key_figure"] in row[-1] and row[-1].endswith(" s"), out.stdout
    assert max(len(line) for line in out.stdout.splitlines()) > 80, out.stdout  # a terminal's width would cut
