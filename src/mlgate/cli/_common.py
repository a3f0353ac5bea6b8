"""Options, console and result rendering shared by the command modules."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mlgate._paths import report_dir, shown_path
from mlgate.cli._console import console, err_console
from mlgate.locations.refs import flag_ref

__all__ = ["ConfigOpt", "DataOpt", "ModelOpt", "OutputOpt", "console", "err_console", "finish", "load",
           "maybe_load", "print_verdict", "report_dir"]

if TYPE_CHECKING:
    from mlgate.config import Config
    from mlgate.context import StageContext
    from mlgate.reports.model import Check, Report


ConfigOpt = Annotated[Path | None, typer.Option(
    "--config", "-c", help="Config file (default: ./mlgate.yaml).", show_default=False)]
OutputOpt = Annotated[Path | None, typer.Option(
    "--output", "-o", help="Folder for report.json, junit.xml, report.html and summary.md "
                         "(default: mlgate-reports/COMMAND beside mlgate.yaml, else in the current folder).")]
# Data flags parse with flag_ref into a DataRef: an object URI stays a str, anything else becomes a
# Path. Declared str: Typer takes no Path | str union, and before 0.16 a Path annotation re-converted
# the parser's result (s3://b/k became the path s3:/b/k)
DataOpt = Annotated[str | None, typer.Option(
    "--data", "-d", parser=flag_ref, metavar="PATH",
    help="A CSV or Parquet file, or a folder of them, or s3://, gs://, az:// (default: the tables under "
         "data: in mlgate.yaml).")]
ModelOpt = Annotated[str | None, typer.Option(
    "--model", "-m", help="An MLflow model folder, a models:/NAME@ALIAS URI, or a .joblib/.pkl file "
                        "(default: the model of the project's last passing train stage).")]


def load(config_path: Path | None) -> Config:
    """Load the config from ``--config`` or ./mlgate.yaml."""
    from mlgate.config import load_config

    return load_config(config_path)


def maybe_load(config_path: Path | None) -> Config | None:
    """The config when one is given or ./mlgate.yaml exists, else None (bare-folder mode)."""
    if config_path is None and not (Path.cwd() / "mlgate.yaml").exists():
        return None
    return load(config_path)


def note_newer_model(ctx: StageContext) -> None:
    """Say which model a command judges when ``mlgate train`` wrote a newer one than the pipeline's."""
    newer = ctx.newer_trained_model()
    if newer is not None:
        judged = shown_path(Path(ctx.candidate_spec()))
        console.print(f"[yellow]note:[/] judging the last `mlgate run`'s model ({judged}); "
                      f"`mlgate train` wrote a newer one: pass --model {shown_path(newer)} to judge that one")


def finish(report: Report, out_dir: Path) -> int:
    """Write the report files, print the verdict and where the reports are; return the exit code."""
    from mlgate.reports import write_report

    paths = write_report(report, out_dir)
    print_verdict(report)
    console.print(f"Reports: {paths.get('html', paths['json'])}")
    return 0 if report.passed else 1


def grouped_lines(checks: list[Check], least: int = 3) -> list[tuple[str, str]]:
    """(name, message) per check, in order; checks of one name whose messages differ only in the
    column they name, ``least`` or more, as one line (where the first was): the first column's
    message, then "(the same for 'b', 'c', 'd' and N more)": a table of 40 columns too small to
    test printed 40 alike warnings. The report files keep every check."""
    keys, groups = [], dict[tuple[str, str], list[str]]()
    for check in checks:
        token = repr(check.column) if check.column is not None else ""
        key = (check.name, check.message.replace(token, "\x00", 1) if token and token in check.message else "")
        keys.append(key)
        groups.setdefault(key, []).append(token)
    lines, shown = [], set()
    for check, key in zip(checks, keys, strict=True):
        columns = groups[key]
        if not key[1] or len(columns) < least:
            lines.append((check.name, check.message))
        elif key not in shown:  # the group's line, once: the first column's message, then the others
            # (listing them inside the message broke its grammar: "'a', 'b' and 2 more is constant")
            rest = columns[1:]
            named = ", ".join(rest[:3]) + (f" and {len(rest) - 3} more" if len(rest) > 3 else "")
            lines.append((check.name, key[1].replace("\x00", columns[0]) + f" (the same for {named})"))
            shown.add(key)
    return lines


def print_verdict(report: Report) -> None:
    """One line per failed or warned check (alike ones of many columns as one), then the verdict."""
    from rich.markup import escape  # a column named like markup ("[red]") is printed as it is
    for name, message in grouped_lines(report.failures):
        console.print(f"  [red]✗[/] {name}: {escape(message)}")
    for name, message in grouped_lines(report.warnings):
        console.print(f"  [yellow]![/] {name}: {escape(message)}")
    verdict = "[bold green]PASSED[/]" if report.passed else "[bold red]FAILED[/]"
    figure = f" · {report.key_figure}" if report.key_figure else ""
    console.print(f"{report.stage}: {verdict}{figure} "
                  f"({len(report.checks)} checks, {len(report.failures)} failed, "
                  f"{len(report.warnings)} warnings)")
