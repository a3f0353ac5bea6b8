"""Tables read in batches (pyarrow.parquet, pyarrow.csv), the reference spec, and the current data's checks.

Memory stays flat as the data grows: a Parquet or CSV file (or a folder of them) is read one
record batch at a time, each batch profiled and dropped. The reference's bin edges come from a
systematic sample spread over the whole reference (every k-th row of every batch), so a file
sorted by time still gives edges from all of it.
"""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgate.data.csvtext import convert_options
from mlgate.data.ragged import is_ragged, key_of, mark, padded, short_row
from mlgate.errors import DataError
from mlgate.locations.objectstore import RemoteFile
from mlgate.locations.refs import TABLE_SUFFIXES, as_ref, pandas_index_columns, table_files
from mlgate.monitor.profile import (
    MAX_LEVELS,
    PERCENTILES,
    ColumnSpec,
    ProfileSpec,
    Role,
    TableProfile,
    empty_profile,
    numeric_values,
    profile_table,
)

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from mlgate.locations.refs import DataRef  # noqa: F401  (in annotations)

BATCH_ROWS = 131_072
SPEC_ROWS = 200_000  # sample size for the reference's percentiles and levels
DECILES = 10


def open_dataset(path: DataRef) -> Any:
    """The CSV/Parquet file or folder of them as a batch source; DataError naming the file otherwise.

    ``path`` may be an object URI (``s3://b/prefix``): objects are streamed, not downloaded first."""
    files = table_files(path)
    kinds = {TABLE_SUFFIXES.get(f.suffix.lower()) for f in files}
    if None in kinds or len(kinds) != 1:
        raise DataError(f"{path}: monitor reads .csv or .parquet files, one kind per folder "
                        f"(found {', '.join(sorted({f.suffix for f in files}))})")
    for file in files:
        if (file.size if isinstance(file, RemoteFile) else file.stat().st_size) == 0:
            raise DataError(f"{file} is empty (0 bytes)")
    return ParquetFiles(files) if kinds == {"parquet"} else CsvFiles(files)


class CsvFiles:
    """CSV files streamed as record batches with pyarrow.csv; the first file's first block decides
    the column types, which later files are read with (as a pyarrow dataset would, but without
    importing pandas). A file with rows shorter than the header is read from a padded copy
    (``data.ragged``: the missing trailing fields missing, as pandas reads them). Dates and times
    stay text, as pandas reads them (the training data a model's reference profile comes from);
    ``dates`` names those columns, which a reference made from this data leaves out."""

    def __init__(self, files: Sequence[Path | RemoteFile]) -> None:
        import pyarrow as pa

        self.files = list(files)
        inferred = self._open(self.files[0]).schema
        self.dates = [f.name for f in inferred if pa.types.is_temporal(f.type)]
        self.schema = pa.schema([f.with_type(pa.string()) if f.name in self.dates else f for f in inferred])

    def _open(self, file: Path | RemoteFile, columns: Sequence[str] | None = None,
              types: pa.Schema | None = None) -> Any:
        import pyarrow as pa
        import pyarrow.csv as pacsv

        convert = convert_options(types, columns)
        try:
            if is_ragged(key_of(file)):
                source: Any = padded(file, ",")
            else:
                source = file.open_stream() if isinstance(file, RemoteFile) else file
            return pacsv.open_csv(source, convert_options=convert)
        except (pa.ArrowInvalid, OSError) as exc:
            if short_row(exc) and mark(key_of(file)):  # a short row in the first block
                return self._open(file, columns, types)
            raise DataError(f"cannot read {file} as csv: {str(exc).splitlines()[0]}") from exc

    def count_rows(self) -> int:
        return sum(b.num_rows for b in self.to_batches())

    def to_batches(self, columns: Sequence[str] | None = None,
                   batch_size: int = BATCH_ROWS) -> Iterator[pa.RecordBatch]:
        """Batches of about a block (1 MB of text) each; ``batch_size`` is not used."""
        for file in self.files:
            with _naming(file, "csv"):
                yield from self._batches(file, columns, self.schema)

    def _batches(self, file: Path | RemoteFile, columns: Sequence[str] | None,
                 types: pa.Schema | None) -> Iterator[pa.RecordBatch]:
        """One file's batches; at a short row past the first block, the rest from the padded copy
        (read with the types the first block gave, past the rows already given)."""
        import pyarrow as pa

        given = 0
        reader = self._open(file, columns, types)
        try:
            for batch in reader:
                given += batch.num_rows
                yield batch
            return
        except pa.ArrowInvalid as exc:
            if not (short_row(exc) and mark(key_of(file))):
                raise
        for batch in self._open(file, columns, reader.schema):
            if given >= batch.num_rows:
                given -= batch.num_rows
                continue
            yield batch.slice(given)
            given = 0


class ParquetFiles:
    """Parquet files read one row group at a time, text columns as dictionaries.

    pyarrow.parquet rather than a pyarrow dataset: importing pyarrow.dataset imports pandas (about
    0.2 s, a sixth of a million-row run). One row group at a time keeps memory flat (a whole-file
    scan reads row groups ahead of a slow consumer: 230 MB of Arrow memory in flight with a 10M-row
    file, against 95 MB this way); no pre-buffering, which holds a row group's compressed bytes
    beside the decoded batch; one thread, since the decoding threads' first allocations cost more
    CPU than they save on columns this size. Dictionary-encoded text is counted on its codes.
    """

    def __init__(self, files: Sequence[Path | RemoteFile]) -> None:
        self.files = list(files)
        plain = _columns_of(self._open(self.files[0], None).schema_arrow)
        self._text = [f.name for f in plain if _is_text(f.type)]
        self.schema = _columns_of(self._open(self.files[0]).schema_arrow)
        for file in self.files[1:]:  # read_dictionary needs the first file's columns: checked first
            self._check_like_first(file, _columns_of(self._open(file, None).schema_arrow))

    def _open(self, file: Path | RemoteFile, dictionary: Sequence[str] | None | bool = True) -> Any:
        import pyarrow as pa
        import pyarrow.parquet as pq

        text = self._text if dictionary is True else dictionary
        try:
            source = file.open_random() if isinstance(file, RemoteFile) else file
            return pq.ParquetFile(source, pre_buffer=False, read_dictionary=text)
        except (pa.ArrowInvalid, OSError) as exc:
            raise DataError(f"cannot read {file} as parquet: {str(exc).splitlines()[0]}") from exc

    def _check_like_first(self, file: Path | RemoteFile, schema: pa.Schema) -> None:
        """Later files need the first one's columns with the same kinds of values (int64 and
        double both count as numbers: their batches are cast to the first file's types)."""
        missing = [n for n in self.schema.names if n not in schema.names]
        extra = [n for n in schema.names if n not in self.schema.names]
        other = [n for n in self.schema.names if n in schema.names
                 and dtype_class(schema.field(n).type) != dtype_class(self.schema.field(n).type)]
        if missing or extra or other:
            found = "; ".join(part for part in (
                f"lacks {', '.join(map(repr, missing))}" if missing else "",
                f"adds {', '.join(map(repr, extra))}" if extra else "",
                f"holds other values in {', '.join(map(repr, other))}" if other else "") if part)
            raise DataError(f"{file} does not match {self.files[0]}: {found}. A folder of Parquet files "
                            "must share one set of columns")

    def count_rows(self) -> int:
        return sum(self._open(f, None).metadata.num_rows for f in self.files)

    def to_batches(self, columns: Sequence[str] | None = None,
                   batch_size: int = BATCH_ROWS) -> Iterator[pa.RecordBatch]:
        import pyarrow as pa

        names = list(columns) if columns is not None else self.schema.names
        want = pa.schema([self.schema.field(n) for n in names])
        for file in self.files:
            reader = self._open(file)
            same = _columns_of(reader.schema_arrow).equals(self.schema)
            with _naming(file, "parquet"):
                for group in range(reader.num_row_groups):
                    for batch in reader.iter_batches(batch_size=batch_size, row_groups=[group], columns=names,
                                                     use_threads=False):
                        yield batch if same else _as_batch(pa.Table.from_batches([batch]).select(names).cast(want))


def _columns_of(schema: pa.Schema) -> pa.Schema:
    """The schema without the index pandas stored as columns (``pandas_index_columns``)."""
    import pyarrow as pa

    index = pandas_index_columns(schema)
    return pa.schema([f for f in schema if f.name not in index], metadata=schema.metadata) if index else schema


@contextmanager
def _naming(file: Path | RemoteFile, kind: str) -> Iterator[None]:
    """A reading error part-way through a file becomes a DataError naming the file."""
    import pyarrow as pa

    try:
        yield
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError) as exc:
        raise DataError(f"cannot read {file} as {kind}: {str(exc).splitlines()[0]}") from exc


def _as_batch(table: pa.Table) -> pa.RecordBatch:
    batches = table.combine_chunks().to_batches()
    return batches[0] if batches else _empty_batch(table.schema)


def _empty_batch(schema: pa.Schema) -> pa.RecordBatch:
    import pyarrow as pa

    return pa.RecordBatch.from_arrays([pa.array([], type=f.type) for f in schema], schema=schema)


def _is_text(arrow_type: pa.DataType) -> bool:
    import pyarrow.types as t

    return bool(t.is_string(arrow_type) or t.is_large_string(arrow_type))


def decoded(batch: pa.RecordBatch) -> pa.RecordBatch:
    """The batch with dictionary columns as plain values (for pandas and models, which would see
    a Categorical otherwise)."""
    import pyarrow as pa

    if not any(pa.types.is_dictionary(f.type) for f in batch.schema):
        return batch
    arrays = [a.cast(a.type.value_type) if pa.types.is_dictionary(a.type) else a for a in batch.columns]
    return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)


def iter_batches(source: Any, columns: Sequence[str] | None = None,
                 batch_rows: int = BATCH_ROWS) -> Iterator[pa.RecordBatch]:
    """Record batches of files (``open_dataset``), an Arrow table or a pandas frame; reading errors
    become DataErrors."""
    import pyarrow as pa

    if not hasattr(source, "to_batches"):  # a pandas frame
        source = pa.Table.from_pandas(source, preserve_index=False)
    cols = list(columns) if columns is not None else None
    try:
        if isinstance(source, pa.Table):
            table = source.select(cols) if cols is not None else source
            yield from table.to_batches(max_chunksize=batch_rows)
        else:  # ParquetFiles or CsvFiles: they name the file themselves
            yield from source.to_batches(cols, batch_rows)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise DataError(f"cannot read the data: {str(exc).splitlines()[0]}") from exc


def as_source(data: Any) -> Any:
    """A path becomes a dataset; frames and Arrow tables pass through."""
    return open_dataset(as_ref(data)) if isinstance(data, str | Path) else data


def schema_of(source: Any) -> pa.Schema:
    import pyarrow as pa

    if hasattr(source, "schema") and isinstance(source.schema, pa.Schema):
        return source.schema
    return pa.Schema.from_pandas(source, preserve_index=False)


def dtype_class(arrow_type: pa.DataType) -> str | None:
    """'numeric', 'bool', 'string', or None for a type monitor does not profile (dates, lists)."""
    import pyarrow.types as t

    if t.is_boolean(arrow_type):
        return "bool"
    if t.is_integer(arrow_type) or t.is_floating(arrow_type) or t.is_decimal(arrow_type):
        return "numeric"
    if t.is_string(arrow_type) or t.is_large_string(arrow_type):
        return "string"
    if t.is_dictionary(arrow_type):
        return dtype_class(arrow_type.value_type)
    return None


# ---- the reference spec -------------------------------------------------------------------


def infer_spec(source: Any, *, roles: dict[str, Role] | None = None, ignore: Sequence[str] = ()) -> ProfileSpec:
    """Bin edges and levels for every profiled column, from (a sample of) the reference."""
    return _sampled_spec(source, roles or {}, ignore)[0]


def profile_reference(source: Any, *, roles: dict[str, Role] | None = None, ignore: Sequence[str] = (),
                      where: str = "the reference data") -> TableProfile:
    """The spec and the profile of a reference. One of at most SPEC_ROWS rows is read once (its
    sample is all of it); a larger one twice, the sample then the profile."""
    spec, sample, whole = _sampled_spec(source, roles or {}, ignore)
    return profile_source(sample if whole else source, spec, where=where)


def _sampled_spec(source: Any, roles: dict[str, Role], ignore: Sequence[str]) -> tuple[ProfileSpec, pa.Table, bool]:
    """The spec, the sample it came from, and whether that sample is the whole reference."""
    schema = schema_of(source)
    ignored = list(dict.fromkeys(ignore))  # id columns stay allowed in current data even when absent here
    kept = [c for c in schema.names if c not in set(ignore)]
    sample, whole = _spread_sample(source, kept)
    specs = []
    for name in kept:
        cls = dtype_class(schema.field(name).type)
        if cls is None:
            ignored.append(name)
            continue
        spec = _column_spec(name, cls, sample.column(name), roles.get(name, "feature"))
        if spec is None:
            ignored.append(name)
        else:
            specs.append(spec)
    return ProfileSpec(tuple(specs), tuple(ignored)), sample, whole


def _column_spec(name: str, cls: str, array: Any, role: Role) -> ColumnSpec | None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if cls == "numeric":
        values = numeric_values(array)
        # sorted once: np.quantile of sorted values is the same number, found twice as fast
        values = np.sort(values[~np.isnan(values)])
        if not len(values):
            return ColumnSpec(name, "numeric", role, cls)
        deciles = tuple(float(e) for e in decile_edges(values))
        return ColumnSpec(name, "numeric", role, cls, numeric_edges(values), deciles=deciles)
    strings = pc.cast(array, pa.string())
    counts = Counter({item["values"]: int(item["counts"]) for item in pc.value_counts(strings).to_pylist()
                      if item["values"] is not None})
    non_missing = sum(counts.values())
    if cls == "string" and role == "feature" and len(counts) > max(100, non_missing // 2):
        return None  # nearly one value per row: an identifier or free text, not a distribution
    return ColumnSpec(name, "categorical", role, cls, levels=tuple(kept_levels(counts)))


def kept_levels(counts: Counter[str]) -> list[str]:
    """The levels a categorical column is counted by, most frequent first: all of them up to
    ``MAX_LEVELS``; beyond, ``MAX_LEVELS`` chosen by a hash of their text, not by their count. The
    most frequent of many near-equal levels are those the reference happened to hold more of, so
    any other sample holds fewer of them and more of the rest: with the 50 most frequent of 123
    dates kept, 46 of 50 same-distribution samples were flagged as drifted (0 of 50 with all kept)."""
    chosen = list(counts) if len(counts) <= MAX_LEVELS else \
        sorted(counts, key=lambda level: (zlib.crc32(level.encode("utf-8")), level))[:MAX_LEVELS]
    return sorted(chosen, key=lambda level: (-counts[level], level))


def numeric_edges(values: Any) -> tuple[float, ...]:
    """The reference's percentiles plus its deciles exactly as the PSI method computes them, so
    decile counts (``coarse_counts``) are sums of percentile bins."""
    import numpy as np

    fine = np.quantile(values, np.linspace(0, 1, PERCENTILES + 1))
    return tuple(float(e) for e in np.unique(np.concatenate([fine, decile_edges(values)])))


def decile_edges(values: Any) -> Any:
    import numpy as np

    return np.unique(np.quantile(values, np.linspace(0, 1, DECILES + 1)[1:-1]))


def _spread_sample(source: Any, columns: list[str]) -> tuple[pa.Table, bool]:
    """Every k-th row of every batch, at most about SPEC_ROWS rows, and whether k is 1 (all of a
    small reference)."""
    import pyarrow as pa

    if isinstance(source, CsvFiles):  # counting CSV rows means parsing them: keep them while few
        first = _first_rows(source, columns)
        if first is not None:
            return first, True
    total = source.count_rows() if hasattr(source, "count_rows") else len(source)
    if not total:
        raise DataError("the reference data has no rows")
    step = max(1, -(-total // SPEC_ROWS))
    parts = [b.take(_every(step, b.num_rows)) if step > 1 else b for b in iter_batches(source, columns)]
    return pa.Table.from_batches(parts, schema=parts[0].schema if parts else None), step == 1


def _first_rows(source: CsvFiles, columns: list[str]) -> pa.Table | None:
    """All the rows when there are at most SPEC_ROWS of them, else None."""
    import pyarrow as pa

    parts, rows = [], 0
    for batch in iter_batches(source, columns):
        rows += batch.num_rows
        if rows > SPEC_ROWS:
            return None
        parts.append(batch)
    if not rows:
        raise DataError("the reference data has no rows")
    return pa.Table.from_batches(parts, schema=parts[0].schema)


def _every(step: int, rows: int) -> pa.Array:
    """The row indices 0, step, 2 step, ... below ``rows`` (from numpy's buffer: ``pa.array``
    would import pandas)."""
    import numpy as np
    import pyarrow as pa

    index = np.arange(0, rows, step, dtype=np.int64)
    return pa.Array.from_buffers(pa.int64(), len(index), [None, pa.py_buffer(index)])


# ---- profiling ----------------------------------------------------------------------------


def profile_source(source: Any, spec: ProfileSpec, *, where: str = "the current data",
                   allow_missing: Sequence[str] = (),
                   transform: Callable[[pa.RecordBatch], pa.RecordBatch] | None = None) -> TableProfile:
    """Profile a dataset, table or frame batch by batch on ``spec`` (checking its columns first).

    ``transform`` sees each batch first (monitor adds the model's predictions there)."""
    schema = schema_of(source)
    check_columns(schema, spec, where, allow_missing=allow_missing)
    columns = None if transform else [c for c in spec.names if c in schema.names]
    profile = empty_profile(spec)
    for batch in iter_batches(source, columns):
        profile = profile.merge(profile_table(transform(batch) if transform else batch, spec))
    return profile


def check_columns(schema: pa.Schema, spec: ProfileSpec, where: str, *, allow_missing: Sequence[str] = ()) -> None:
    """DataError when the current data lacks a reference column, has one the reference never had,
    or holds another kind of value (numbers versus text) in a column."""
    names = set(schema.names)
    missing = [c for c in spec.names if c not in names and c not in set(allow_missing)]
    known = set(spec.names) | set(spec.ignored) | set(allow_missing)
    extra = [c for c in schema.names if c not in known]
    problems = []
    if missing:
        problems.append(f"lacks the reference column(s) {', '.join(map(repr, missing))}")
    if extra:
        problems.append(f"has column(s) the reference does not: {', '.join(map(repr, extra))}")
    for col in spec.columns:
        if col.name in names:
            got = dtype_class(schema.field(col.name).type)
            if got != col.dtype and not _all_null(schema.field(col.name).type):
                problems.append(f"column {col.name!r} holds {got or schema.field(col.name).type} values, "
                                f"the reference holds {col.dtype} values")
    if problems:
        raise DataError(f"{where} does not match the reference profile: {'; '.join(problems)}. "
                        "Monitor compares the same columns with the same kinds of values as the training "
                        "data; fix the export, or re-register the model with the new columns.")


def _all_null(arrow_type: pa.DataType) -> bool:
    import pyarrow.types as t

    return bool(t.is_null(arrow_type))


def frame_source(frame: pd.DataFrame) -> pa.Table:
    """A pandas frame as an Arrow table (object columns of mixed types become text)."""
    import pyarrow as pa

    try:
        return pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        fixed = frame.copy()
        for col in fixed.columns:
            if fixed[col].dtype == object:
                fixed[col] = fixed[col].map(lambda v: None if v is None or v != v else str(v))
        return pa.Table.from_pandas(fixed, preserve_index=False)
