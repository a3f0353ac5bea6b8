"""Every `mlgate` command the generated CI files call exists, with every option they pass.

Checked through the console script: `mlgate <command> --help` must exit 0 and list each
`--option` of the call. Commands other parts of mlgate add late (scan, monitor, deploy,
canary) fail this test until they exist, as a CI file calling them would.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlgate.ci import render
from mlgate.config import config_from_dict
from mlgate.examples.churn import CONFIG_TEMPLATE

pytestmark = pytest.mark.integration


def _configs() -> list[dict[str, Any]]:
    example = yaml.safe_load(CONFIG_TEMPLATE.read_text())
    variant = {**example, "tune": {"enabled": False, "storage": "postgresql://db/optuna"},
               "ci": {"tests": "pytest tests/unit"}}
    return [example, variant]


def _lines() -> set[str]:
    lines: set[str] = set()
    for raw in _configs():
        config = config_from_dict(raw, Path.cwd())
        for platform in ("gitlab", "github"):
            doc = yaml.safe_load(render(platform, config)[0])
            jobs = doc["jobs"].values() if platform == "github" else [v for v in doc.values() if isinstance(v, dict)]
            for job in jobs:
                scripts = [*job.get("before_script", []), *job.get("script", [])] if platform == "gitlab" else \
                    [line for s in job.get("steps", []) if "run" in s for line in s["run"].splitlines()]
                lines.update(line.strip() for line in scripts if line.strip().startswith("mlgate "))
    return lines


@cache
def _help(mlgate: tuple[str, ...], path: tuple[str, ...]) -> tuple[int, str]:
    env = {**os.environ, "COLUMNS": "250", "NO_COLOR": "1"}
    out = subprocess.run([*mlgate, *path, "--help"], capture_output=True, text=True, timeout=60, env=env)
    return out.returncode, out.stdout + out.stderr


def _command(mlgate: tuple[str, ...], tokens: list[str]) -> tuple[tuple[str, ...], str]:
    """The command path of a call (descending into groups such as `canary`) and its help text."""
    path: tuple[str, ...] = (tokens[0],)
    code, text = _help(mlgate, path)
    rest = tokens[1:]
    while code == 0 and "Commands" in text and rest and not rest[0].startswith("-"):
        path, rest = (*path, rest[0]), rest[1:]
        code, text = _help(mlgate, path)
    assert code == 0, f"`mlgate {' '.join(path)} --help` exited {code}: {text[-400:]}"
    return path, text


LINES = sorted(_lines())


def test_the_files_call_the_pipeline_commands() -> None:
    called = {line.split()[1] for line in LINES}
    assert {"run", "train", "tune", "scan", "deploy", "smoke", "monitor", "report"} <= called


@pytest.mark.parametrize("line", LINES)
def test_every_called_command_and_option_exists(line: str, mlgate_bin: list[str]) -> None:
    tokens = shlex.split(line)[1:]
    path, text = _command(tuple(mlgate_bin), tokens)
    for option in (t.split("=")[0] for t in tokens if t.startswith("--")):
        assert option in text, f"`mlgate {' '.join(path)}` has no option {option} (called as: {line})"
