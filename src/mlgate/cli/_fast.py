"""The no-op ``mlgate run`` without Typer: replay the last run when nothing changed.

An up-to-date ``mlgate run`` only compares stamps (the config file, the data files' size and
modification time, the production alias) and prints the last run's table. Typer 0.29 imports
pydantic and its own copy of click at start-up, which alone costs several times a bare
interpreter's start; so ``mlgate.cli.main`` tries this path first and imports the real CLI only
when the arguments are not exactly a plain ``run`` or the replay finds a change.
"""

from __future__ import annotations

from pathlib import Path

from mlgate.cli._width import table_width

TYPE_CHECKING = False  # typing stays out of the no-op run's imports
if TYPE_CHECKING:
    from mlgate.runs import RunRecord


def config_argument(argv: list[str]) -> tuple[bool, str | None]:
    """Whether ``argv`` is a plain ``run`` (optionally with ``--config FILE``), and the FILE.

    ``["run"]`` -> (True, None); ``["run", "-c", "x.yaml"]`` -> (True, "x.yaml");
    ``["run", "--force"]`` -> (False, None): any other flag goes through the full CLI.
    """
    if not argv or argv[0] != "run":
        return False, None
    rest = argv[1:]
    if not rest:
        return True, None
    if len(rest) == 2 and rest[0] in ("--config", "-c"):
        return True, rest[1]
    if len(rest) == 1 and rest[0].startswith("--config="):
        return True, rest[0].split("=", 1)[1]
    return False, None


def replay_noop(argv: list[str]) -> int | None:
    """The exit code of a replayed no-op run, or None when the full CLI must run."""
    plain, config = config_argument(argv)
    if not plain:
        return None
    from mlgate._paths import config_file
    from mlgate.runs import RunStore

    try:
        file = config_file(Path(config) if config else None).resolve()
        replayed = RunStore(file.parent).replay_if_unchanged(file)
    except OSError:  # let the full CLI report a missing or unreadable config properly
        return None
    if replayed is None:
        return None
    if all(stage.status == "cached" for stage in replayed.stages) and _plain_width(replayed) <= table_width():
        print(plain_outcome(replayed), flush=True)
    else:  # a replay with something to explain, or a cell to wrap: the full Rich rendering
        from mlgate.cli._outcome import print_outcome

        print_outcome(replayed)
    from mlgate.cli._hints import next_steps

    for line in next_steps(replayed):
        print(line, flush=True)
    return replayed.exit_code


def plain_outcome(record: RunRecord) -> str:
    """The all-cached run table as plain text, drawn as ``_outcome.styled_table`` draws it: Rich's
    table module alone costs more to import than the whole replay (measured in benchmarks/startup.py)."""
    rows = _plain_rows(record)
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [f"mlgate run {record.run_id}"]
    for i, row in enumerate(rows):
        cells = [c.ljust(w) if j < 3 else c.rjust(w) for j, (c, w) in enumerate(zip(row, widths, strict=True))]
        lines.append("   ".join(cells))
        if i == 0:
            lines.append("─" * (sum(widths) + 3 * (len(widths) - 1)))
    lines.append(f"All {len(record.stages)} stages unchanged: nothing to do (use --force to re-run).")
    lines.append(f"Run folder: {record.run_dir} (open index.html for every stage's report)")
    return "\n".join(lines)


def _plain_rows(record: RunRecord) -> list[tuple[str, str, str, str]]:
    rows = [("stage", "verdict", "key figure", "duration")]
    return rows + [(s.name, "cached", s.key_figure or s.message, "-") for s in record.stages]


def _plain_width(record: RunRecord) -> int:
    """The width of the plain table: its columns and the three spaces between each two."""
    rows = _plain_rows(record)
    return sum(max(len(r[i]) for r in rows) for i in range(4)) + 3 * 3
