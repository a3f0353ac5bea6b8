"""Next-step hints printed as commands a user can paste: ``.venv/bin/mlgate`` when ``mlgate`` is not on PATH.

Kept free of Typer and Rich: the no-op replay of ``mlgate run`` (``mlgate.cli._fast``) prints these too.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

TYPE_CHECKING = False  # typing stays out of the no-op run's imports
if TYPE_CHECKING:
    from mlgate.runs import RunRecord

__all__ = ["next_steps", "runnable"]


def runnable(program: str, cwd: Path | None = None) -> str:
    """How to call ``program`` (``mlgate``, ``mlflow``) of this installation from ``cwd``.

    ``mlgate`` when the name on PATH is this installation's executable; else the path of the
    executable beside this interpreter (relative to ``cwd`` when inside it, e.g.
    ``.venv/bin/mlgate``), or ``python -m mlgate`` with this interpreter when there is none.
    """
    here = Path(sys.executable).parent / program
    found = _which(program)
    if found is not None and (not here.exists() or _same(found, here)):
        return program
    if here.exists():
        return _shown(here, cwd or Path.cwd())
    if program == "mlgate":
        return f"{_shown(Path(sys.executable), cwd or Path.cwd())} -m mlgate"
    return program


def next_steps(record: RunRecord, cwd: Path | None = None) -> list[str]:
    """What to do after a passing run that registered a model: serve it, deploy it."""
    import json

    register = next((s for s in record.stages if s.name == "register" and s.status in ("ran", "cached")), None)
    if register is None or not record.passed:
        return []
    try:
        body = json.loads((Path(register.out_dir) / "registered.json").read_text(encoding="utf-8"))
        uri = f"models:/{body['name']}@{body['alias']}"
    except (OSError, ValueError, KeyError, TypeError):
        return []
    mlgate = runnable("mlgate", cwd)
    return [f"Next: serve it:  {mlgate} serve --model {uri}",
            f"      deploy it:  {mlgate} deploy --env staging  (environments in mlgate.yaml; see docs/deploy.md)"]


def _which(program: str) -> Path | None:
    import shutil

    found = shutil.which(program)
    return Path(found) if found else None


def _same(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _shown(path: Path, cwd: Path) -> str:
    try:
        return str(path.absolute().relative_to(cwd.absolute()))
    except ValueError:
        return str(path.absolute())
