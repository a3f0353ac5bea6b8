"""`mlgate ci` refuses CI settings that could only fail inside a job: exit 2 naming the key, nothing written."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlgate.examples.churn import CONFIG_TEMPLATE

pytestmark = pytest.mark.integration


def _unknown_extra(raw: dict[str, Any]) -> None:
    raw["ci"] = {"install": "mlgate[securty]==0.1.0"}


def _missing_environment(raw: dict[str, Any]) -> None:
    raw["environments"] = {"staging": {"url": "http://127.0.0.1:8001"}, "prod": {"url": "http://127.0.0.1:8000"}}


def _short_canary_window(raw: dict[str, Any]) -> None:
    raw["ci"] = {"canary_request_rate": 0.5}
    raw["deploy"] = {"canary": {"max_wait_s": 600}}


@pytest.mark.parametrize(("edit", "message"), [
    (_unknown_extra, "ci -> install: 'mlgate[securty]==0.1.0' names the extra 'securty'"),
    (_missing_environment, "environments: the CI's deploy jobs deploy to 'production'"),
    (_short_canary_window, "deploy -> canary -> max_wait_s is 600 s, but at ci.canary_request_rate 0.5"),
], ids=["unknown-extra", "missing-environment", "short-canary-window"])
@pytest.mark.parametrize("platform", ["gitlab", "github"])
def test_bad_ci_settings_exit_2_naming_the_key(tmp_path: Path, mlgate_bin: list[str], platform: str,
                                               edit: Any, message: str) -> None:
    raw = yaml.safe_load(CONFIG_TEMPLATE.read_text())
    edit(raw)
    (tmp_path / "mlgate.yaml").write_text(yaml.safe_dump(raw))
    out = subprocess.run([*mlgate_bin, "ci", platform], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2, out.stdout + out.stderr
    assert out.stderr.startswith(f"Error: {message}"), out.stderr
    assert "Traceback" not in out.stderr
    assert not (tmp_path / ".gitlab-ci.yml").exists() and not (tmp_path / ".github").exists()
