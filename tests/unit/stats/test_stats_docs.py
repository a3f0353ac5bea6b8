"""docs/stats.md stays true: its example runs, and its tables list every method and default rule."""

from __future__ import annotations

import re
from pathlib import Path

from mlgate.stats import DEFAULT_RULES, METHODS

DOC = Path(__file__).resolve().parents[3] / "docs" / "stats.md"


def test_python_examples_run() -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    assert blocks
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), {})


def test_every_method_is_documented_with_what_it_reads() -> None:
    text = DOC.read_text()
    for name, cls in METHODS.items():
        row = re.search(rf"^\| `{name}` \| ([a-z, ]+) \|", text, flags=re.M)
        assert row, name
        assert set(row[1].split(", ")) == set(cls.reads), name


def test_default_rules_table_matches_the_code() -> None:
    text = DOC.read_text()
    for kind, rule in DEFAULT_RULES.items():
        row = re.search(rf"^\| `{kind}` \| (\w+) \| ([\d.]+) \| ([\d.]+) \| (\d+) \|", text, flags=re.M)
        assert row, kind
        assert (row[1], float(row[2]), float(row[3]), int(row[4])) == (rule.method, rule.alpha, rule.material,
                                                                        rule.min_n), kind
