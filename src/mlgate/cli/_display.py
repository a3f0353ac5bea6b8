"""Rich progress display and the final table of ``mlgate run``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from rich.console import RenderableType
from rich.progress import BarColumn, Progress, SpinnerColumn, Task, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from mlgate.cli._console import console

if TYPE_CHECKING:
    from mlgate.pipeline import StageSpec
    from mlgate.runs import RunRecord, StageRecord

_STYLE = {"ran": "green", "cached": "cyan", "failed": "red", "error": "red", "blocked": "yellow",
          "skipped": "dim"}
_ICON = {"ran": "✓", "cached": "✓", "failed": "✗", "error": "✗", "blocked": "–", "skipped": "–"}
_WORD = {"ran": "passed", "cached": "cached", "failed": "FAILED", "error": "ERROR",
         "blocked": "blocked", "skipped": "skipped"}


class _StageSpinner(SpinnerColumn):
    """A spinner only while a stage runs: a dot while it waits, a tick once it is done."""

    def render(self, task: Task) -> RenderableType:
        if not task.started:
            return Text("·", style="dim")
        status = task.fields.get("status")
        if status:
            return Text(_ICON.get(status, "?"), style=_STYLE.get(status, ""))
        return super().render(task)


class RunDisplay:
    """One progress row per stage; stages report notes and fractions through hooks."""

    def __init__(self, stage_names: list[str]) -> None:
        self.progress = Progress(
            _StageSpinner(), TextColumn("[bold]{task.fields[stage]:<9}"), BarColumn(bar_width=24),
            TextColumn("{task.description}"), TimeElapsedColumn(), console=console, transient=False)
        self.tasks: dict[str, TaskID] = {
            name: self.progress.add_task("waiting", stage=name, status="", total=None, start=False)
            for name in stage_names}

    def hook_for(self, spec: StageSpec) -> Callable[[str, float | None], None]:
        task = self.tasks[spec.name]

        def hook(note: str, fraction: float | None) -> None:
            if fraction is None:
                self.progress.update(task, description=note)
            else:
                self.progress.update(task, description=note, total=1.0, completed=fraction)

        return hook

    def on_event(self, kind: str, spec: StageSpec, payload: Any) -> None:
        task = self.tasks.get(spec.name)
        if task is None:
            return
        if kind == "start":
            self.progress.start_task(task)
            self.progress.update(task, description="running")
        elif kind == "done":
            record: StageRecord = payload
            style = _STYLE[record.status]
            note = record.key_figure or record.message
            self.progress.update(task, total=1.0, completed=1.0, status=record.status,
                                 description=f"[{style}]{_WORD[record.status]}[/] {_short(note)}")
            self.progress.stop_task(task)

    @contextmanager
    def live(self) -> Iterator[RunDisplay]:
        with self.progress:
            yield self


def final_table(record: RunRecord) -> Table:
    """Stage, verdict, key figure, duration."""
    table = Table(title=f"mlgate run {record.run_id}", title_justify="left")
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


def _short(text: str, width: int = 60) -> str:
    text = text.replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


def print_outcome(record: RunRecord) -> None:
    """The final table of a run, the failed checks of each failed stage, and where the run folder is."""
    console.print(final_table(record))
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
