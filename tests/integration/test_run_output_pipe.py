"""`mlgate run` in a CI job: stdout is a pipe, not a terminal; no message line is cut at 80 columns, and
the run table wraps its cells within COLUMNS (80 without it) instead of growing as wide as its longest cell."""

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
    lines = out.stdout.splitlines()
    header = max(i for i, line in enumerate(lines) if line.startswith("stage "))
    table = lines[header:next(i for i in range(header, len(lines)) if lines[i].startswith("Run folder: "))]
    for stage in stages:  # one whole line per finished stage; in the table, a row whose cells wrap
        assert f"✓ {stage['name']}: passed {stage['key_figure']} (" in out.stdout, out.stdout
        row = [line for line in table if line.startswith(stage["name"] + " ")]
        assert row and row[-1].rstrip().endswith(" s"), out.stdout
        assert all(word in " ".join(table).split() for word in stage["key_figure"].split()), out.stdout
    assert max(len(line.rstrip()) for line in table) <= 80, out.stdout  # within COLUMNS, not as wide as a cell
    assert max(len(line) for line in lines) > 80, out.stdout  # messages: a terminal's width would cut them
