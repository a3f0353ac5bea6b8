"""The README's Layout section names every module and package of src/mlgate and every entry of tests/."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOT_LISTED = {"__init__.py", "py.typed", "__pycache__"}


def _layout() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Layout", 1)[1]
    return section.split("```", 2)[1].splitlines()


def _names(lines: list[str]) -> set[str]:
    """File and folder names in the layout's name column (``cli/``, ``config.py``, ``tracking.py  models.py``)."""
    found: set[str] = set()
    for line in lines:
        found |= set(re.findall(r"(?<![\w/.])([\w.-]+\.(?:py|txt)|[\w]+/)(?=\s|$)", line.split("   ")[0]))
    return found


def test_every_src_entry_is_listed_and_nothing_else() -> None:
    lines = _layout()
    start = lines.index("src/mlgate/")
    end = next(i for i, line in enumerate(lines) if line.startswith("tests/"))
    listed = _names(lines[start + 1:end])
    actual = {p.name + ("/" if p.is_dir() else "") for p in (ROOT / "src" / "mlgate").iterdir()
              if p.name not in NOT_LISTED}
    assert listed == actual, f"missing from README: {sorted(actual - listed)}; gone: {sorted(listed - actual)}"


def test_every_tests_entry_is_listed_and_nothing_else() -> None:
    listed = {line.split()[0].removeprefix("tests/") for line in _layout() if line.startswith("tests/")}
    actual = {p.name for p in (ROOT / "tests").iterdir() if p.name not in NOT_LISTED}
    assert listed == actual, f"missing from README: {sorted(actual - listed)}; gone: {sorted(listed - actual)}"
