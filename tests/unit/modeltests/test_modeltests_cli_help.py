"""`mlgate test --help` names every check of the table."""

from __future__ import annotations

from typer.testing import CliRunner

from mlgate.cli import get_app
from mlgate.modeltests import MODEL_CHECKS


def test_help_lists_every_check() -> None:
    result = CliRunner().invoke(get_app(), ["test", "--help"], env={"COLUMNS": "400"})
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    for name in MODEL_CHECKS:
        assert name in text
