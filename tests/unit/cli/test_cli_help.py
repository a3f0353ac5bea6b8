"""`mlgate --help` lists every command with a one-line summary: Rich keeps a docstring's line
breaks, so a summary wrapped in the source is printed broken mid-sentence in the command list."""

from __future__ import annotations

from typing import Any

import pytest
import typer

from mlgate.cli import get_app


def _commands() -> list[tuple[str, Any]]:
    # Typer vendors its own click, so groups are recognised by their commands, not by class
    root = typer.main.get_command(get_app())
    found: list[tuple[str, Any]] = []
    for name, command in root.commands.items():  # type: ignore[attr-defined]
        found.append((name, command))
        if hasattr(command, "commands"):
            found += [(f"{name} {sub}", c) for sub, c in command.commands.items()]
    return found


@pytest.mark.parametrize(("name", "command"), _commands(), ids=[n for n, _ in _commands()])
def test_every_command_has_a_one_line_summary(name: str, command: Any) -> None:
    text = (command.help or "").strip()
    assert text, f"`mlgate {name}` has no help text"
    summary = text.split("\n\n", 1)[0]
    assert "\n" not in summary, f"`mlgate {name}`: the first paragraph of its help spans lines: {summary!r}"
