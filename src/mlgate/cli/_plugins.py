"""Help text that names the entries of the plug-in tables, filled in only when ``--help`` renders.

An option's help may hold ``{data_checks}``, ``{model_checks}``, ``{methods}`` or ``{strategies}``;
the command class below replaces them with the table's names (built-ins and plug-ins) just before
the help is drawn. Listing them means importing the table's module and reading the entry points,
which no other run of the command (nor ``mlgate --help``) pays for.
"""

from __future__ import annotations

import re
from typing import Any

from typer.core import TyperCommand

from mlgate.plugins import TABLES, names

_PLACEHOLDER = re.compile(r"\{(" + "|".join(TABLES) + r")\}")


def fill_names(text: str) -> str:
    """``text`` with each ``{kind}`` placeholder replaced by the comma-separated names of that table."""
    return _PLACEHOLDER.sub(lambda m: ", ".join(names(m.group(1))), text)


class PluginHelp(TyperCommand):
    """A Typer command whose help names the current entries of the plug-in tables."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        for param in self.params:
            text = getattr(param, "help", None)
            if text and _PLACEHOLDER.search(text):
                param.help = fill_names(text)  # type: ignore[attr-defined]
        if self.help and _PLACEHOLDER.search(self.help):
            self.help = fill_names(self.help)
        super().format_help(ctx, formatter)
