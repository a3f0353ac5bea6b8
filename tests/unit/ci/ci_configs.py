"""Configs the CI tests render: the bundled example and a variant of every option."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import yaml

from mlgate.config import Config, config_from_dict
from mlgate.examples.churn import CONFIG_TEMPLATE


def example_raw() -> dict[str, Any]:
    return yaml.safe_load(CONFIG_TEMPLATE.read_text())


def variant_raw() -> dict[str, Any]:
    """One model type, tuning off but on a shared database, project tests and a requirements file."""
    raw = example_raw()
    raw["models"] = [{"type": "random-forest", "name": "forest"}]
    raw["tune"] = {"enabled": False, "storage": "postgresql://optuna@db/optuna", "n_trials": 40}
    raw["ci"] = {"requirements": "requirements.txt", "tests": "pytest tests/unit", "tune_workers": 4,
                 "branch": "trunk", "python": "3.12"}
    raw.pop("environments")
    return raw


CONFIGS = {"example": example_raw, "variant": variant_raw}


def make_config(name: str, root: Path | None = None) -> Config:
    return config_from_dict(CONFIGS[name](), root or Path.cwd())


def lint(command: list[str], *files: Path) -> list[dict[str, object]]:
    """actionlint's findings on the files (the ``actionlint`` fixture's command)."""
    out = subprocess.run([*command, *map(str, files)], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip(), out.stderr
    return json.loads(out.stdout)  # type: ignore[no-any-return]
