"""Infer a schema from a table read in batches: per-batch facts that merge, the table never held whole.

``infer_streamed(files)`` gives the schema ``infer_schema`` gives on the whole table (tested
equal, saved YAML and report, in tests/unit/data/test_data_stream_schema.py). Per column it keeps:

- the kind, as ``column_kind`` decides it on the whole column: a batch without any value decides
  nothing (an all-missing text batch of a bool column), int and float batches make a float column;
- rows and missing values;
- numbers: min, max, whether every value is whole, and count, mean and sum of squared deviations
  per batch (numpy's pairwise sums, as pandas computes ``std``; later batches as deviations from
  the first batch's mean, so a large mean never cancels), merged with Chan, Golub and LeVeque's
  update: one batch gives pandas' figure to the bit, many batches the exact figure to about 1e-12
  relative, pandas' own error on one pass (the bounds are then rounded to 4 significant digits or
  to whole numbers);
- text: the value counts while at most ``MAX_CATEGORIES`` + 1 distinct values have been seen
  (beyond that the column is no category and counting stops), and its first
  ``PATTERN_SAMPLE`` distinct values in order (all the pattern guess reads);
- key candidates (text without missing values, no value seen twice among those counted): a
  64-bit hash of each value in ``HashStore`` partitions on disk, sorted at the end: distinct or
  not. The answer is exact up to a hash collision between two different values (probability
  about n^2 / 2^65: 3e-4 for 100M rows), which would make the column no key; a column stops
  being hashed as soon as it holds a missing value or a repeat, or its first ``PATTERN_SAMPLE``
  distinct values fit no pattern.

This is a pass of its own, before the checks' pass (``stream.scan_files``): the checks' state
needs the schema (bounds, categories, pattern) from the first row on. With ``dask``, each file's
state is computed on a worker and the states merge here, in file order, to the same schema.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgate.data.io import require_columns
from mlgate.data.rowmatch import hash_rows
from mlgate.data.schema import (
    MAX_CATEGORIES,
    ColumnFacts,
    Schema,
    _guess_pattern,
    schema_from_facts,
)
from mlgate.data.stream import (
    Dtypes,
    HashStore,
    Retype,
    Types,
    _duplicates,
    _merge_kind,
    _worker_types,
    batch_kind,
    merge_batch_kind,
    merge_parts_types,
    new_folder,
    rescan,
    stream_files,
)
from mlgate.errors import DataError
from mlgate.locations.cluster import dask_client
from mlgate.locations.objectstore import RemoteFile
from mlgate.locations.refs import as_ref, table_files

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


PATTERN_SAMPLE = 20_000  # distinct text values the pattern guess reads (schema._guess_pattern)


@dataclass
class ColumnTally:
    """One column's facts so far; tallies of consecutive parts merge."""

    kind: str | None = None       # None: no batch held a value yet
    rows: int = 0
    nulls: int = 0
    n: int = 0                    # numbers seen, their mean (less ``pivot``) and sum of squared deviations
    pivot: float | None = None
    mean: float = 0.0
    m2: float = 0.0
    first_n: int = 0              # the first batch's numbers and pandas' figure for them: one batch, one std
    first_m2: float = 0.0
    lo: float | None = None
    hi: float | None = None
    integral: bool = True
    counts: dict[str, int] | None = field(default_factory=dict)  # None: past MAX_CATEGORIES
    first: dict[str, None] = field(default_factory=dict)         # first distinct texts, in order
    repeated: bool = False        # a text value seen twice: no key
    keyable: bool = True          # still hashed as a possible key

    def add(self, s: pd.Series, kind: str | None) -> None:
        """Add one batch of the column, of kind ``kind`` (``stream.batch_kind``)."""
        import numpy as np

        self.rows += len(s)
        if kind in ("int", "float"):  # numpy, not dropna: a third of the time of this pass
            x = s.to_numpy(dtype="float64", na_value=np.nan)
            missing = np.isnan(x)
            if missing.any():
                x = x[~missing]
            self.nulls += len(s) - len(x)
            if len(x):
                self._add_numbers(x, whole=kind == "int")
        else:
            values = s.dropna()
            self.nulls += len(s) - len(values)
            if len(values) and kind in ("string", "category"):
                self._add_text(values.astype(str), kind)
        if self.nulls or kind not in (None, "string"):
            self.keyable = False

    def _add_numbers(self, x: np.ndarray, *, whole: bool) -> None:
        first = self.pivot is None
        if first:  # as pandas' nanvar: the mean, then the squared deviations from it
            self.pivot = float(x.sum() / len(x))
        y = x - self.pivot  # later batches: deviations from the first batch's mean, so no large mean cancels
        mean = float(y.sum() / len(y))  # the first batch: what the rounded mean missed
        integral = whole or (self.integral and bool(((x % 1) == 0).all()))  # one fraction settles it
        part = ColumnTally(n=len(x), pivot=self.pivot, mean=mean, m2=float(((y - mean) ** 2).sum()),
                           lo=float(x.min()), hi=float(x.max()), integral=integral)
        if first:
            part.first_n, part.first_m2 = len(x), float((y ** 2).sum())
        self._merge_numbers(part)

    def _merge_numbers(self, o: ColumnTally) -> None:
        """Chan, Golub and LeVeque's pairwise update of count, mean and squared deviations."""
        if not o.n:
            return
        if not self.n:
            self.n, self.pivot, self.mean, self.m2 = o.n, o.pivot, o.mean, o.m2
            self.first_n, self.first_m2 = o.first_n, o.first_m2
        else:
            assert self.pivot is not None and o.pivot is not None
            n = self.n + o.n
            delta = (o.pivot - self.pivot) + (o.mean - self.mean)
            self.mean += delta * o.n / n
            self.m2 += o.m2 + delta * delta * self.n * o.n / n
            self.n = n
        self.lo = o.lo if self.lo is None else min(self.lo, o.lo)  # type: ignore[type-var]
        self.hi = o.hi if self.hi is None else max(self.hi, o.hi)  # type: ignore[type-var]
        self.integral = self.integral and o.integral

    def _add_text(self, text: pd.Series, kind: str) -> None:
        if self.counts is None and len(self.first) >= PATTERN_SAMPLE:
            return  # no more counting: only the hashes (if a key candidate) see these values
        counts = text.value_counts(sort=False)  # in order of first appearance
        if bool((counts > 1).any()):
            self.repeated = True
        self._merge_text(dict(zip(counts.index.astype(str), counts.astype(int).tolist(), strict=True)),
                         list(counts.index.astype(str)), kind == "category")

    def _merge_text(self, counts: dict[str, int] | None, first: Sequence[str], category: bool) -> None:
        if self.counts is not None and counts is not None:
            for k, v in counts.items():
                self.counts[k] = self.counts.get(k, 0) + v
            if len(self.counts) > MAX_CATEGORIES and not category and self.kind != "category":
                self.counts = None  # more levels than a category has: the column is text
        else:
            self.counts = None
        for value in first:
            if value in self.first:
                self.repeated = True
            elif len(self.first) < PATTERN_SAMPLE:
                self.first[value] = None
        if len(self.first) >= PATTERN_SAMPLE and self.counts is None and self.keyable:
            self.keyable = _guess_pattern(self._strings()) is not None  # the pattern is final now

    def _strings(self) -> pd.Series:
        import pandas as pd

        return pd.Series(list(self.first), dtype=object)

    def merge(self, o: ColumnTally) -> ColumnTally:
        """This tally and ``o``'s (rows after this one's)."""
        out = ColumnTally(kind=_merge_kind(self.kind, o.kind), rows=self.rows + o.rows, nulls=self.nulls + o.nulls,
                          counts=None if self.counts is None else dict(self.counts), first=dict(self.first),
                          repeated=self.repeated or o.repeated, keyable=self.keyable and o.keyable)
        out._merge_numbers(ColumnTally(n=self.n, pivot=self.pivot, mean=self.mean, m2=self.m2, lo=self.lo,
                                       hi=self.hi, integral=self.integral, first_n=self.first_n,
                                       first_m2=self.first_m2))
        out._merge_numbers(o)
        if out.nulls:
            out.keyable = False
        out._merge_text(o.counts, list(o.first), out.kind == "category")
        return out

    def facts(self, kind: str) -> ColumnFacts:
        """The facts ``schema.column_from_facts`` reads."""
        m2 = self.first_m2 if self.n == self.first_n else self.m2
        std = math.sqrt(m2 / self.n) if self.n else None
        return ColumnFacts(kind, self.rows, self.nulls, self.lo, self.hi, std, self.integral,
                           self.counts, self._strings())


@dataclass
class InferState:
    """A table's column tallies and the hashes of its key candidates; states of consecutive parts merge."""

    columns: list[str]
    rows: int = 0
    tallies: dict[str, ColumnTally] = field(default_factory=dict)
    hashes: dict[str, HashStore] = field(default_factory=dict)
    dtypes: Dtypes = field(default_factory=Dtypes)
    types: Types = field(default_factory=Types)  # what this scan learnt of the types (shared by its restarts)

    @classmethod
    def new(cls, columns: list[str], folder: Path | None, *, target: str | None, guess_keys: bool,
            types: Types | None = None) -> InferState:
        state = cls(list(columns), tallies={c: ColumnTally() for c in columns},
                    types=types if types is not None else Types())
        if guess_keys:
            state.hashes = {c: HashStore(folder) for c in columns if c != target}
        return state

    def add(self, frame: pd.DataFrame) -> None:
        """Add one batch (consecutive rows); Retype when a column's dtype turns out other than earlier
        batches were read as (``stream.Dtypes``)."""
        import numpy as np

        frame = self.dtypes.settle(frame, self.types)
        rows = np.arange(self.rows, self.rows + len(frame), dtype=np.uint64)
        for name in self.columns:
            tally = self.tallies[name]
            kind = batch_kind(frame[name], name in self.types.text)
            tally.kind = merge_batch_kind(name, tally.kind, kind, self.types)
            tally.add(frame[name], kind)
            if name in self.hashes:
                if tally.keyable and not tally.repeated:
                    self.hashes[name].add(hash_rows(frame, (name,)), rows)
                else:
                    self._drop(name)
        self.rows += len(frame)

    def discard(self) -> None:
        """Remove the hash partition files written so far (a scan that starts again)."""
        for name in list(self.hashes):
            self._drop(name)

    def _drop(self, name: str) -> None:
        self.hashes.pop(name).remove_files()

    def merge(self, other: InferState) -> InferState:
        """This state and ``other``'s (rows after this one's); hashes go to this state's files."""
        dtypes = merge_parts_types(self.columns, other.columns, self.dtypes, other.dtypes,
                                   {c: t.kind for c, t in self.tallies.items()},
                                   {c: t.kind for c, t in other.tallies.items()}, self.types)
        out = InferState(self.columns, self.rows + other.rows,
                         {c: self.tallies[c].merge(other.tallies[c]) for c in self.columns}, dtypes=dtypes,
                         types=self.types)
        out.hashes = {c: self.hashes[c].merge(other.hashes[c]) for c in self.hashes if c in other.hashes}
        for name in list(out.hashes):
            if not out.tallies[name].keyable or out.tallies[name].repeated:
                out.hashes.pop(name)
        return out

    def schema(self, *, target: str | None, keys: Sequence[str]) -> Schema:
        """The schema ``infer_schema`` gives on the whole table."""
        facts = {c: t.facts(t.kind or "string") for c, t in self.tallies.items()}

        def unique(name: str) -> bool:
            store = self.hashes.get(name)
            return store is not None and not self.tallies[name].repeated and _duplicates(store)[0] == 0

        return schema_from_facts(facts, self.rows, target=target, keys=list(keys), unique=unique)


def infer_streamed(files: Sequence[Path | RemoteFile], *, target: str | None = None, keys: Sequence[str] = (),
                   dask: Any = None, source: str | None = None) -> Schema:
    """The schema of the files' rows (as ``infer_schema`` on them read whole), read batch by batch,
    or file by file on the Dask cluster at ``dask`` (an address or a Client). A missing target is a
    DataError naming ``source`` (default: the first file)."""
    where = source or str(files[0])
    folder = new_folder()
    try:
        if dask:
            state = _infer_on_dask(dask, files, target, not keys, folder, where)
        else:
            state = rescan(lambda types: _scan(files, target, not keys, folder, where, types))
        return state.schema(target=target, keys=keys)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _scan(files: Sequence[Path | RemoteFile], target: str | None, guess_keys: bool,
          folder: Path | None, where: str, types: Types) -> InferState:
    """One pass over the files (Retype part-way when a column's type turns out wider: ``rescan``)."""
    state: InferState | None = None
    try:
        for file, batches in stream_files(files, types):
            for frame in batches:  # the first batch has passed the reader's checks (delimiter, UTF-8)
                columns = [str(c) for c in frame.columns]
                if state is None:
                    if target:
                        require_columns(frame, [target], where)
                    state = InferState.new(columns, folder, target=target, guess_keys=guess_keys, types=types)
                elif columns != state.columns:
                    raise DataError(f"{file} has other columns than {files[0]}: {columns[:8]}")
                state.add(frame)
    except Retype:
        if state is not None:
            state.discard()
        raise
    assert state is not None  # every file has rows (checked while reading)
    return state


def infer_file_task(path: str, target: str | None, guess_keys: bool, where: str,
                    learnt: Types | None = None) -> InferState:
    """One file's state on a Dask worker (the columns' types as the client ``learnt`` them from all
    files); hashes in memory (sent back with the state)."""
    files = table_files(as_ref(path))
    return rescan(lambda types: _scan(files, target, guess_keys, None, where, types), _worker_types(learnt))


def _infer_on_dask(scheduler: Any, files: Sequence[Path | RemoteFile], target: str | None, guess_keys: bool,
                   folder: Path, where: str) -> InferState:
    names = [str(f) for f in files]
    n = len(names)
    with dask_client(scheduler) as client:

        def run(types: Types) -> InferState:
            parts = client.gather(client.map(infer_file_task, names, [target] * n, [guess_keys] * n, [where] * n,
                                             [types] * n, pure=False))
            state = InferState.new(parts[0].columns, folder, target=target, guess_keys=guess_keys, types=types)
            try:
                for part in parts:
                    state = state.merge(part)
            except Retype:
                state.discard()
                raise
            return state

        return rescan(run)
