"""Rich progress display and the final table of ``mlgate run``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from rich.console import RenderableType
from rich.progress import BarColumn, Progress, SpinnerColumn, Task, TaskID, TextColumn, TimeElapsedColumn
from rich.text import Text

from mlgate.cli._console import console
from mlgate.cli._outcome import _ICON, _STYLE, _WORD, final_table, print_outcome

__all__ = ["RunDisplay", "final_table", "print_outcome"]  # the last two live in _outcome

if TYPE_CHECKING:
    from mlgate.pipeline import StageSpec
    from mlgate.runs import StageRecord


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
    """One progress row per stage; stages report notes and fractions through hooks.

    Without a terminal (a CI job's log) there is nothing to redraw: each stage prints one
    whole line when it starts and one when it is done, and notes are not printed.
    """

    def __init__(self, stage_names: list[str]) -> None:
        self.plain = not console.is_terminal
        self.progress = Progress(
            _StageSpinner(), TextColumn("[bold]{task.fields[stage]:<9}"), BarColumn(bar_width=24),
            TextColumn("{task.description}"), TimeElapsedColumn(), console=console, transient=False)
        self.tasks: dict[str, TaskID] = {
            name: self.progress.add_task("waiting", stage=name, status="", total=None, start=False)
            for name in stage_names}

    def hook_for(self, spec: StageSpec) -> Callable[[str, float | None], None]:
        if self.plain:
            return lambda note, fraction: None
        task = self.tasks[spec.name]

        def hook(note: str, fraction: float | None) -> None:
            if fraction is None:
                self.progress.update(task, description=note)
            else:
                self.progress.update(task, description=note, total=1.0, completed=fraction)

        return hook

    def on_event(self, kind: str, spec: StageSpec, payload: Any) -> None:
        if self.plain:
            self._print_event(kind, spec, payload)
            return
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

    def _print_event(self, kind: str, spec: StageSpec, payload: Any) -> None:
        if kind == "start":
            console.print(f"  {spec.name}: running", markup=False)
        elif kind == "done":
            record: StageRecord = payload
            note = (record.key_figure or record.message).replace("\n", " ")
            took = f" ({record.duration_s:.1f} s)" if record.status in ("ran", "failed", "error") else ""
            console.print(f"{_ICON.get(record.status, '?')} {record.name}: {_WORD[record.status]} {note}{took}",
                          markup=False)

    @contextmanager
    def live(self) -> Iterator[RunDisplay]:
        if self.plain:
            yield self
            return
        with self.progress:
            yield self


def _short(text: str, width: int = 60) -> str:
    text = text.replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"
