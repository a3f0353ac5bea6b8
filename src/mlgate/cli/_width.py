"""How wide a table may print; free of Typer and Rich, as the no-op replay (``mlgate.cli._fast``) needs it too.

A message line prints whole whatever the width (a path or a command stays copy-pastable), but
a table as wide as its longest cell is unreadable in a CI log: its cells wrap within this width.
"""

from __future__ import annotations

import os
import sys

NO_TERMINAL_TABLE_WIDTH = 80


def table_width() -> int:
    """``COLUMNS`` when set (as Rich reads it), else the terminal's width, else 80 (a pipe, a CI log)."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    if sys.stdout.isatty():
        try:
            return os.get_terminal_size(sys.stdout.fileno()).columns
        except (OSError, ValueError):  # no size to read (a closed or redirected descriptor)
            pass
    return NO_TERMINAL_TABLE_WIDTH
