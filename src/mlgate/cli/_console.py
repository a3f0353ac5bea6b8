"""The Rich consoles every command prints to; kept free of Typer for the no-op fast path.

Without a terminal (a CI job's log, a pipe) Rich would cut every line at 80 columns (or at
``COLUMNS``, which some runners export: pytest-xdist's workers set 80); there the consoles get
a width no line reaches, so tables and messages print whole (a table is as wide as its content).
"""

from __future__ import annotations

from rich.console import Console

NO_TERMINAL_WIDTH = 1000


def _console(stderr: bool = False) -> Console:
    made = Console(stderr=stderr, highlight=False, soft_wrap=True)  # long paths and commands stay copy-pastable
    if not made.is_terminal:
        made.width = NO_TERMINAL_WIDTH
    return made


console = _console()
err_console = _console(stderr=True)
