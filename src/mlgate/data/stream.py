"""Validate tables larger than memory: per-batch state that merges, and a TableView backed by it.

A CSV or Parquet file (or a folder of them) is read one record batch at a time (``pyarrow.parquet``
``iter_batches`` one row group at a time, Parquet text as dictionaries so that each batch's distinct
values come with it; ``pyarrow.csv.open_csv``); each batch adds to a
``TableState``: per column the kind, missing count and first missing rows, min/max, whether every
number is whole, the values failing the schema (count and first rows: wrong kind, out of range,
unseen category, pattern), whether the column holds one value; the target's value counts; a
systematic sample (every k-th row, k a power of two, at most ``SPREAD_ROWS`` rows) for the
profile and the distribution checks; and 64-bit row hashes for duplicates, keys and leakage.

Row hashes are the memory problem: 100M rows x 16 bytes (hash and row number) is 1.6 GB. They are
written to ``PARTITIONS`` temporary files by the hash's top bits and each file is then analysed
alone (repeats found by a hash table), so memory holds one partition at a time: exact up to the
64-bit hash (``rowhash.row_hashes``: the in-memory path's normalisation, fewer passes), so both paths
find the same duplicates. Two different rows share a hash with probability about n^2 / 2^65 for n
rows (3e-4 at 100M rows).

States of different files merge (``TableState.merge``), so files can be scanned on Dask workers
(``scan_on_dask``) and merged to the same state a single process builds.

``StreamView`` answers the questions the checks ask a ``TableView`` from the merged state, so the
checks run unchanged and give the same report as on the table held in memory.

Column types are the in-memory path's: pandas reads each file whole (a CSV column typed from all
its values) and concatenates the files. A CSV file's first block types its columns and a later
value that does not fit widens its column (``_csv_batches``); files that disagree make the dtype
``pandas.concat`` makes (``Dtypes``). Where the batches already added were read as another type
than the whole column has (ints of a column that turns out text), the scan starts again with the
wider type known (``Retype``, ``Types``, ``rescan``); a table whose types hold is read once.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from mlgate.data.csvtext import CSV_FALSE, CSV_TRUE, convert_options
from mlgate.data.io import _check_delimiter, _sniff_separator
from mlgate.data.prefetch import prefetched
from mlgate.data.ragged import is_ragged, key_of, mark, padded, short_row
from mlgate.data.rowhash import TextCodes, is_text, row_hashes, text_codes
from mlgate.data.schema import Schema, column_kind
from mlgate.data.table import (
    SAMPLE_ROWS,
    TableView,
    fullmatch_mask,
    jsonable,
    not_of_kind,
    ordered_counts,
    outside,
    spread_step,
)
from mlgate.errors import DataError
from mlgate.locations.cluster import dask_client
from mlgate.locations.objectstore import RemoteFile
from mlgate.locations.refs import TABLE_SUFFIXES, as_ref, pandas_index_columns, table_files

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import pyarrow as pa


BATCH_ROWS = 131_072
CSV_BLOCK = 8 << 20      # bytes of CSV per block; a file's first block types its columns until a value does not fit
SPREAD_ROWS = 200_000    # the systematic sample: profile and distribution checks (their own limit)
PARTITIONS = 256         # hash partitions: 100M rows -> 390k rows (6 MB) per partition in memory (at most 256: uint8)
FLUSH_ROWS = 1 << 20     # row hashes buffered (16 MB) before they go to the partition files (256 opens a flush)
MAX_COUNTS = 10_000      # distinct target values counted by value; beyond, the target is not classes
_UNSET = object()
DISTINCT = "\x00distinct"  # the hash-store key of a column's distinct values: (DISTINCT, column)


# ---- state ------------------------------------------------------------------------------------


@dataclass
class Hits:
    """How many rows fail one test, and the first ``SAMPLE_ROWS`` of them (row, value)."""

    n: int = 0
    rows: list[int] = field(default_factory=list)
    values: list[Any] = field(default_factory=list)

    def add(self, mask: np.ndarray, offset: int, series: pd.Series | None = None) -> None:
        import numpy as np

        k = int(np.count_nonzero(mask))  # (a tenth of mask.sum()'s time)
        if not k:
            return
        self.n += k
        if len(self.rows) < SAMPLE_ROWS:
            where = np.flatnonzero(mask)[:SAMPLE_ROWS - len(self.rows)]
            self.rows += [offset + int(r) for r in where]
            if series is not None:
                self.values += [jsonable(v) for v in series.iloc[where].tolist()]

    def merge(self, other: Hits) -> Hits:
        keep = SAMPLE_ROWS - len(self.rows)
        return Hits(self.n + other.n, self.rows + other.rows[:keep], self.values + other.values[:keep])

    def samples(self, with_values: bool, floats: bool) -> dict[str, Any]:
        out: dict[str, Any] = {"rows": list(self.rows)}
        if with_values:
            out["values"] = [float(v) if floats and isinstance(v, int) and not isinstance(v, bool) else v
                             for v in self.values]
        return out


@dataclass
class ColumnState:
    """What one column's batches added up to."""

    kind: str | None = None
    nulls: Hits = field(default_factory=Hits)
    lo: float | None = None
    hi: float | None = None
    integral: bool = True
    misfit_parse: Hits = field(default_factory=Hits)  # non-null values that are no number
    misfit_whole: Hits = field(default_factory=Hits)  # numbers that are not whole
    misfit_any: Hits = field(default_factory=Hits)    # non-null values (wrong kind for a text schema)
    far: Hits = field(default_factory=Hits)           # outside min/max
    near: Hits = field(default_factory=Hits)          # outside warn_min/warn_max, inside min/max
    uniques: dict[str, Any] | None = None             # text -> value, for columns with categories
    unseen: Hits = field(default_factory=Hits)
    pattern: Hits = field(default_factory=Hits)
    first: Any = _UNSET
    varies: bool = False
    counts: dict[Any, int] | None = None              # the target: value -> count (None past MAX_COUNTS)
    distinct_first: list[Any] = field(default_factory=list)

    def merge(self, o: ColumnState) -> ColumnState:
        out = ColumnState(kind=_merge_kind(self.kind, o.kind), nulls=self.nulls.merge(o.nulls),
                          lo=_pick(min, self.lo, o.lo), hi=_pick(max, self.hi, o.hi),
                          integral=self.integral and o.integral,
                          misfit_parse=self.misfit_parse.merge(o.misfit_parse),
                          misfit_whole=self.misfit_whole.merge(o.misfit_whole),
                          misfit_any=self.misfit_any.merge(o.misfit_any), far=self.far.merge(o.far),
                          near=self.near.merge(o.near), unseen=self.unseen.merge(o.unseen),
                          pattern=self.pattern.merge(o.pattern))
        if self.uniques is not None or o.uniques is not None:
            out.uniques = {**(o.uniques or {}), **(self.uniques or {})}
        if self.first is _UNSET:
            out.first, out.varies = o.first, o.varies
        else:
            out.first = self.first
            out.varies = self.varies or o.varies or (o.first is not _UNSET and not _same(o.first, self.first))
        if self.counts is not None and o.counts is not None:
            merged = dict(self.counts)
            for k, v in o.counts.items():
                merged[k] = merged.get(k, 0) + v
            out.counts = merged if len(merged) <= MAX_COUNTS else None
        seen = list(self.distinct_first)
        for v in o.distinct_first:
            if len(seen) < SAMPLE_ROWS and not any(_same(v, s) for s in seen):
                seen.append(v)
        out.distinct_first = seen
        return out


def batch_kind(s: pd.Series, text: bool = False) -> str | None:
    """A batch's kind as ``column_kind`` gives it, or None when the batch cannot tell: an object batch
    without values (a bool or text column whose values come later). ``text``: the whole column is
    text (``Types.text``), so a batch of it holding only booleans is text too."""
    if (s.dtype == object or text) and not s.notna().any():
        return None
    return "string" if text else column_kind(s)


def merge_parts_types(columns: list[str], other_columns: list[str], dtypes: Dtypes, other_dtypes: Dtypes,
                      kinds: dict[str, str | None], other_kinds: dict[str, str | None], types: Types) -> Dtypes:
    """What merging two parts' states (``TableState``, the inference's state) checks first: the same
    columns, dtypes the whole holds, kinds that merge (Retype, with ``types`` told, otherwise); the
    merged dtypes."""
    if other_columns != columns:
        raise DataError(f"cannot merge tables with other columns: {columns[:8]} vs {other_columns[:8]}")
    merged = dtypes.merge(other_dtypes, types)
    for c in columns:
        merge_batch_kind(c, kinds[c], other_kinds[c], types)
    return merged


def merge_batch_kind(name: str, was: str | None, kind: str | None, types: Types) -> str | None:
    """``_merge_kind`` of a column's kind so far and a batch's; Retype when they make an object column
    text whose earlier batches were added as another kind (booleans), learning that it is text."""
    if was is not None and kind is not None and was != kind and {was, kind} != {"int", "float"} \
            and name not in types.text:
        types.learn_text(name)
        raise Retype(f"column {name!r}: {was} and {kind} values make it text")
    return _merge_kind(was, kind)


def _merge_kind(a: str | None, b: str | None) -> str | None:
    """The kind of two parts of a column read together (None: no value yet). Parts of other dtypes
    were made one dtype first (``Dtypes``), so besides int and float (a float column) two kinds only
    differ in an object column, which ``column_kind`` calls text unless every value is a boolean."""
    if a is None or a == b:
        return b if a is None else a
    if b is None:
        return a
    return "float" if {a, b} == {"int", "float"} else "string"


T = TypeVar("T")


class Retype(DataError):  # noqa: N818 (a signal to start again, not an error the user sees)
    """A column turned out to hold another type than the batches already added were read as (a CSV
    value that does not fit its column's type in a later block, or files that disagree); ``Types``
    now knows it, and the scan starts again (``rescan``). A table whose types hold is read once.
    A DataError only so that one escaping a reader outside ``rescan`` is an ``Error:`` line."""


@dataclass
class Types:
    """What a scan learnt of its columns' types, kept across its restarts."""

    csv: dict[str, dict[str, Any]] = field(default_factory=dict)  # str(file) -> arrow types that read it through
    common: dict[str, Any] = field(default_factory=dict)          # column -> the whole table's pandas dtype
    text: set[str] = field(default_factory=set)                   # object columns that are text as a whole
    changes: int = 0

    def learn_common(self, column: str, dtype: Any) -> None:
        self.common[column] = dtype
        self.changes += 1

    def learn_text(self, column: str) -> None:
        self.text.add(column)
        self.changes += 1


def rescan(run: Callable[[Types], T], types: Types | None = None) -> T:
    """``run(types)``, again each time it raises ``Retype`` after learning a wider type."""
    types = types if types is not None else Types()
    while True:
        before = types.changes
        try:
            return run(types)
        except Retype as exc:
            if types.changes == before:  # nothing learnt: another round would read the same
                raise DataError(f"the column types do not settle ({exc})") from exc


@dataclass
class Dtypes:
    """The pandas dtype of each column over the batches so far, as ``pandas.concat`` of the files read
    whole gives it (the in-memory path: each file read by pandas, then concatenated): int and float
    make float; numbers and text, or booleans and text, make an object column holding both.

    Each batch's columns are converted to that dtype. Batches already added stay as they were read
    where that gives the same state (ints for a float column, booleans for an object one: see
    ``_merge_kind`` and ``row_hashes``); otherwise the scan starts again with every batch converted
    from the first (``Retype``). The common case, every batch of one dtype, only compares dtypes."""

    head: pd.DataFrame | None = None  # one row with the common dtypes so far

    def settle(self, frame: pd.DataFrame, types: Types) -> pd.DataFrame:
        """``frame`` with the columns converted to the common dtypes (Retype when earlier batches were not)."""
        if types.common:
            wanted = {c: d for c, d in types.common.items() if c in frame.columns and frame[c].dtype != d}
            if wanted:
                frame = frame.astype(wanted)
        if self.head is None:
            self.head = frame.iloc[:1]
            return frame
        if frame.dtypes.equals(self.head.dtypes):
            return frame
        common = _common_dtypes(self.head, frame.iloc[:1])
        for name in frame.columns:
            if common[name] != self.head[name].dtype and not _compatible(self.head[name].dtype, common[name]):
                types.learn_common(str(name), common[name])
                raise Retype(f"column {name!r}: {self.head[name].dtype} and {frame[name].dtype}")
        self.head = self.head.astype(common)
        convert = {c: common[c] for c in frame.columns
                   if frame[c].dtype != common[c] and not _categorical(frame[c].dtype, common[c])}
        return frame.astype(convert) if convert else frame

    def merge(self, other: Dtypes, types: Types) -> Dtypes:
        """The dtypes of both parts (Retype when either part was read otherwise than the whole holds)."""
        if self.head is None or other.head is None:
            return Dtypes(self.head if other.head is None else other.head)
        if self.head.dtypes.equals(other.head.dtypes):
            return Dtypes(self.head)
        common = _common_dtypes(self.head, other.head)
        for name in self.head.columns:
            for part in (self.head, other.head):
                if common[name] != part[name].dtype and not _compatible(part[name].dtype, common[name]):
                    types.learn_common(str(name), common[name])
                    raise Retype(f"column {name!r}: {self.head[name].dtype} and {other.head[name].dtype}")
        return Dtypes(self.head.astype(common))


def _common_dtypes(a: pd.DataFrame, b: pd.DataFrame) -> pd.Series:
    """The dtypes ``pandas.concat`` gives two frames' columns (categorical columns keep the first's
    dtype: a file read whole has one set of categories where its batches may each have their own)."""
    import pandas as pd

    common = pd.concat([a, b], ignore_index=True).dtypes
    for name in a.columns:
        if _categorical(a[name].dtype, b[name].dtype):
            common[name] = a[name].dtype
    return common


def _categorical(a: Any, b: Any) -> bool:
    import pandas as pd

    return isinstance(a, pd.CategoricalDtype) and isinstance(b, pd.CategoricalDtype)


def _compatible(was: Any, now: Any) -> bool:
    """Whether batches read as dtype ``was`` add what they would add converted to ``now``."""
    from pandas.api import types as t

    if was == now or _categorical(was, now):
        return True
    if now == "float64" and t.is_numeric_dtype(was) and not t.is_bool_dtype(was):
        return True  # an int batch counts as the floats it holds (kind, bounds, hashes as float64)
    return t.is_object_dtype(now) and (t.is_bool_dtype(was) or t.is_object_dtype(was))  # booleans hash as text


def _pick(fn: Any, a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else fn(a, b)


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


@dataclass
class Plan:
    """What to collect: the schema's constraints, the target, and the column sets to hash."""

    schema: Schema
    target: str | None = None
    hash_sets: tuple[tuple[str, ...], ...] = ()
    distinct: tuple[str, ...] = ()  # columns whose distinct values are counted (by hash)


Parted = tuple["np.ndarray", "np.ndarray", "np.ndarray"]


def part_hashes(hashes: np.ndarray, distinct_only: bool) -> Parted:
    """A batch's hashes in partition order (by their top bits), the position in the batch of each,
    and where each of the ``PARTITIONS`` parts starts and ends; with ``distinct_only`` one per value."""
    import numpy as np
    import pandas as pd

    first = None
    if distinct_only:  # a binary target then stores 2 hashes a batch, not a partition of all rows
        first = np.flatnonzero(~pd.Series(hashes, copy=False).duplicated().to_numpy())  # a hash table, not a sort
        hashes = hashes[first]
    # the top 8 bits as uint8: numpy's stable sort of bytes is a radix sort (a tenth of int64's)
    part = (hashes >> np.uint64(64 - PARTITIONS.bit_length() + 1)).astype(np.uint8)
    order = np.argsort(part, kind="stable")
    bounds = np.searchsorted(part[order], np.arange(PARTITIONS + 1))
    return hashes[order], (order if first is None else first[order]), bounds


class HashStore:
    """(hash, row) pairs of one column set in ``PARTITIONS`` parts by the hash's top bits: in memory
    while few, then appended to one temporary file per part."""

    def __init__(self, folder: Path | None, distinct_only: bool = False) -> None:
        self.folder = folder
        self.distinct_only = distinct_only  # keep one row per hash and batch: enough to count distinct values
        self.buffers: list[list[Any]] = [[] for _ in range(PARTITIONS)]
        self.buffered = 0
        self.files: list[Path | None] = [None] * PARTITIONS

    def add(self, hashes: np.ndarray, rows: np.ndarray) -> None:
        """Store a batch's row ``hashes`` with their ``rows``."""
        import numpy as np

        ordered, take, bounds = part_hashes(hashes, self.distinct_only)
        pairs = np.empty((len(ordered), 2), dtype=np.uint64)
        pairs[:, 0], pairs[:, 1] = ordered, rows[take]
        for p in range(PARTITIONS):
            if bounds[p + 1] > bounds[p]:
                self.buffers[p].append(pairs[bounds[p]:bounds[p + 1]])
        self.buffered += len(hashes)
        if self.folder is not None and self.buffered >= FLUSH_ROWS:
            self.flush()

    def flush(self) -> None:
        import numpy as np

        assert self.folder is not None
        for p, parts in enumerate(self.buffers):
            if not parts:
                continue
            path = self.files[p] or self.folder / f"{id(self)}-{p}.bin"
            self.files[p] = path
            with path.open("ab") as fh:
                np.concatenate(parts).tofile(fh)
            self.buffers[p] = []
        self.buffered = 0

    def remove_files(self) -> None:
        """Delete the partition files written so far (a scan that starts again)."""
        for path in self.files:
            if path is not None:
                path.unlink(missing_ok=True)

    def part(self, p: int) -> np.ndarray:
        """Partition ``p`` as an (n, 2) array of (hash, row), rows ascending."""
        import numpy as np

        pieces = []
        path = self.files[p]
        if path is not None:
            pieces.append(np.fromfile(path, dtype=np.uint64).reshape(-1, 2))
        pieces += self.buffers[p]
        if not pieces:
            return np.empty((0, 2), dtype=np.uint64)
        return np.concatenate(pieces)

    def in_memory(self) -> HashStore:
        """The same pairs held in memory (to send a worker's store back to the client)."""
        out = HashStore(None, self.distinct_only)
        out.buffers = [[self.part(p)] for p in range(PARTITIONS)]
        return out

    def merge(self, other: HashStore) -> HashStore:
        """Both stores' pairs (``other``'s rows come after this one's); written to this store's files."""
        for p in range(PARTITIONS):
            piece = other.part(p)
            if len(piece):
                self.buffers[p].append(piece)
        self.buffered += sum(len(b) for parts in other.buffers for b in parts)
        if self.folder is not None and self.buffered >= FLUSH_ROWS:
            self.flush()
        return self

    def __getstate__(self) -> dict[str, Any]:
        return self.in_memory().__dict__ if self.folder is not None else self.__dict__


@dataclass
class TableState:
    """Everything the checks need of a table, added up batch by batch; states of consecutive
    parts merge (rows of the second part follow the first's)."""

    columns: list[str]
    offset: int = 0                     # the first row's position in the whole table
    rows: int = 0
    cols: dict[str, ColumnState] = field(default_factory=dict)
    hashes: dict[tuple[str, ...], HashStore] = field(default_factory=dict)
    sample: list[pd.DataFrame] = field(default_factory=list)
    sample_rows: list[np.ndarray] = field(default_factory=list)
    step: int = 1
    total: int | None = None            # the whole table's rows when known in advance (Dask)
    dtypes: Dtypes = field(default_factory=Dtypes)
    types: Types = field(default_factory=Types)  # what this scan learnt of the types (shared by its restarts)

    def merge(self, other: TableState) -> TableState:
        """Both parts; Retype (with ``self.types`` told) when they were read as dtypes the whole does not hold."""
        import numpy as np

        dtypes = merge_parts_types(self.columns, other.columns, self.dtypes, other.dtypes,
                                   {c: st.kind for c, st in self.cols.items()},
                                   {c: st.kind for c, st in other.cols.items()}, self.types)
        cols = {c: self.cols[c].merge(other.cols[c]) for c in self.columns}
        hashes = {k: self.hashes[k].merge(other.hashes[k]) for k in self.hashes}
        out = TableState(self.columns, self.offset, self.rows + other.rows, cols, hashes,
                         self.sample + other.sample, self.sample_rows + other.sample_rows,
                         max(self.step, other.step), self.total, dtypes, self.types)
        out._thin(np.concatenate(out.sample_rows).size if out.sample_rows else 0)
        return out

    def discard(self) -> None:
        """Remove the hash partition files written so far (a scan that starts again)."""
        for store in self.hashes.values():
            store.remove_files()

    def _thin(self, kept: int) -> None:
        """Double the sampling step while more than SPREAD_ROWS rows are kept."""
        while kept > SPREAD_ROWS or any(len(r) and (r % self.step != 0).any() for r in self.sample_rows):
            if kept > SPREAD_ROWS:
                self.step *= 2
            parts = [_every(f, r, self.step) for f, r in zip(self.sample, self.sample_rows, strict=True)]
            self.sample = [f for f, _ in parts]
            self.sample_rows = [r for _, r in parts]
            kept = sum(len(r) for r in self.sample_rows)
        self._compact()

    def _compact(self) -> None:
        """The kept rows as one frame when the parts share their dtypes, so that the next thinning
        cuts one frame, not one per batch (filtering every part cost 25-56 ms a thinning on 10M rows)."""
        import numpy as np
        import pandas as pd

        if len(self.sample) > 1 and all(f.dtypes.equals(self.sample[0].dtypes) for f in self.sample[1:]):
            self.sample = [pd.concat(self.sample, ignore_index=True)]
            self.sample_rows = [np.concatenate(self.sample_rows)]


def _every(frame: pd.DataFrame, rows: np.ndarray, step: int) -> tuple[pd.DataFrame, np.ndarray]:
    """A sample part's rows that are multiples of ``step``: a slice when the part holds consecutive
    multiples of a step dividing it (as batches add them; a tenth of a boolean filter's time,
    which gathers every column), else a filter (parts of a merge)."""
    if len(rows) > 1:
        start, gap = int(rows[0]), int(rows[1] - rows[0])
        if gap > 0 and step % gap == 0 and start % gap == 0 and int(rows[-1]) - start == gap * (len(rows) - 1):
            first = (-start % step) // gap
            return frame.iloc[first::step // gap], rows[first::step // gap]
    keep = rows % step == 0
    return frame[keep], rows[keep]


def new_state(columns: list[str], plan: Plan, folder: Path | None, offset: int = 0,
              total: int | None = None, types: Types | None = None) -> TableState:
    state = TableState(list(columns), offset=offset, total=total, types=types if types is not None else Types())
    state.cols = {c: ColumnState() for c in columns}
    if plan.target in state.cols:
        state.cols[plan.target].counts = {}
    state.hashes = {cols: HashStore(folder) for cols in plan.hash_sets}
    state.hashes.update({(DISTINCT, c): HashStore(folder, distinct_only=True) for c in plan.distinct if c in columns})
    if total is not None:
        state.step = spread_step(total, SPREAD_ROWS)
    return state


def batch_codes(frame: pd.DataFrame, read_codes: dict[str, TextCodes] | None = None) -> dict[str, TextCodes]:
    """The ``text_codes`` of a batch's text columns: those the reader gave (``read_codes``), the others
    factorized, so that the questions on a text column are asked of each distinct value once."""
    codes = dict(read_codes or {})
    codes.update({str(c): text_codes(frame[c]) for c in frame.columns if str(c) not in codes and is_text(frame[c])})
    return codes


def add_batch(state: TableState, frame: pd.DataFrame, plan: Plan, read_codes: dict[str, TextCodes] | None = None,
              ) -> None:
    """Add one batch (a pandas frame of consecutive rows) to ``state``; Retype when a column's dtype
    turns out other than earlier batches were read as (``Dtypes``). ``read_codes``: the ``text_codes``
    the reader gave (Parquet dictionaries), used unless the batch's dtypes had to be converted.

    The rows are hashed here, not by the reading thread: decoding is the longer half of the work
    (10M rows: the checks waited 1.4-2.8 s for batches when the reader hashed too; 0.25 s now)."""
    import numpy as np

    settled = state.dtypes.settle(frame, state.types)
    if settled is not frame:
        read_codes = None
    frame = settled
    codes = batch_codes(frame, read_codes)
    start = state.offset + state.rows
    n = len(frame)
    for name in state.columns:
        st = state.cols[name]
        kind = batch_kind(frame[name], name in state.types.text)
        st.kind = merge_batch_kind(name, st.kind, kind, state.types)
        _add_column(st, frame[name], kind, start, plan.schema.columns.get(name), name == plan.target, codes.get(name))
    for cols, store in state.hashes.items():
        hashed = cols[1:] if cols[0] == DISTINCT else cols
        store.add(row_hashes(frame, hashed, codes), np.arange(start, start + n, dtype=np.uint64))
    first = -start % state.step  # the rows kept: multiples of the step
    if first < n:
        kept = np.arange(first, n, state.step)
        state.sample.append(frame.take(kept).reset_index(drop=True))  # a copy (no view of the batch)
        state.sample_rows.append(kept.astype(np.int64) + start)
        held = sum(len(r) for r in state.sample_rows)
        if held > SPREAD_ROWS:
            state._thin(held)
    state.rows += n


def _add_column(st: ColumnState, s: pd.Series, kind: str | None, start: int, spec: Any, target: bool,
                codes: TextCodes | None = None) -> None:
    """Add a batch's column; ``codes``: its ``text_codes`` (a text column), so that the questions on
    its values are asked of each distinct value once."""
    import numpy as np

    if target:
        codes = None  # the target's counts and first values are taken from the values
    values = None
    if codes is not None:
        missing = codes[0] < 0
    elif kind in ("int", "float") and isinstance(s.dtype, np.dtype) and s.dtype.kind in "fiu":
        values = s.to_numpy(dtype="float64")  # numpy numbers: missing is NaN, as isna() finds it
        missing = np.isnan(values)
    else:
        missing = s.isna().to_numpy()
    st.nulls.add(missing, start)
    present = ~missing
    if kind in ("int", "float"):
        if values is None:
            values = s.to_numpy(dtype="float64", na_value=np.nan)
        if present.any():  # fmin/fmax skip the NaN of missing values: no copy of the rest
            lo, hi = float(np.fmin.reduce(values)), float(np.fmax.reduce(values))
            st.lo, st.hi = _pick(min, st.lo, lo), _pick(max, st.hi, hi)
            if st.integral and kind == "float":  # an int batch is whole by its type
                st.integral = bool(np.all(np.mod(values[present], 1) == 0))
            if spec is not None:
                _add_range(st, spec, values, s, start, lo, hi)
    if spec is not None:
        expected = spec.dtype
        if kind != expected and {kind, expected} != {"string", "category"} and (expected, kind) != ("float", "int"):
            _add_misfits(st, s, expected, start)
        if spec.categories is not None:
            _add_categories(st, s, spec.categories, start, codes)
        if spec.pattern is not None:  # every value, as on the whole column (asked only when it is text)
            if codes is not None:
                st.pattern.add(_code_mask(codes, fullmatch_mask(codes[1].to_series(), spec.pattern)), start, s)
            else:
                st.pattern.add(fullmatch_mask(s, spec.pattern), start, s)
    if codes is not None:
        _add_first_text(st, codes[1])
        return
    # the values without the missing ones, copied only while a question still needs them
    values_left = s[present] if target or not st.varies or st.first is _UNSET else None
    if values_left is not None and len(values_left):
        if st.first is _UNSET:
            st.first = values_left.iloc[0]
        if not st.varies:
            st.varies = not bool((values_left == st.first).all())
    if target:
        assert values_left is not None
        if st.counts is not None:
            for k, v in s.value_counts(sort=False).items():
                st.counts[k] = st.counts.get(k, 0) + int(v)
            if len(st.counts) > MAX_COUNTS:
                st.counts = None
        if len(st.distinct_first) < SAMPLE_ROWS:
            for v in values_left.unique()[:SAMPLE_ROWS]:
                if len(st.distinct_first) < SAMPLE_ROWS and not any(_same(v, x) for x in st.distinct_first):
                    st.distinct_first.append(v)


def _add_range(st: ColumnState, spec: Any, values: np.ndarray, s: pd.Series, start: int, lo: float, hi: float) -> None:
    """Rows outside the hard bounds (``far``) and outside the soft ones only (``near``); a batch whose
    least and greatest values lie inside both is not looked at row by row."""
    soft = (_first(spec.warn_min, spec.min), _first(spec.warn_max, spec.max))
    if _within(lo, hi, spec.min, spec.max) and _within(lo, hi, *soft):
        return
    far = outside(values, spec.min, spec.max)
    st.far.add(far, start, s)
    st.near.add(outside(values, *soft) & ~far, start, s)


def _within(lo: float, hi: float, low: Any, high: Any) -> bool:
    return (low is None or lo >= low) and (high is None or hi <= high)


def _add_misfits(st: ColumnState, s: pd.Series, expected: str, start: int) -> None:
    """Values of another kind than the schema's (a number column's text, an int column's fractions)."""
    import pandas as pd

    if expected in ("int", "float"):
        numbers = pd.to_numeric(s, errors="coerce")
        st.misfit_parse.add((s.notna() & numbers.isna()).to_numpy(dtype=bool), start, s)
        st.misfit_whole.add((numbers.notna() & (numbers % 1 != 0)).to_numpy(dtype=bool), start, s)
    else:
        st.misfit_any.add(not_of_kind(s, expected), start, s)


def _add_categories(st: ColumnState, s: pd.Series, allowed: list[str], start: int, codes: TextCodes | None) -> None:
    """The distinct values seen, and the rows holding one outside ``allowed``."""
    if st.uniques is None:
        st.uniques = {}
    for u in (codes[1] if codes is not None else _uniques(s)):
        st.uniques.setdefault(str(u), u)
    if codes is not None:
        st.unseen.add(_code_mask(codes, _not_in(codes[1], allowed)), start, s)
    else:
        st.unseen.add((s.notna() & ~s.astype("str").isin(allowed)).to_numpy(dtype=bool), start, s)


def _not_in(values: pd.Index, allowed: list[str]) -> Any:
    """Which of a batch's distinct values are not among ``allowed`` (as text); a few hundred by a Python
    set (a tenth of ``Index.isin``'s time at that size), more by pandas."""
    if len(values) > 500:
        return ~values.astype("str").isin(allowed)
    permitted = set(allowed)
    return [str(v) not in permitted for v in values]


def _code_mask(codes: TextCodes, failing: Any) -> np.ndarray:
    """The rows whose value is one of the distinct values ``failing`` marks (missing rows never)."""
    import numpy as np

    bad = np.flatnonzero(np.asarray(failing, dtype=bool))
    if not len(bad):
        return np.zeros(len(codes[0]), dtype=bool)
    return np.isin(codes[0], bad)


def _add_first_text(st: ColumnState, values: pd.Index) -> None:
    """Whether the column varies, from a text batch's distinct values: ``first`` is only the value the
    others are compared with (here any of the batch's values, not always its first row's)."""
    if not len(values) or st.varies:
        return
    if st.first is _UNSET:
        st.first = values[0]
    st.varies = len(values) > 1 or not _same(values[0], st.first)


def _uniques(s: pd.Series) -> list[Any]:
    import pandas as pd

    if isinstance(s.dtype, pd.CategoricalDtype):
        codes = s.cat.codes.unique()
        return list(s.cat.categories[codes[codes >= 0]])
    return [u for u in s.unique() if not pd.isna(u)]


def _first(*values: Any) -> Any:
    return next((v for v in values if v is not None), None)


# ---- reading ----------------------------------------------------------------------------------


def stream_files(files: Sequence[Path | RemoteFile], types: Types | None = None, with_codes: bool = False,
                 ) -> Iterator[tuple[Path | RemoteFile, Iterator[Any]]]:
    """Each file with its batches as pandas frames, read a batch or two ahead by a thread (``prefetched``),
    each file typed on its own as pandas types it (``_csv_batches``; a folder's files may disagree:
    ``Dtypes`` makes them one table as ``pandas.concat`` does); a reading error names the file and the
    row group (Parquet) or the rows read so far (CSV). May raise ``Retype`` part-way (with ``types``
    told, by the reading thread before it hands the exception over): see ``rescan``. ``with_codes``:
    the items are ``(frame, codes)``, ``codes`` the ``text_codes`` of the Parquet text columns (read
    as dictionaries: ``_parquet_batches``)."""
    types = types if types is not None else Types()
    for file in files:
        kind = TABLE_SUFFIXES.get(file.suffix.lower())
        if kind is None:
            raise DataError(f"{file}: unsupported file type {file.suffix!r}; use .csv or .parquet")
        if kind == "parquet":
            pairs = _parquet_batches(file, dictionaries=with_codes)
        else:
            pairs = ((frame, {}) for frame in _csv_batches(file, types))
        yield file, prefetched(pairs if with_codes else (frame for frame, _ in pairs))


def file_columns(file: Path | RemoteFile) -> list[str]:
    """The column names of a file (Parquet: from its footer, without the index pandas stored as
    columns, which reading restores as the index; CSV: from its header)."""
    import pyarrow as pa

    if TABLE_SUFFIXES.get(file.suffix.lower()) == "parquet":
        schema = _open_parquet(file).schema_arrow
        index = pandas_index_columns(schema)
        return [str(n) for n in schema.names if n not in index]
    _not_empty(file)
    try:
        return [str(n) for n in _open_csv(file, None).schema.names]
    except UnicodeDecodeError as exc:
        raise DataError(f"{file} is not UTF-8 text ({exc.reason}); save it as UTF-8") from exc
    except (pa.ArrowInvalid, OSError) as exc:
        raise DataError(_csv_problem(file, exc, 0)) from exc


def file_rows(file: Path | RemoteFile) -> int:
    """Rows of a file: a Parquet footer, or a CSV read through (its first column as text)."""
    import pyarrow as pa

    if TABLE_SUFFIXES.get(file.suffix.lower()) == "parquet":
        return int(_open_parquet(file).metadata.num_rows)
    first = file_columns(file)[0]
    read = 0
    try:
        for batch in _open_csv(file, {first: pa.string()}, [first]):
            read += batch.num_rows
    except (pa.ArrowException, OSError) as exc:
        if short_row(exc) and mark(key_of(file)):
            return file_rows(file)  # read again with the short rows padded
        raise DataError(_csv_problem(file, exc, read)) from exc
    return read


def _open_parquet(file: Path | RemoteFile, dictionaries: list[str] | None = None, metadata: Any = None) -> Any:
    """The file's reader (``dictionaries``: columns read as dictionaries; ``metadata``: the footer, read before)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    _not_empty(file)
    try:
        source = file.open_random() if isinstance(file, RemoteFile) else file
        return pq.ParquetFile(source, pre_buffer=False, metadata=metadata, read_dictionary=dictionaries)
    except (pa.ArrowInvalid, OSError) as exc:
        raise DataError(f"cannot read {file} as parquet (truncated or not Parquet?): {_first_line(exc)}") from exc


def _parquet_batches(file: Path | RemoteFile, dictionaries: bool = False,
                     ) -> Iterator[tuple[pd.DataFrame, dict[str, TextCodes]]]:
    """Each batch as a pandas frame, with the ``text_codes`` of its text columns when
    ``dictionaries``: those are then read as dictionaries (Parquet stores most text that way) and
    decoded after, so the distinct values come from the reader (decoding text straight to strings
    cost more CPU than the rest of the read: 10M rows, 5 text columns: 2.3 against 2.9 s)."""
    import pyarrow as pa

    reader = _open_parquet(file)
    schema = reader.schema_arrow  # the types the batches are given as
    text = [f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]
    if dictionaries and text:
        reader = _open_parquet(file, text, reader.metadata)
    else:
        text = []
    meta = reader.metadata
    if meta.num_rows == 0:
        raise DataError(f"{file} has a header but no rows")
    start = 0
    for group in range(reader.num_row_groups):
        rows = meta.row_group(group).num_rows
        try:
            # one decoding thread: the read-ahead thread is already the second core's work, and Arrow's
            # own pool beside it made the 10M-row scan slower (3.4 -> 2.8 s wall, 5.1 -> 4.1 s CPU)
            for batch in reader.iter_batches(batch_size=BATCH_ROWS, row_groups=[group], use_threads=False):
                codes: dict[str, TextCodes] = {}
                if text:
                    batch, codes = _decoded(batch, schema, text)
                yield batch.to_pandas(split_blocks=True, use_threads=False), codes  # one block per column: no 2-D copy
        except (pa.ArrowException, OSError) as exc:
            raise DataError(f"cannot read {file}: row group {group} (rows {start}-{start + rows - 1}) is "
                            f"damaged: {_first_line(exc)}") from exc
        start += rows


def _decoded(batch: pa.RecordBatch, schema: pa.Schema, text: list[str]) -> tuple[pa.RecordBatch, dict[str, TextCodes]]:
    """The batch with its ``text`` columns (read as dictionaries) decoded to ``schema``'s types, and their
    ``text_codes``: the distinct values the batch uses (in the dictionary's order, not the order of
    first appearance ``pandas.factorize`` gives: no question asked of them depends on the order)."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    columns, codes = list(batch.columns), {}
    for name in text:
        i = schema.get_field_index(name)
        column = columns[i]
        if not pa.types.is_dictionary(column.type):
            continue
        indices = column.indices
        raw = (indices.fill_null(-1) if indices.null_count else indices).to_numpy(zero_copy_only=False)
        used = np.flatnonzero(np.bincount(raw[raw >= 0] if indices.null_count else raw,
                                          minlength=len(column.dictionary)))
        dictionary = column.dictionary
        if len(used) < len(dictionary):  # numbered again over the values the batch uses
            renumber = np.full(len(dictionary) + 1, -1, dtype=np.int64)  # the last place: -1 stays -1
            renumber[used] = np.arange(len(used))
            raw, dictionary = renumber[raw], dictionary.take(pa.array(used, type=pa.int64()))
        values = pd.Index(dictionary.to_pandas())
        if values.is_unique:  # (a dictionary holding a value twice: factorized from the text instead)
            codes[name] = (raw, values)
        columns[i] = column.cast(schema.field(i).type)
    return pa.RecordBatch.from_arrays(columns, schema=schema), codes


def _open_csv(file: Path | RemoteFile, types: dict[str, Any] | None, columns: list[str] | None = None) -> Any:
    import pyarrow.csv as pacsv

    sep = "\t" if file.suffix.lower() == ".tsv" else _sniff_separator(file)
    if is_ragged(key_of(file)):  # rows with fewer fields than the header: padded as pandas reads them
        source: Any = padded(file, sep)
    else:
        source = file.open_stream() if isinstance(file, RemoteFile) else file
    return pacsv.open_csv(source, read_options=pacsv.ReadOptions(block_size=CSV_BLOCK),
                          parse_options=pacsv.ParseOptions(delimiter=sep),
                          convert_options=convert_options(types, columns))


def _csv_batches(file: Path | RemoteFile, types: Types) -> Iterator[pd.DataFrame]:
    """A CSV file's blocks, its columns typed as pandas types them reading the whole file.

    The file's first block types each column (dates stay text, as pandas reads them; a column
    without a value in that block is typed from the whole file, ``_blank_types``). A value in a
    later block that does not fit widens its column as pandas would have typed it from the start:
    a number that is not whole makes an int column float (the reader is opened again with that
    type and the blocks already given are read past, so no row comes twice), any other value makes
    a number or boolean column text; then the batches already given hold the wrong values (numbers,
    not the text pandas keeps), so ``Retype`` is raised with ``types`` told the new types, and the
    scan starts again (``rescan``). A file that fits its first block is read once."""
    import pyarrow as pa

    _not_empty(file)
    key = str(file)
    read = 0
    sizes: list[int] = []  # the rows of each batch given: the same blocks are read past after a widening
    sep = "\t" if file.suffix.lower() == ".tsv" else _sniff_separator(file)
    try:
        current = types.csv[key] if key in types.csv else _csv_types(file, _open_csv(file, None).schema)
        # opened again with the types given: a reader left to infer them reads its later blocks slower
        # (600k rows x 20: 1.3-1.6 s of CPU against 1.0 s)
        reader = _open_csv(file, current)
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            except pa.ArrowInvalid as exc:
                wider = _widened(exc, reader.schema, current)
                if wider is None:
                    raise
                text = any(not pa.types.is_floating(t) for t in wider.values())
                if text and sizes:  # every column the failing block widens, in one restart
                    wider = {**_block_widenings(file, current, len(sizes)), **wider}
                current = types.csv[key] = {**current, **wider}
                if text and sizes:
                    types.changes += 1
                    raise Retype(f"{file}: {', '.join(wider)} read as text from data row {read + 1:,} on") from exc
                reader = _open_csv(file, current)
                if not _read_past(reader, sizes):
                    types.changes += 1
                    raise Retype(f"{file}: other blocks after widening {', '.join(wider)}") from exc
                continue
            frame = batch.to_pandas(split_blocks=True)
            if not read:
                _check_delimiter(file, frame, sep)  # the messages of the in-memory reader
            yield frame
            read += batch.num_rows
            sizes.append(batch.num_rows)
    except UnicodeDecodeError as exc:
        raise DataError(f"{file} is not UTF-8 text ({exc.reason}); save it as UTF-8") from exc
    except (pa.ArrowException, OSError) as exc:
        if short_row(exc) and mark(key_of(file)):  # pandas reads the missing fields as missing
            types.changes += 1
            raise Retype(f"{file}: rows with fewer fields than the header, read again padded") from exc
        raise DataError(_csv_problem(file, exc, read)) from exc
    if read == 0:
        raise DataError(f"{file} has a header but no rows")


def _read_past(reader: Any, sizes: list[int]) -> bool:
    """Read past batches of these sizes; False when the reader's batches are others."""
    for size in sizes:
        try:
            if reader.read_next_batch().num_rows != size:
                return False
        except StopIteration:
            return False
    return True


def _block_widenings(file: Path | RemoteFile, current: dict[str, Any], block: int) -> dict[str, Any]:
    """The widenings block ``block`` (0-based) of the file asks for, every column at once: its values
    read as text (the blocks before it read past) and tried against each column's type."""
    import pyarrow as pa
    import pyarrow.compute as pc

    names = [n for n, t in current.items() if not (pa.types.is_string(t) or pa.types.is_large_string(t))]
    if not names:
        return {}
    reader = _open_csv(file, {n: pa.string() for n in names}, names)
    if not all(_skip(reader) for _ in range(block)):
        return {}
    try:
        batch = reader.read_next_batch()
    except StopIteration:
        return {}
    out: dict[str, Any] = {}
    bools = pa.array(_CSV_BOOLS)
    for name in names:
        values, was = pc.drop_null(batch.column(name)), current[name]
        if pa.types.is_boolean(was):
            if not pc.all(pc.is_in(values, value_set=bools)).as_py():
                out[name] = pa.string()
            continue
        for wider in ((was, pa.float64()) if pa.types.is_integer(was) else (was,)):
            try:
                pc.cast(values, wider)
                if wider != was:
                    out[name] = wider
                break
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                continue
        else:
            out[name] = pa.string()
    return out


def _skip(reader: Any) -> bool:
    try:
        reader.read_next_batch()
        return True
    except StopIteration:
        return False


_CONVERSION = re.compile(r"In CSV column #(\d+): CSV conversion error to (\w+): invalid value '(.*)'", re.DOTALL)


def _widened(exc: BaseException, schema: pa.Schema, current: dict[str, Any]) -> dict[str, Any] | None:
    """The wider type pyarrow's conversion error asks for (None: another error): an int column given a
    number becomes float, a number or boolean column given anything else text, as pandas types a
    column from all its values."""
    import pyarrow as pa
    import pyarrow.compute as pc

    found = _CONVERSION.search(str(exc))
    if found is None or int(found.group(1)) >= len(schema):
        return None
    name, value = schema.names[int(found.group(1))], found.group(3)
    was = current.get(name, schema.field(name).type)
    if pa.types.is_integer(was):
        try:
            pc.cast(pa.array([value]), pa.float64())
            return {name: pa.float64()}
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
    if pa.types.is_string(was) or pa.types.is_large_string(was):
        return None
    return {name: pa.string()}


def _csv_problem(file: Path | RemoteFile, exc: BaseException, read: int) -> str:
    """One line on a CSV that pyarrow cannot read: the file, where, and pyarrow's reason."""
    text = _first_line(exc)
    if "not valid utf8" in text.lower() or "invalid utf8" in text.lower():
        return f"{file} is not UTF-8 text ({text}); save it as UTF-8"
    split = re.search(r"Expected (\d+) columns, got (\d+)", text)
    if split and read == 0 and split.group(2) == "1":
        return (f"{file}: rows do not split into the header's {split.group(1)} columns with the header's "
                f"delimiter; header and rows use different delimiters")
    return f"cannot read {file} after its first {read:,} rows (data row {read + 1:,} on): {text}"


def _csv_types(file: Path | RemoteFile, schema: pa.Schema) -> dict[str, Any]:
    import pyarrow as pa
    import pyarrow.types as t

    binary = [f.name for f in schema if t.is_binary(f.type) or t.is_large_binary(f.type)]
    if binary:  # pyarrow's type for text that does not decode
        raise DataError(f"{file} is not UTF-8 text (column {binary[0]!r}); save it as UTF-8")
    types = {f.name: (pa.string() if t.is_temporal(f.type) else f.type) for f in schema}
    blank = [f.name for f in schema if t.is_null(f.type)]
    if blank:
        types.update(_blank_types(file, blank))
    return types


_CSV_BOOLS = CSV_TRUE + CSV_FALSE  # (pyarrow's defaults add 1 and 0, which pandas reads as numbers)


def _blank_types(file: Path | RemoteFile, names: list[str]) -> dict[str, Any]:
    """The types of columns without a value in the first block, as pandas types them on the whole file:
    float when every value is a number or there is none, bool when every value is True or False, else
    text. Those columns are read through once more for it (text only, the other columns skipped)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    seen: dict[str, str] = {}
    bools = pa.array(_CSV_BOOLS)
    for batch in _open_csv(file, {n: pa.string() for n in names}, names):
        for name in names:
            values = pc.drop_null(batch.column(name))
            if not len(values) or seen.get(name) == "text":
                continue
            if pc.all(pc.is_in(values, value_set=bools)).as_py():
                kind = "bool"
            else:
                try:
                    pc.cast(values, pa.float64())
                    kind = "number"
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                    kind = "text"
            seen[name] = kind if seen.get(name, kind) == kind else "text"
    types = {"bool": pa.bool_(), "text": pa.string()}
    return {n: types.get(seen.get(n, "number"), pa.float64()) for n in names}


def _not_empty(file: Path | RemoteFile) -> None:
    if (file.size if isinstance(file, RemoteFile) else file.stat().st_size) == 0:
        raise DataError(f"{file} is empty (0 bytes)")


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


# ---- scanning ----------------------------------------------------------------------------------


def scan_files(files: Sequence[Path | RemoteFile], plan: Plan, folder: Path | None,
               types: Types | None = None) -> TableState:
    """The state of the files' rows, read batch by batch (from the first row again when a column
    turns out to hold another type than its first batches were read as: ``rescan``)."""
    return rescan(lambda t: _scan_once(files, plan, folder, t), types)


def _scan_once(files: Sequence[Path | RemoteFile], plan: Plan, folder: Path | None, types: Types,
               offset: int = 0, total: int | None = None) -> TableState:
    state: TableState | None = None
    try:
        for file, batches in stream_files(files, types, with_codes=True):
            for frame, codes in batches:
                if state is None:
                    state = new_state([str(c) for c in frame.columns], plan, folder, offset, total, types)
                elif [str(c) for c in frame.columns] != state.columns:
                    raise DataError(f"{file} has other columns than {files[0]}: {list(frame.columns)[:8]}")
                add_batch(state, frame, plan, codes)
    except Retype:
        if state is not None:
            state.discard()
        raise
    assert state is not None  # every file has rows (checked while reading)
    return state


def scan_frame(frame: pd.DataFrame, plan: Plan, folder: Path | None, batch_rows: int = BATCH_ROWS) -> TableState:
    """The state of a table held in memory, in slices of ``batch_rows`` rows."""
    state = new_state([str(c) for c in frame.columns], plan, folder)
    for start in range(0, len(frame), batch_rows):
        add_batch(state, frame.iloc[start:start + batch_rows], plan)
    return state


def scan_file_task(path: str, plan: Plan, offset: int, total: int, learnt: Types | None = None) -> TableState:
    """One file's state on a Dask worker (rows numbered from ``offset`` of ``total``; the columns' types
    as the client ``learnt`` them from all files); hashes in memory."""
    files = table_files(as_ref(path))
    return rescan(lambda t: _scan_once(files, plan, None, t, offset, total), _worker_types(learnt))


def _worker_types(learnt: Types | None) -> Types:
    """What a Dask task starts from: the dtypes and text columns learnt from all files (not the CSV
    types of one file: each task learns its own file's)."""
    return Types(common=dict(learnt.common), text=set(learnt.text)) if learnt is not None else Types()


def scan_on_dask(scheduler: Any, files: Sequence[Path | RemoteFile], plan: Plan) -> TableState:
    """Each file's state computed on the Dask cluster at ``scheduler`` (an address or a Client), merged
    here; when files disagree on a column's dtype in a way their batches cannot merge, computed again
    with that column converted (``Dtypes``)."""
    names = [str(f) for f in files]
    n = len(names)
    with dask_client(scheduler) as client:
        counts = client.gather(client.map(_count_task, names, pure=False))
        offsets = [sum(counts[:i]) for i in range(n)]
        total = sum(counts)

        def run(types: Types) -> TableState:
            futures = client.map(scan_file_task, names, [plan] * n, offsets, [total] * n, [types] * n, pure=False)
            parts = client.gather(futures)
            state = parts[0]
            state.types = types
            for part in parts[1:]:
                state = state.merge(part)
            return state

        return rescan(run)


def _count_task(path: str) -> int:
    return sum(file_rows(f) for f in table_files(as_ref(path)))


# ---- the view -----------------------------------------------------------------------------------


class StreamView(TableView):
    """A TableView answered from a TableState: no frame is held (``frame`` is None)."""

    def __init__(self, state: TableState, label: str, schema: Schema, target: str | None = None,
                 keys: list[str] | None = None, task: str | None = None, *, folder: Path | None = None,
                 source: Any = None) -> None:
        super().__init__(None, label, schema, target, list(keys or []), task)  # type: ignore[arg-type]
        self.state = state
        self.folder = folder
        self.source = source  # the files (or frame) read, to show a few values again

    @property
    def rows(self) -> int:
        return self.state.rows

    @property
    def columns(self) -> list[str]:
        return list(self.state.columns)

    def kind(self, column: str) -> str:
        return self.state.cols[column].kind or "string"

    def nulls(self, column: str) -> int:
        return self.state.cols[column].nulls.n

    def kind_ok(self, column: str) -> bool:
        expected, actual = self.schema.columns[column].dtype, self.kind(column)
        if expected == actual or (expected == "float" and actual == "int"):
            return True
        if expected == "int" and actual == "float":
            return self.state.cols[column].integral
        return {expected, actual} == {"string", "category"}

    def min_max(self, column: str) -> tuple[float | None, float | None]:
        st = self.state.cols[column]
        return st.lo, st.hi

    def uniques(self, column: str) -> list[Any]:
        return list((self.state.cols[column].uniques or {}).values())

    def row_hashes(self, columns: tuple[str, ...]) -> np.ndarray:
        raise NotImplementedError("a streamed table keeps its row hashes in partitions")

    def samples(self, mask: Any, column: str | None = None) -> dict[str, Any]:
        raise NotImplementedError("a streamed table keeps the first failing rows of each test")

    def _target_values(self) -> pd.Series:
        import pandas as pd

        assert self.target is not None
        counts = self.state.cols[self.target].counts
        if counts is None:  # more distinct values than classes ever have
            text = self.kind(self.target) not in ("int", "float", "bool")
            return pd.Series(["a", "b", "c"] if text else [0.5, 1.5, 2.5])
        values = pd.Series(list(counts.keys()))
        return values.astype("float64") if self.kind(self.target) == "float" and len(values) else values

    def _hits(self, column: str, hits: Hits, values: bool = True) -> tuple[int, dict[str, Any]]:
        return hits.n, hits.samples(values, self.kind(column) == "float")

    def null_samples(self, column: str) -> dict[str, Any]:
        return self.state.cols[column].nulls.samples(False, False)

    def misfits(self, column: str, expected: str) -> tuple[int, dict[str, Any]]:
        st = self.state.cols[column]
        if expected in ("int", "float"):
            hits = st.misfit_parse if st.misfit_parse.n or expected == "float" else st.misfit_whole
            return self._hits(column, hits)
        return self._hits(column, st.misfit_any)

    def range_misses(self, column: str, hard: list[Any], soft: list[Any]) -> tuple[tuple[int, dict[str, Any]],
                                                                                   tuple[int, dict[str, Any]]]:
        st = self.state.cols[column]
        return self._hits(column, st.far), self._hits(column, st.near)

    def unseen(self, column: str, allowed: list[str]) -> tuple[int, dict[str, Any]]:
        return self._hits(column, self.state.cols[column].unseen)

    def pattern_misses(self, column: str, pattern: str) -> tuple[int, dict[str, Any]]:
        return self._hits(column, self.state.cols[column].pattern)

    def _store(self, columns: tuple[str, ...]) -> HashStore:
        if columns not in self.state.hashes:
            raise KeyError(f"{self.label}: rows were not hashed on {columns}")
        return self.state.hashes[columns]

    def duplicates(self, columns: tuple[str, ...]) -> tuple[int, dict[str, Any]]:
        n, rows = _duplicates(self._store(columns))
        return n, {"rows": rows}

    def key_duplicates(self, keys: list[str]) -> tuple[int, dict[str, Any]]:
        n, rows = _duplicates(self._store(tuple(keys)))
        if not n:
            return 0, {"rows": []}
        out: dict[str, Any] = {"rows": rows}
        if len(keys) == 1:
            out["values"] = _values_at(self, keys[0], rows)
        return n, out

    def repeated(self, columns: tuple[str, ...]) -> int:
        import numpy as np

        total = 0
        store = self._store(columns)
        for p in range(PARTITIONS):
            h = store.part(p)[:, 0]
            if len(h) < 2 or not _repeats(h):
                continue
            h = np.sort(h)
            same = h[1:] == h[:-1]
            starts = same & ~np.concatenate([[False], same[:-1]])
            total += int(same.sum() + starts.sum())
        return total

    def leaked_from(self, train: TableView, columns: tuple[str, ...]) -> tuple[int, dict[str, Any], list[int]]:
        import numpy as np

        if not isinstance(train, StreamView):
            raise TypeError("a streamed table is compared with a streamed training table")
        mine, theirs = self._store(columns), train._store(columns)

        def leaked(p: int) -> tuple[int, list[tuple[int, int]]]:
            test, ref = mine.part(p), theirs.part(p)
            if not len(test) or not len(ref):
                return 0, []
            hit = _member(test[:, 0], ref[:, 0])  # a hash table: a tenth of sorting both sides
            if not hit.any():
                return 0, []
            order = np.lexsort((ref[:, 1], ref[:, 0]))  # each hash's first training row comes first
            ref_h, ref_r = ref[order, 0], ref[order, 1]
            pos = np.searchsorted(ref_h, test[hit, 0])
            return int(hit.sum()), list(zip(test[hit, 1][:SAMPLE_ROWS].tolist(),
                                            ref_r[pos][:SAMPLE_ROWS].tolist(), strict=True))

        parts = _each_part(leaked)
        found = sorted(pair for _, pairs in parts for pair in pairs)
        rows = [int(r) for r, _ in found[:SAMPLE_ROWS]]
        return sum(n for n, _ in parts), {"rows": rows}, [int(t) for _, t in found[:SAMPLE_ROWS]]

    def single_valued(self, column: str) -> bool:
        return not self.state.cols[column].varies

    def distinct_values(self, column: str) -> tuple[int, list[Any]]:
        import pandas as pd

        st = self.state.cols[column]
        store = self._store((DISTINCT, column))
        n = sum(len(pd.unique(store.part(p)[:, 0])) for p in range(PARTITIONS)) - (1 if st.nulls.n else 0)
        floats = self.kind(column) == "float"
        shown = [jsonable(v) for v in st.distinct_first]
        return n, [float(v) if floats and isinstance(v, int) and not isinstance(v, bool) else v for v in shown]

    def value_counts(self, column: str) -> pd.Series:
        import pandas as pd

        counts = self.state.cols[column].counts
        if counts is None:
            raise DataError(f"{self.label}: column {column!r} has more than {MAX_COUNTS:,} distinct values; "
                            "it cannot be counted as classes")
        series = pd.Series(list(counts.values()), index=list(counts.keys()), dtype="int64")
        if self.kind(column) == "float":
            series.index = series.index.astype("float64")
        return ordered_counts(series)

    def spread(self, limit: int) -> pd.DataFrame:
        import pandas as pd

        st = self.state
        frame = pd.concat(st.sample, ignore_index=True) if st.sample else pd.DataFrame(columns=st.columns)
        rows = pd.Index(_concat(st.sample_rows))
        every = spread_step(self.rows, limit)
        if every > st.step:
            frame = frame[(rows % every == 0)].reset_index(drop=True)
        for col in st.columns:  # the dtypes the whole table has in memory
            kind, s = self.kind(col), frame[col]
            if kind == "float" and s.dtype != "float64":
                frame[col] = s.astype("float64")
            elif kind == "bool" and self.nulls(col) and s.dtype == bool:
                frame[col] = s.astype(object)
        return frame

    def close(self) -> None:
        """Remove the hash partition files."""
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)


def _concat(parts: list[np.ndarray]) -> np.ndarray:
    import numpy as np

    return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)


def _duplicates(store: HashStore) -> tuple[int, list[int]]:
    """Rows whose hash repeats an earlier row's: how many, and the first ``SAMPLE_ROWS``."""
    import numpy as np

    def repeated(p: int) -> tuple[int, list[int]]:
        part = store.part(p)
        if len(part) < 2 or not _repeats(part[:, 0]):
            return 0, []
        order = np.lexsort((part[:, 1], part[:, 0]))
        h, r = part[order, 0], part[order, 1]
        dup = np.concatenate([[False], h[1:] == h[:-1]])
        return int(dup.sum()), np.sort(r[dup])[:SAMPLE_ROWS].tolist()

    parts = _each_part(repeated)
    first = sorted(row for _, rows in parts for row in rows)[:SAMPLE_ROWS]
    return sum(n for n, _ in parts), [int(x) for x in first]


def _each_part(work: Callable[[int], T]) -> list[T]:
    """``work`` on each hash partition, two at a time: the hash tables (pandas' unique and isin)
    and numpy's sorts release the interpreter lock, so two threads take 0.55-0.7x the time of one."""
    with ThreadPoolExecutor(2, thread_name_prefix="mlgate-parts") as pool:
        return list(pool.map(work, range(PARTITIONS)))


def _repeats(hashes: np.ndarray) -> bool:
    """Whether a hash occurs twice: a hash table (pandas.unique), a third of the time of sorting
    40,000 hashes; a part without repeats (the usual case) is then not sorted at all."""
    import pandas as pd

    return len(pd.unique(hashes)) < len(hashes)


def _member(hashes: np.ndarray, among: np.ndarray) -> np.ndarray:
    """Which of ``hashes`` occur in ``among`` (a hash table of ``among``)."""
    import pandas as pd

    return pd.Series(hashes, copy=False).isin(among).to_numpy()


def _values_at(view: StreamView, column: str, rows: list[int]) -> list[Any]:
    """A column's values at a few rows, read again (only when a check shows them)."""
    import pandas as pd

    source = view.source
    if isinstance(source, pd.DataFrame):
        batches: Iterator[pd.DataFrame] = iter([source])
    else:
        batches = (frame for _file, part in stream_files(source, view.state.types) for frame in part)
    wanted, out, start = sorted(rows), {}, 0
    for frame in batches:
        end = start + len(frame)
        for r in wanted:
            if start <= r < end:
                out[r] = jsonable(frame[column].iloc[r - start])
        start = end
        if start > wanted[-1]:
            break
    floats = view.kind(column) == "float"
    return [float(v) if floats and isinstance(v, int) and not isinstance(v, bool) else v
            for v in (out.get(r) for r in rows)]


def new_folder() -> Path:
    """A temporary folder for hash partitions."""
    return Path(tempfile.mkdtemp(prefix="mlgate-validate-"))
