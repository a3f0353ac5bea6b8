"""Usage errors through the console script: exit 2 with the message, never a crash.

Typer 0.29 raises the classes of its vendored click (``typer._click``), older Typers those of
the ``click`` package; these run against whichever Typer the bounds resolved.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

CASES = [
    pytest.param(["depoy"], "No such command 'depoy'", True, id="unknown-command"),
    # click 8.1 and Typer's vendored click say "No such option: --bogus", click >= 8.2 "... '--bogus'."
    pytest.param(["validate", "--bogus"], r"No such option(: | ')--bogus", True, id="unknown-option"),
    pytest.param(["validate", "--data"], "requires an argument", False, id="missing-value"),
    pytest.param(["serve", "--port", "abc"], "Invalid value for '--port'", True, id="bad-type"),
    pytest.param(["ci", "bogus"], "Invalid value for", True, id="bad-choice"),
    pytest.param(["init", "--example"], "requires an argument", False, id="missing-value-init"),
]


@pytest.mark.parametrize(("args", "message", "has_usage"), CASES)
def test_usage_error_exits_2_with_message(mlgate_bin: list[str], tmp_path: Path, args: list[str],
                                          message: str, has_usage: bool) -> None:
    out = subprocess.run([*mlgate_bin, *args], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2, out.stdout + out.stderr
    assert "Traceback" not in out.stderr and "unexpected" not in out.stderr, out.stderr
    assert re.search(message, out.stderr), out.stderr
    if has_usage:
        assert "Usage: mlgate" in out.stderr, out.stderr
