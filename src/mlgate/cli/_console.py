"""The Rich consoles every command prints to; kept free of Typer for the no-op fast path.

Without a terminal (a CI job's log, a pipe) Rich would cut every line at 80 columns (or at
``COLUMNS``, which some runners export: pytest-xdist's workers set 80); there the consoles get
a width no line reaches, so messages print whole; a table printed with ``print_table`` wraps its
cells within ``mlgate.cli._width.table_width()`` instead (80 columns, or ``COLUMNS``).
"""

from __future__ import annotations

from rich.console import Console, RenderableType

from mlgate.cli._width import table_width

NO_TERMINAL_WIDTH = 1000


def _console(stderr: bool = False) -> Console:
    made = Console(stderr=stderr, highlight=False, soft_wrap=True)  # long paths and commands stay copy-pastable
    if not made.is_terminal:
        made.width = NO_TERMINAL_WIDTH
    return made


console = _console()
err_console = _console(stderr=True)


def print_table(table: RenderableType) -> None:
    """Print a table no wider than ``table_width()``: a long cell wraps within its column."""
    console.print(table, width=table_width())
