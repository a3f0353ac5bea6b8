"""No user-facing text speaks of "the seed": the reference pipeline mlgate was built from is a
document users never saw. Help, messages, report templates, the bundled example, the docs and
the README say what they mean instead (a hand-written pipeline, the jobs of docs/ci.md, the
deployment test contract of docs/smoke.md). Random seeds (``seed: 42``, "200 seeds") are fine."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "mlgate"
# "the seed's shape", "the seed", "seed job", but not "seed: 42", "a seeded split" or "300 seeds"
SEED_AS_A_SOURCE = re.compile(r"\bseed's\b|\bthe seed\b(?! (value|number|of the (split|search)))|"
                              r"\bseed (document|pipeline|scripts?|jobs?|shape|tests?|contract|file)\b", re.I)


def _documents() -> list[Path]:
    files = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    files += sorted((SRC / "reports" / "templates").iterdir()) + sorted((SRC / "deploy" / "templates").iterdir())
    files += sorted(p for p in (SRC / "examples").rglob("*") if p.suffix in (".yaml", ".yml", ".md", ".txt"))
    return [f for f in files if f.is_file()]


def _strings(file: Path) -> list[tuple[int, str]]:
    """The string literals of a module: messages, help texts, report text. Docstrings count only in
    the CLI, where a command's docstring is its --help."""
    tree = ast.parse(file.read_text(encoding="utf-8"))
    docstrings: set[int] = set()
    if file.parent.name != "cli":
        for node in ast.walk(tree):
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
                first = node.body[0]
                if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                    docstrings.add(id(first.value))
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings]


@pytest.mark.parametrize("file", _documents(), ids=lambda p: str(p.relative_to(ROOT)))
def test_documents_do_not_speak_of_the_seed(file: Path) -> None:
    lines = file.read_text(encoding="utf-8").splitlines()
    found = [f"{file.name}:{i}: {line.strip()}" for i, line in enumerate(lines, 1) if SEED_AS_A_SOURCE.search(line)]
    assert not found, "\n".join(found)


def test_messages_and_help_do_not_speak_of_the_seed() -> None:
    found = [f"{file.relative_to(ROOT)}:{line}: {text!r}" for file in sorted(SRC.rglob("*.py"))
             for line, text in _strings(file) if SEED_AS_A_SOURCE.search(text)]
    assert not found, "\n".join(found)


def test_the_pattern_tells_the_two_senses_apart() -> None:
    assert SEED_AS_A_SOURCE.search("jobs in the seed's shape")
    assert SEED_AS_A_SOURCE.search("what the seed got wrong")
    assert not SEED_AS_A_SOURCE.search("seed: 42   # one seed for splits, models and searches")
    assert not SEED_AS_A_SOURCE.search("failed 100 of 200 seeds; a seeded subsample")
