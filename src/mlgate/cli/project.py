"""``mlgate init``, ``mlgate run`` and ``mlgate status``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mlgate.cli._common import ConfigOpt, console, load
from mlgate.cli._hints import next_steps, runnable
from mlgate.cli.app import app

if TYPE_CHECKING:
    from mlgate.config import Config
    from mlgate.runs import RunRecord


@app.command()
def init(
    folder: Annotated[Path, typer.Argument(help="Project folder.")] = Path("."),
    data: Annotated[Path | None, typer.Option(
        help="A table to split into train and test, or a folder with train/test tables. Default: data/, "
             "then train.csv/test.csv (or .parquet) in the folder.")] = None,
    target: Annotated[str | None, typer.Option(
        help="The column to predict. Default: a column named target, label, y, class or outcome.")] = None,
    example: Annotated[str | None, typer.Option(
        help="Write a bundled example with data: churn (default: none, the config fitted to your data).")] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing mlgate.yaml.")] = False,
) -> None:
    """Write a commented mlgate.yaml that fits the project's data.

    With data it reads it and infers the target, the task (binary, multiclass, regression),
    id columns, models and thresholds, and prints what it inferred and why. Without data it
    writes the commented template; with --example, a runnable example with generated data.
    """
    from rich.markup import escape

    from mlgate.project import init_project

    result = init_project(folder, example, force=force, data=data, target=target)
    for reason in result.reasons:
        console.print(f"inferred {escape(reason)}")
    for path in result.written:
        console.print(f"wrote {path}")
    mlgate = runnable("mlgate", folder)
    go = "" if folder.resolve() == Path.cwd().resolve() else f"cd {folder} && "
    console.print(f"Next: {go}{mlgate} run")


@app.command()
def run(
    config: ConfigOpt = None,
    only: Annotated[str | None, typer.Option(
        help="Run just this stage (its inputs must exist; default: every stage).")] = None,
    until: Annotated[str | None, typer.Option(
        help="Run the stages up to and including this one (default: up to register).")] = None,
    force: Annotated[bool, typer.Option(help="Re-run stages even when their inputs are unchanged.")] = False,
) -> int:
    """Run the pipeline; unchanged stages are skipped by content hash.

    Stages: validate, tune (when enabled), train, test, evaluate, compare, register.
    """
    if not (only or until or force):
        from mlgate._paths import config_file
        from mlgate.runs import RunStore

        file = config_file(config).resolve()
        replayed = RunStore(file.parent).replay_if_unchanged(file)
        if replayed is not None:  # nothing changed: skip loading the config and the libraries
            _print_outcome(replayed)
            _print_next_steps(replayed)
            return replayed.exit_code
    record = run_with_display(load(config), only=only, until=until, force=force)
    _print_next_steps(record)
    return record.exit_code


def run_with_display(cfg: Config, *, only: str | None = None, until: str | None = None,
                     force: bool = False) -> RunRecord:
    """Run the pipeline under a Rich progress display, then print the final table."""
    from mlgate.cli._display import RunDisplay
    from mlgate.pipeline import Pipeline, select_stages

    display = RunDisplay([s.name for s in select_stages(cfg, only=only, until=until)])
    pipeline = Pipeline(cfg, on_event=display.on_event)
    pipeline.check_inputs(only=only, until=until)  # before the display: a config or data error alone
    with display.live():
        record = pipeline.run(
            only=only, until=until, force=force, progress_for=display.hook_for)
    _print_outcome(record)
    return record


def _print_next_steps(record: RunRecord) -> None:
    from rich.markup import escape

    for line in next_steps(record):
        console.print(escape(line))


def _print_outcome(record: RunRecord) -> None:
    from mlgate.cli._outcome import print_outcome

    print_outcome(record)


@app.command()
def status(config: ConfigOpt = None,
           runs: Annotated[int, typer.Option(help="How many recent runs to list.")] = 5,
           events: Annotated[int, typer.Option(help="How many recent deployment events to list "
                                                    "(with environments in mlgate.yaml).")] = 10) -> None:
    """Show recent runs, each stage's last passing output, and what each environment serves."""
    from rich.markup import escape

    from mlgate.cli._outcome import styled_table
    from mlgate.runs import RunStore, iter_runs

    cfg = load(config)
    table = styled_table("recent runs")
    for col in ("run", "verdict", "stages"):
        table.add_column(col)
    for i, record in enumerate(iter_runs(cfg.root / ".mlgate")):
        if i >= runs:
            break
        table.add_row(record["run_id"], "passed" if record.get("passed") else "[red]failed[/]",
                      _stage_summary(record.get("stages", [])))
    console.print(table)
    outputs = styled_table("last passing output of each stage (what the next run reuses)")
    for col in ("stage", "run", "key figure", "folder"):
        outputs.add_column(col)
    for name, stage in RunStore(cfg.root).read_state().items():
        if isinstance(stage, dict) and "out_dir" in stage:
            outputs.add_row(name, stage.get("run_id", ""), escape(stage.get("key_figure", "")),
                            escape(stage["out_dir"]))
    if outputs.row_count:
        console.print(outputs)
    if cfg.environments:
        _print_deployments(cfg, events)


def _print_deployments(cfg: Config, limit: int) -> None:
    """The environments' registry versions and the recent deployment history (mlgate.deploy.state)."""
    from rich.markup import escape

    from mlgate.deploy.state import deployment_summary, describe_event, describe_state

    states, events = deployment_summary(cfg, limit=limit + 1)
    for state in states:
        console.print(escape(describe_state(state)))
    console.print("deployments (newest first):" if events else "deployments: none recorded yet")
    for event in events[:limit]:
        console.print(f"  {escape(describe_event(event))}")
    if len(events) > limit:
        console.print(f"  ... older events: mlgate status --events {limit * 5}")


def _stage_summary(stages: list[dict[str, str]]) -> str:
    """``ran: train, test · cached: 5`` (ran and failed stages by name, the rest counted)."""
    parts = []
    for status in ("failed", "error", "ran", "blocked", "cached"):
        names = [s["name"] for s in stages if s["status"] == status]
        if names:
            shown = ", ".join(names) if status != "cached" or len(names) < 3 else str(len(names))
            parts.append(f"{status}: {shown}")
    return " · ".join(parts)
