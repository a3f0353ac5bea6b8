"""The import contract of pyproject.toml ([tool.importlinter]): layers, and no cycles between packages."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _lint_imports(cwd: Path, pythonpath: Path) -> subprocess.CompletedProcess[str]:
    tool = Path(sys.executable).with_name("lint-imports")
    if not tool.exists():
        pytest.fail("lint-imports is missing: pip install -e '.[dev]' (import-linter is a dev dependency)")
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    return subprocess.run([str(tool), "--config", str(ROOT / "pyproject.toml"), "--no-cache"], cwd=cwd,
                          capture_output=True, text=True, env=env)


def test_the_import_contract_holds() -> None:
    out = _lint_imports(ROOT, ROOT / "src")
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "2 kept, 0 broken" in out.stdout


@pytest.mark.parametrize(("module", "line", "contract", "named"), [
    # an import inside a function counts: the domain may not reach up into a stage package
    ("config.py", "def _up() -> None:\n    from mlgate.serve import plan  # noqa: F401\n",
     "commands above the pipeline", "mlgate.config -> mlgate.serve.plan"),
    # serve reads deploy's registry state, so deploy importing serve is a cycle
    ("deploy/state.py", "def _back() -> None:\n    from mlgate.serve import plan  # noqa: F401\n",
     "no import cycles", ".deploy -> .serve"),
], ids=["upward-import", "package-cycle"])
def test_a_break_is_found(tmp_path: Path, module: str, line: str, contract: str, named: str) -> None:
    shutil.copytree(ROOT / "src" / "mlgate", tmp_path / "mlgate", ignore=shutil.ignore_patterns("__pycache__"))
    target = tmp_path / "mlgate" / module
    target.write_text(target.read_text(encoding="utf-8") + "\n\n" + line, encoding="utf-8")
    out = _lint_imports(tmp_path, tmp_path)
    assert out.returncode == 1, out.stdout[-4000:]
    broken = out.stdout.split("Broken contracts", 1)[-1]
    assert contract in broken and named in broken, broken[-3000:]
