"""A readable, editable YAML data schema: infer it from reference data, save it, load it.

Inference rules (each a claim about fresh clean data from the same source, measured in
benchmarks/false_alarms.py and stated in docs/validate.md):

- numeric ranges: ``warn_min``/``warn_max`` are the reference's ``[min, max]`` widened on each side
  by the larger of 25% of its range and 3 standard deviations (a value past them is a warning);
  ``min``/``max`` lie a further ``FAR_RANGES`` reference ranges out (a value past them is an error).
  A column never negative in the reference keeps 0 as both lower bounds; whole-valued columns round
  outward. A float column stays float even when every reference value is whole.
- categories: a column with a level seen at most ``RARE_LEVEL`` times has a long tail, so fresh data
  will hold levels the reference lacks: its unseen categories are warnings (``on_unseen: warning``).
- nulls: a column without nulls in the reference is ``nullable: false`` with ``on_null: warning``.

A hand-written schema without ``warn_*``/``on_*`` keys keeps the strict meaning: errors.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mlgate.config import format_validation_error, parse_yaml
from mlgate.errors import ConfigError, SchemaError

if TYPE_CHECKING:
    import pandas as pd

Kind = Literal["int", "float", "bool", "string", "category", "datetime"]
RANGE_MARGIN, STD_MARGIN = 0.25, 3.0
FAR_RANGES = 3.0
RARE_LEVEL = 5
NULL_SHARE_FACTOR, NULL_SHARE_SLACK = 2.0, 0.01
MAX_CATEGORIES = 50
# Patterns tried in order on string columns; the first that every value matches is kept.
_PATTERNS = (
    r"\d+",
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
    r"\d{4}-\d{2}-\d{2}",
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?",
    r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}",
)
_PREFIXED_ID = re.compile(r"([A-Za-z]+[-_]?)\d+")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ColumnSchema(_Strict):
    """What one column may hold."""

    dtype: Kind
    nullable: bool = True
    max_null_share: float | None = Field(None, ge=0, le=1)
    min: int | float | None = None
    max: int | float | None = None
    warn_min: int | float | None = None
    warn_max: int | float | None = None
    categories: list[str] | None = None
    pattern: str | None = None
    on_unseen: Literal["error", "warning"] | None = None
    on_null: Literal["error", "warning"] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> ColumnSchema:
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"pattern {self.pattern!r} is not a regular expression: {exc}") from exc
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}")
        if self.warn_min is not None and self.min is not None and self.warn_min < self.min:
            raise ValueError(f"warn_min {self.warn_min} is below min {self.min} (warnings lie inside the errors)")
        if self.warn_max is not None and self.max is not None and self.warn_max > self.max:
            raise ValueError(f"warn_max {self.warn_max} is above max {self.max} (warnings lie inside the errors)")
        return self


class RowBounds(_Strict):
    """Row-count bounds; None means unbounded."""

    min: int | None = Field(1, ge=0)
    max: int | None = Field(None, ge=0)


class Inferred(_Strict):
    """Where an inferred schema came from."""

    rows: int
    source: str | None = None
    rules: str = ("ranges: warn past [warn_min, warn_max], error past [min, max]; unseen categories warn in "
                  "long-tailed columns; nulls warn in columns without reference nulls")


class Schema(_Strict):
    """The schema file: columns, key columns, the target and row-count bounds."""

    version: int = 1
    inferred: Inferred | None = None
    target: str | None = None
    keys: list[str] = Field(default_factory=list)
    rows: RowBounds = Field(default_factory=lambda: RowBounds.model_validate({}))
    columns: dict[str, ColumnSchema]

    @model_validator(mode="after")
    def _known_names(self) -> Schema:
        for name in [*self.keys, *([self.target] if self.target else [])]:
            if name not in self.columns:
                raise ValueError(f"{name!r} is named as key or target but is not under 'columns'")
        return self


def column_kind(series: pd.Series) -> str:
    """The schema kind of a pandas column: int, float, bool, string, category or datetime."""
    import pandas as pd
    from pandas.api import types

    dtype = series.dtype
    if types.is_bool_dtype(dtype):
        return "bool"
    if isinstance(dtype, pd.CategoricalDtype):
        return "category"
    if types.is_integer_dtype(dtype):
        return "int"
    if types.is_float_dtype(dtype):
        return "float"
    if types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if types.is_string_dtype(dtype) and not types.is_object_dtype(dtype):
        return "string"
    inferred = types.infer_dtype(series, skipna=True)
    # mixed object columns (numbers and text) validate as text, as a CSV reader would load them
    return {"boolean": "bool", "datetime": "datetime"}.get(inferred, "string")


def infer_schema(frame: pd.DataFrame, *, target: str | None = None,
                 keys: list[str] | tuple[str, ...] = ()) -> Schema:
    """Infer a schema from reference data (bounds with a margin; see the module docstring)."""
    facts = {str(name): _column_facts(frame[name]) for name in frame.columns}
    return schema_from_facts(facts, len(frame), target=target, keys=keys,
                             unique=lambda name: bool(frame[name].is_unique))


@dataclass
class ColumnFacts:
    """What inference needs of one column (from the whole column, or merged from its batches)."""

    kind: str
    rows: int
    nulls: int
    lo: float | None = None        # numbers: min, max, standard deviation (ddof=0) of the values
    hi: float | None = None
    std: float | None = None
    integral: bool = False         # every number is whole
    counts: dict[str, int] | None = None  # text -> count; None past MAX_CATEGORIES (never for a category)
    strings: Sequence[str] | pd.Series = ()  # the text values, or at least their first 20,000 distinct


def schema_from_facts(facts: dict[str, ColumnFacts], rows: int, *, target: str | None = None,
                      keys: list[str] | tuple[str, ...] = (), unique: Callable[[str], bool]) -> Schema:
    """The schema of a table from its columns' facts; ``unique(name)`` says whether a column's values
    are all distinct (asked only of key candidates, see ``key_candidate``)."""
    columns = {name: column_from_facts(f) for name, f in facts.items()}
    inferred_keys = list(keys) or _guess_keys(columns, target, unique)
    for key in inferred_keys:
        if key not in columns:
            raise SchemaError(f"key column {key!r} is not in the data (columns: {list(columns)[:12]})")
    if target is not None and target not in columns:
        raise SchemaError(f"target column {target!r} is not in the data")
    return Schema(target=target, keys=inferred_keys, columns=columns, inferred=Inferred(rows=rows))


def _column_facts(series: pd.Series) -> ColumnFacts:
    kind = column_kind(series)
    values = series.dropna()
    facts = ColumnFacts(kind, len(series), len(series) - len(values))
    if kind in ("int", "float") and len(values):
        facts.lo, facts.hi, facts.std = float(values.min()), float(values.max()), float(values.std(ddof=0))
        facts.integral = kind == "int" or bool(((values % 1) == 0).all())
    elif kind in ("string", "category"):
        text = values.astype(str)
        facts.counts = {str(k): int(v) for k, v in text.value_counts().items()}
        facts.strings = text
    return facts


def column_from_facts(f: ColumnFacts) -> ColumnSchema:
    """One column's schema from its facts (the rules of the module docstring)."""
    import pandas as pd

    kind = f.kind
    spec: dict[str, Any] = {"nullable": f.nulls > 0}
    if not f.nulls:
        spec["on_null"] = "warning"
    else:
        share = f.nulls / f.rows
        spec["max_null_share"] = _ceil(min(1.0, share * NULL_SHARE_FACTOR + NULL_SHARE_SLACK), 3)
    values = f.rows - f.nulls
    if kind in ("int", "float") and values:
        assert f.lo is not None and f.hi is not None and f.std is not None
        spec.update(_bounds(f.lo, f.hi, f.std, integral=kind == "int" or f.integral))
    elif kind in ("string", "category"):
        counts = f.counts
        if kind == "category" or (counts is not None and len(counts) <= MAX_CATEGORIES
                                  and len(counts) < 0.5 * values):
            kind = "category"
            spec["categories"] = sorted(counts or {})
            if counts and min(counts.values()) <= RARE_LEVEL:
                spec["on_unseen"] = "warning"  # a long tail: fresh data will hold levels never seen here
        else:
            strings = f.strings if isinstance(f.strings, pd.Series) else pd.Series(list(f.strings), dtype=object)
            spec["pattern"] = _guess_pattern(strings)
    return ColumnSchema(dtype=kind, **spec)  # type: ignore[arg-type]


def _bounds(lo: float, hi: float, std: float, *, integral: bool) -> dict[str, int | float]:
    span = hi - lo
    margin = max(RANGE_MARGIN * span, STD_MARGIN * std) if span > 0 else max(abs(hi) * RANGE_MARGIN, 1.0)
    far = FAR_RANGES * span if span > 0 else margin
    bounds = {"warn_min": lo - margin, "warn_max": hi + margin, "min": lo - margin - far, "max": hi + margin + far}
    if lo >= 0:  # never negative in the reference: keep that property
        bounds["warn_min"], bounds["min"] = max(bounds["warn_min"], 0.0), max(bounds["min"], 0.0)
    down, up = (math.floor, math.ceil) if integral else (_floor, _ceil)
    return {k: down(v) if k.endswith("min") else up(v) for k, v in bounds.items()}


def _sig_step(x: float, digits: int = 4) -> float:
    return 10.0 ** (math.floor(math.log10(abs(x))) - digits + 1) if x else 1.0


def _floor(x: float, digits: int = 4) -> float:
    step = _sig_step(x, digits)
    return float(round(math.floor(x / step) * step, 12))


def _ceil(x: float, digits: int = 4) -> float:
    step = _sig_step(x, digits)
    return float(round(math.ceil(x / step) * step, 12))


def _guess_pattern(values: pd.Series) -> str | None:
    """A pattern every value matches, when an obvious one exists (ids, dates, emails, uuids)."""
    sample = values.drop_duplicates().head(20_000)
    if sample.empty:
        return None
    for pattern in _PATTERNS:
        if bool(sample.str.fullmatch(pattern).all()):
            return pattern
    prefixes = sample.str.extract(r"^([A-Za-z]+[-_]?)\d+$")[0]
    if prefixes.notna().all() and prefixes.nunique() == 1:
        return re.escape(str(prefixes.iloc[0])) + r"\d+"
    return None


def _guess_keys(columns: dict[str, ColumnSchema], target: str | None, unique: Callable[[str], bool]) -> list[str]:
    """String id-like columns (every value distinct and a pattern) are taken as keys."""
    return [name for name, col in columns.items() if name != target and key_candidate(col) and unique(name)]


def key_candidate(col: ColumnSchema) -> bool:
    """Whether a column would be a key if its values were all distinct: text with a pattern, no nulls."""
    return col.dtype == "string" and col.pattern is not None and not col.nullable


def save_schema(schema: Schema, path: Path, *, source: str = "") -> Path:
    """Write the schema as commented YAML a user can edit and commit."""
    import yaml

    header = ("# mlgate data schema. Edit freely: dtype (int|float|bool|string|category|datetime),\n"
              "# nullable, max_null_share, min/max (errors past them), warn_min/warn_max (warnings),\n"
              "# categories, on_unseen/on_null (error|warning), pattern (a regular expression).\n"
              "# Inferred ranges: warn_* = the reference's min/max widened by max(25% of the range, 3 std),\n"
              f"# min/max = {FAR_RANGES:g} reference ranges further out.\n")
    if schema.inferred is not None:
        note = schema.inferred.model_copy(update={"source": source or schema.inferred.source})
        schema = schema.model_copy(update={"inferred": note})
        header += f"# Inferred from {note.source or 'the data'} ({note.rows:,} rows)\n"
    elif source:
        header += f"# Inferred from {source}\n"
    body = schema.model_dump(mode="json", exclude_none=True)
    for col in body["columns"].values():
        if col.get("nullable") is True:
            col.pop("nullable")  # the default; keeps the file short
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + yaml.safe_dump(body, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def load_schema(path: str | Path) -> Schema:
    """Read a schema file; a SchemaError names the file, the key and the problem."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise SchemaError(f"schema file {file} does not exist") from exc
    except UnicodeDecodeError as exc:
        raise SchemaError(f"schema file {file} is not UTF-8 text: {exc.reason}") from exc
    except OSError as exc:
        raise SchemaError(f"cannot read schema file {file}: {exc.strerror}") from exc
    try:
        raw = parse_yaml(text, file)
    except ConfigError as exc:
        raise SchemaError(f"schema {exc.message}") from exc
    if not isinstance(raw, dict) or "columns" not in raw:
        raise SchemaError(f"schema file {file} must be a mapping with a 'columns' key "
                          f"(got {type(raw).__name__}); write one with `mlgate validate --data X "
                          "--infer-schema schema.yaml`")
    try:
        return Schema.model_validate(raw)
    except ValidationError as exc:
        raise SchemaError("schema " + format_validation_error(exc, file, text)) from exc


def inferred_summary(path: Path) -> str:
    """One line on what an inferred schema file holds and from how many rows, for the CLI."""
    schema = load_schema(path)
    cols = schema.columns.values()
    ranges = sum(1 for c in cols if c.warn_max is not None or c.warn_min is not None)
    cats = [c for c in cols if c.categories is not None]
    tails = sum(1 for c in cats if c.on_unseen == "warning")
    strict = sum(1 for c in cols if not c.nullable)
    origin = f" from {schema.inferred.rows:,} rows" if schema.inferred else ""
    origin += f" of {schema.inferred.source}" if schema.inferred and schema.inferred.source else ""
    return (f"inferred{origin}: {len(schema.columns)} columns, {ranges} numeric ranges (warning past warn_min/"
            f"warn_max, error past min/max), {len(cats)} categorical ({tails} long-tailed: unseen levels warn), "
            f"{strict} without reference nulls (nulls warn)")
