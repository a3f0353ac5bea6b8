"""The Rich consoles every command prints to; kept free of Typer for the no-op fast path."""

from __future__ import annotations

from rich.console import Console

console = Console(highlight=False, soft_wrap=True)  # long paths and commands stay copy-pastable
err_console = Console(stderr=True, highlight=False)
