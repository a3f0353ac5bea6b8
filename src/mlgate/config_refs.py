"""Check what ``mlgate.yaml`` refers to, at load and before any stage runs.

pydantic checks the config's shape; this module checks its references: the columns it names
(``data.target``, ``data.id_columns``, ``data.protected``, ``gates.evaluate.slices``)
against the header of the training table, and the metrics it names
(``gates.test.performance``, ``gates.evaluate.thresholds``, ``gates.compare.metric``) against
the metrics of the task. Each problem names the key, its line and the closest valid name::

    mlgate.yaml does not fit its data or task (1 problem)
      data -> target (line 4): 'traget' is not a column of data/train.csv; did you mean 'target'? ...

Only headers are read (the first line of a CSV, the schema of a Parquet file), so the check
costs a few milliseconds; a data file that does not exist is left to the stages' own check,
which names its key (``mlgate.pipeline``).
"""

from __future__ import annotations

import csv
import difflib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from mlgate.errors import ConfigError
from mlgate.locations.refs import TABLE_SUFFIXES
from mlgate.metrics import METRICS, metric_names

if TYPE_CHECKING:
    from mlgate.config import Config

__all__ = ["check_references", "closest", "table_header"]

_SHOWN = 12  # columns listed in a message


def check_references(config: Config, line_of: Callable[[tuple[str, ...]], int | None] | None = None) -> None:
    """Raise one ConfigError listing every config key that names a missing column or metric.

    ``line_of`` gives the config file's line of a key path (``mlgate.config``'s), called only
    when there is a problem to place.
    """
    problems: list[tuple[tuple[str, ...], str]] = []
    problems += _column_problems(config)
    problems += _metric_problems(config)
    if not problems:
        return
    name = config.source.name if config.source else "config"
    count = len(problems)
    rows = []
    for path, what in problems:
        line = line_of(path) if line_of else None
        where = f" (line {line})" if line else ""
        rows.append(f"  {' -> '.join(path)}{where}: {what}")
    raise ConfigError(f"{name} does not fit its data or task ({count} problem{'s' if count > 1 else ''})\n"
                      + "\n".join(rows))


def closest(name: str, valid: list[str]) -> str | None:
    """The valid name nearest to ``name`` (case-insensitive first), or None when none is near."""
    folded = {v.lower(): v for v in valid}
    if name.lower() in folded:
        return folded[name.lower()]
    found = difflib.get_close_matches(name.lower(), list(folded), n=1, cutoff=0.75)
    return folded[found[0]] if found else None


def table_header(path: Path) -> list[str] | None:
    """The column names of a CSV or Parquet file (the first file of a folder); None when unreadable."""
    try:
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.suffix.lower() in TABLE_SUFFIXES)
            if not files:
                return None
            path = files[0]
        kind = TABLE_SUFFIXES.get(path.suffix.lower())
        if kind == "parquet":
            import pyarrow.parquet as pq  # only for a Parquet config: pyarrow costs 0.1 s to import

            return list(pq.read_schema(path).names)
        if kind == "csv":
            return _csv_header(path)
    except (OSError, ValueError, UnicodeDecodeError):
        return None  # the stage that reads the file reports it, naming the file
    except Exception:  # pyarrow's errors (ArrowInvalid) are not imported on this path
        return None
    return None


def _csv_header(path: Path) -> list[str] | None:
    with path.open(encoding="utf-8-sig", newline="") as fh:  # pandas drops a byte-order mark too
        first = fh.readline(1 << 20)
    if not first.strip():
        return None
    if path.suffix.lower() == ".tsv":
        sep = "\t"
    else:  # the separator rule of mlgate.data.io: comma unless another one clearly wins
        counts = {sep: first.count(sep) for sep in (",", ";", "\t", "|")}
        best = max(counts, key=lambda s: counts[s])
        sep = best if counts[best] > counts[","] else ","
    return next(csv.reader([first], delimiter=sep), [])


def _column_problems(config: Config) -> list[tuple[tuple[str, ...], str]]:
    data = config.data
    rel = data.path or data.train
    if not rel:
        return []
    header = table_header(config.resolve(rel))
    if not header:
        return []
    where = rel
    problems = []
    refs: list[tuple[tuple[str, ...], str]] = [(("data", "target"), data.target)]
    refs += [(("data", "id_columns", str(i)), c) for i, c in enumerate(data.id_columns)]
    refs += [(("data", "protected", str(i)), c) for i, c in enumerate(data.protected)]
    refs += [(("gates", "evaluate", "slices", str(i)), c) for i, c in enumerate(config.gates.evaluate.slices)]
    for path, column in refs:
        if column not in header:
            problems.append((path, _not_a_column(column, header, where)))
    if data.test and data.target in header:
        test_header = table_header(config.resolve(data.test))
        if test_header and data.target not in test_header:
            problems.append((("data", "target"), _not_a_column(data.target, test_header, data.test)))
    return problems


def _not_a_column(column: str, header: list[str], where: str) -> str:
    near = closest(column, header)
    hint = f"; did you mean {near!r}?" if near else ""
    shown = ", ".join(header[:_SHOWN]) + (f", ... ({len(header)} in all)" if len(header) > _SHOWN else "")
    return f"{column!r} is not a column of {where}{hint} (columns: {shown})"


def _metric_problems(config: Config) -> list[tuple[tuple[str, ...], str]]:
    task = config.task
    costs = config.business.enabled
    if task:
        valid = metric_names(task, has_proba=True, has_costs=costs)
        kind = f"{task} metric"
    else:  # the task is inferred from the data later: any task's metric may fit
        valid = [m.name for m in METRICS.values() if costs or not m.needs_costs]
        kind = "metric"
    refs: list[tuple[tuple[str, ...], str]] = []
    refs += [(("gates", "test", "performance", m), m) for m in config.gates.test.performance]
    refs += [(("gates", "evaluate", "thresholds", m), m) for m in config.gates.evaluate.thresholds]
    if config.gates.compare.metric:
        refs.append((("gates", "compare", "metric"), config.gates.compare.metric))
    problems = []
    for path, metric in refs:
        if metric in valid:
            continue
        near = closest(metric, valid)
        hint = f"; did you mean {near!r}?" if near else ""
        if metric in METRICS and not METRICS[metric].needs_costs:
            tasks = " and ".join(METRICS[metric].tasks)
            what = f"{metric!r} is a {tasks} metric, not a {kind}{hint}"
        elif metric in METRICS:
            what = f"{metric!r} needs a cost matrix (business.costs or business.cost_per_unit){hint}"
        else:
            what = f"{metric!r} is not a {kind}{hint}"
        problems.append((path, f"{what} ({kind}s: {', '.join(valid)})"))
    return problems
