"""Helpers of the data-source tests: a quick churn project and the console script in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import yaml

# One fast candidate, no search, the two test-framework checks that read both tables: the whole
# pipeline (validate .. register) in about 10 s on a quiet 2-core machine.
QUICK = {"models": ["logistic-regression"], "tune": {"enabled": False}}


def quick_churn(project: Path, **data: str) -> None:
    """Make the churn project's mlgate.yaml quick, with ``data`` keys replaced (``train="s3://..."``)."""
    file = project / "mlgate.yaml"
    config = yaml.safe_load(file.read_text())
    config.update(QUICK)
    config["gates"]["evaluate"]["bootstrap"] = 200
    config["gates"]["compare"]["bootstrap"] = 200
    config["gates"]["test"]["checks"] = ["performance", "data_distribution"]
    config["data"].update(data)
    config.pop("monitor", None)  # the example monitors data/train.csv, which these projects move away
    file.write_text(yaml.safe_dump(config, sort_keys=False))


def mlgate(bin_: list[str], cwd: Path, *args: str, env: dict[str, str] | None = None,
           timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run the console script in ``cwd`` with ``env`` added to the environment."""
    return subprocess.run([*bin_, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def last_run(project: Path) -> dict[str, Any]:
    """The latest run record of a project."""
    latest = (project / ".mlgate" / "runs" / "LATEST").read_text().strip()
    return json.loads((project / ".mlgate" / "runs" / latest / "run.json").read_text())  # type: ignore[no-any-return]


def statuses(project: Path) -> dict[str, str]:
    """Each stage's status in the latest run: ran, cached, failed, error, blocked."""
    return {s["name"]: s["status"] for s in last_run(project)["stages"]}


def run_folders(project: Path) -> list[str]:
    runs = project / ".mlgate" / "runs"
    return sorted(p.name for p in runs.iterdir() if p.is_dir() and not p.is_symlink()) if runs.is_dir() else []
