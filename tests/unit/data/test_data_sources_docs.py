"""docs/data-sources.md stays true: its Python example runs, every store and its variables are in it."""

from __future__ import annotations

from pathlib import Path

from _support.docs import python_blocks
from mlgate.locations.objectstore import STORES
from mlgate.sources import __all__ as SOURCES_API

DOC = Path(__file__).resolve().parents[3] / "docs" / "data-sources.md"


def test_python_examples_run() -> None:
    blocks = python_blocks(DOC.name)
    assert blocks
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), {})


def test_every_store_has_a_row_with_its_schemes_and_ci_variables() -> None:
    rows = {line.split("|")[1].strip(): line for line in DOC.read_text().splitlines() if line.startswith("| `")}
    for store in STORES.values():
        row = next((r for key, r in rows.items() if f"`{store.schemes[0]}://`" in key), None)
        assert row is not None, store.name
        for variable in store.variables:
            assert f"`{variable}`" in row.split("|")[-2], (store.name, variable)


def test_every_ci_helper_is_documented() -> None:
    text = DOC.read_text()
    for name in SOURCES_API:
        if name != "stage_inputs":
            assert f"`{name}(config" in text, name
