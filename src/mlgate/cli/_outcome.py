"""The final table of ``mlgate run`` and what failed, printed without the progress display.

Kept apart from ``_display`` (which needs ``rich.progress``) so the no-op replay of
``mlgate.cli._fast`` imports only Rich's console and table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich import box
from rich.table import Table

from mlgate.cli._console import console, print_table

if TYPE_CHECKING:
    from mlgate.runs import RunRecord

__all__ = ["final_table", "print_outcome", "styled_table"]

_STYLE = {"ran": "green", "cached": "cyan", "failed": "red", "error": "red", "blocked": "yellow",
          "skipped": "dim"}
_ICON = {"ran": "✓", "cached": "✓", "failed": "✗", "error": "✗", "blocked": "–", "skipped": "–"}
_WORD = {"ran": "passed", "cached": "cached", "failed": "FAILED", "error": "ERROR",
         "blocked": "blocked", "skipped": "skipped"}



def styled_table(title: str) -> Table:
    """The one table style of mlgate's output: a ruled header, no borders (``_fast`` prints the same by hand)."""
    return Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)


def final_table(record: RunRecord) -> Table:
    """Stage, verdict, key figure, duration."""
    table = styled_table(f"mlgate run {record.run_id}")
    table.add_column("stage")
    table.add_column("verdict")
    table.add_column("key figure")
    table.add_column("duration", justify="right")
    for s in record.stages:
        style = _STYLE[s.status]
        figure = s.key_figure if s.status in ("ran", "cached", "failed") and s.key_figure else s.message
        duration = "-" if s.status in ("cached", "blocked", "skipped") else f"{s.duration_s:.1f} s"
        table.add_row(s.name, f"[{style}]{_WORD[s.status]}[/]", figure, duration)
    return table


def print_outcome(record: RunRecord) -> None:
    """The final table of a run, the failed checks of each failed stage, and where the run folder is."""
    print_table(final_table(record))
    _explain_problems(record)
    cached = sum(s.status == "cached" for s in record.stages)
    if cached == len(record.stages):
        console.print(f"All {cached} stages unchanged: nothing to do (use --force to re-run).")
    console.print(f"Run folder: {record.run_dir} (open index.html for every stage's report)")


def _explain_problems(record: RunRecord, shown: int = 5) -> None:
    """For each failed stage: its error, or its first failed checks and where the rest are."""
    from pathlib import Path

    from rich.markup import escape

    from mlgate.runs import read_json

    for stage in record.stages:
        if stage.status in ("failed", "error") and stage.message:
            console.print(f"[red]{stage.name}:[/] {escape(stage.message)}")
        elif stage.status == "failed":
            report = read_json(Path(stage.out_dir) / "report.json")
            failed = [c for c in report.get("checks", []) if not c["passed"] and c["severity"] == "error"]
            for check in failed[:shown]:
                column = f"[{check['column']}]" if check.get("column") else ""
                console.print(f"[red]{stage.name}: ✗ {check['name']}{escape(column)}[/] {escape(check['message'])}")
            more = f"{len(failed) - shown} more failed checks; " if len(failed) > shown else ""
            console.print(f"[red]{stage.name}:[/] {more}see {stage.out_dir}/report.html")
