"""docs/validate.md stays true: its Python example runs and it documents every check."""

from __future__ import annotations

import re
from pathlib import Path

from mlgate.data.checks import DATA_CHECKS

DOC = Path(__file__).resolve().parents[3] / "docs" / "validate.md"


def test_python_examples_run() -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    assert blocks
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), {})


def test_every_check_is_documented_with_its_default_severity() -> None:
    text = DOC.read_text()
    for name, cls in DATA_CHECKS.items():
        assert re.search(rf"^\| `{name}` \| {cls().level} \|", text, flags=re.M), name
