"""Request bodies to validated feature columns, checked against the model's signature.

Every rejection is an ``InputError`` naming the field (``features.age``, ``records[3].age``)
so a client can fix its request; nothing a client sends reaches the model unchecked.

JSON is parsed by orjson (about 1.5 us for a 20-feature row, against 9 for the standard
library's decoder with hooks). A body orjson refuses (``NaN``, ``Infinity``, numbers beyond
float range, malformed JSON) or may read otherwise (integers of 19 digits or more, which it
turns into floats) is parsed again with hooks that turn ``NaN``, ``Infinity``, numbers beyond
float range and integers too long to parse into a ``NonFinite`` marker instead of failing the
whole parse, so the validator can name the field that held them (DESIGN: 422 naming the
field), and malformed JSON gets the standard library's message.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, Literal

import numpy as np
import orjson

Kind = Literal["number", "integer", "boolean", "string", "any"]
_MAX_FLOAT = 1.7976931348623157e308
_INT64 = 2**63


class InputError(Exception):
    """A request the server refuses: HTTP ``status``, the offending ``field`` and why."""

    def __init__(self, status: int, message: str, field: str | None = None, reason: str = "invalid_input") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.reason = reason


class NonFinite:
    """Stands in for a JSON number that is not a finite float (NaN, Infinity, 1e400)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _parse_float(text: str) -> float | NonFinite:
    value = float(text)
    return value if math.isfinite(value) else NonFinite(text[:40])


def _parse_int(text: str) -> int | NonFinite:
    try:
        return int(text)
    except ValueError:  # longer than Python's int-parsing digit limit
        return NonFinite(text[:20] + "...")


_DECODER = json.JSONDecoder(parse_float=_parse_float, parse_int=_parse_int,
                            parse_constant=NonFinite)


# An integer of 19 digits or more may be beyond 64 bits, which orjson reads as a float: such a
# body goes to the hooked decoder. Found by mapping every digit to 9 and looking for nineteen
# of them (1 us on a 20-feature row, where the regular expression \d{19} took 12).
_DIGITS_AS_NINES = bytes.maketrans(b"0123456789", b"9" * 10)
_LONG_NUMBER = b"9" * 19


def parse_json(body: bytes) -> Any:
    """Parse a request body; malformed JSON (or not UTF-8) is a 400."""
    if _LONG_NUMBER not in body.translate(_DIGITS_AS_NINES):
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass  # not plain JSON: the hooks below mark the values, or name what is malformed
    try:
        text = body.decode("utf-8")
        return _DECODER.decode(text)
    except UnicodeDecodeError as exc:
        raise InputError(400, f"body is not UTF-8: {exc.reason} at byte {exc.start}",
                         reason="malformed_json") from exc
    except ValueError as exc:
        raise InputError(400, f"body is not valid JSON: {exc}", reason="malformed_json") from exc
    except RecursionError as exc:
        raise InputError(400, "body is not valid JSON: nested too deeply",
                         reason="malformed_json") from exc


@dataclass(frozen=True)
class Feature:
    """One input column: its name, the kind of JSON value it takes, and whether null is allowed."""

    name: str
    kind: Kind
    nullable: bool = False


_KIND_WORDS = {"number": "a number", "integer": "an integer", "boolean": "true or false",
               "string": "a string", "any": "a number, string or boolean"}


def kind_of_dtype(dtype: str) -> Kind:
    """Map a pandas dtype name (``int64``, ``float64``, ``bool``, ``str``) or an MLflow
    signature type (``long``, ``double``, ``boolean``, ``string``) to a JSON value kind."""
    d = dtype.lower()
    if d.startswith(("int", "uint", "long")):
        return "integer"
    if d.startswith(("float", "double")):
        return "number"
    if d in ("bool", "boolean"):
        return "boolean"
    if d in ("str", "string", "object", "category"):
        return "string"
    return "any"


class InputSchema:
    """The features a model takes, in training order, and how to turn rows into columns.

    ``list_order`` is the order of the values in a list-form row (``{"features": [...]}``), when
    it is not the model's: the served order clients already send, for a model fitted on the same
    columns in another order. List rows are then reordered by name, as object rows always are:
    with ``names`` ``[b, a]`` and ``list_order`` ``[a, b]``, the row ``[1, 2]`` is ``{a: 1, b: 2}``.
    """

    def __init__(self, features: list[Feature], list_order: list[str] | None = None) -> None:
        self.features = features
        self.names = [f.name for f in features]
        self.index = {f.name: i for i, f in enumerate(features)}
        if list_order is not None and sorted(list_order) != sorted(self.names):
            raise ValueError(f"list order {list_order} does not name the features {self.names}")
        self.list_names = list(list_order) if list_order is not None else self.names
        # position in a list row of each feature, in model order; None when the orders agree
        self._from_list = None if self.list_names == self.names else \
            [self.list_names.index(n) for n in self.names]
        self._one_row = _OneRow(features, self._from_list)

    def with_nullable(self, names: set[str]) -> InputSchema:
        """A copy in which the named features accept null."""
        return InputSchema([Feature(f.name, f.kind, f.name in names) for f in self.features], self.list_names)

    def with_list_order(self, order: list[str]) -> InputSchema:
        """A copy whose list-form rows give the features in ``order`` (the same names, another order)."""
        return InputSchema(self.features, order)

    # -- request shapes -------------------------------------------------------------

    def rows_from_predict(self, body: Any) -> tuple[list[Any], bool, str]:
        """Rows of a ``/predict`` body, whether it was a batch, and the field name used.

        ``{"features": [...]}`` (training order) or ``{"features": {name: value}}`` is one
        row; ``{"instances": [[...], ...]}``, ``{"records": [{...}, ...]}`` or a list of
        rows under ``features`` is a batch.
        """
        if not isinstance(body, dict):
            raise InputError(422, "body must be a JSON object with 'features', 'instances' or "
                             f"'records', got {_json_type(body)}", field="(body)")
        keys = [k for k in ("features", "instances", "records") if k in body]
        if len(keys) != 1:
            found = ", ".join(map(repr, body)) or "none"
            raise InputError(422, "body must have exactly one of 'features', 'instances' or "
                             f"'records' (keys found: {found}){self._shape_hint(body)}", field="(body)")
        key = keys[0]
        value = body[key]
        if key == "features" and isinstance(value, list) and value and all(
                isinstance(v, list | dict) for v in value):
            return value, True, key
        if key == "features":
            return [value], False, key
        if not isinstance(value, list):
            raise InputError(422, f"{key} must be a list of rows, got {_json_type(value)}", field=key)
        return value, True, key

    def _shape_hint(self, body: dict[str, Any]) -> str:
        """What the body looks like it meant: MLflow's format, or one row's features unwrapped."""
        if any(k in body for k in ("dataframe_split", "dataframe_records", "inputs")):
            return "; this is MLflow's format (the model folder's serving_input_example.json): POST it to /invocations"
        if body and all(k in self.index for k in body):
            return '; for one row by name send {"features": {...}}, for several {"records": [{...}, ...]}'
        return ""

    def drop_unknown(self, rows: list[Any]) -> tuple[list[Any], list[str]]:
        """Rows without the named columns the model does not use, and those columns' names.

        MLflow's scoring server drops such columns (the raw table's ``customer_id``, say), so
        ``/invocations`` does too; ``/predict`` stays strict and names them as errors.
        """
        unknown = sorted({k for row in rows if isinstance(row, dict) for k in row if k not in self.index})
        if not unknown:
            return rows, []
        drop = set(unknown)
        return [{k: v for k, v in row.items() if k not in drop} if isinstance(row, dict) else row
                for row in rows], unknown

    def columns(self, rows: list[Any], field: str, batch: bool, max_rows: int) -> dict[str, np.ndarray]:
        """Validate rows (lists in training order or objects by name) into typed column arrays."""
        if not rows:
            raise InputError(422, f"{field} holds no rows", field=field)
        if len(rows) > max_rows:
            raise InputError(422, f"{field} holds {len(rows)} rows; the limit is {max_rows} per request",
                             field=field)
        if len(rows) == 1:
            fast = self._one_row.columns(rows[0])
            if fast is not None:
                return fast
        return self._checked_columns(rows, field, batch)

    def _checked_columns(self, rows: list[Any], field: str, batch: bool) -> dict[str, np.ndarray]:
        """Value by value: the path that names the field of an error (and takes any rows)."""
        n = len(self.features)
        values: list[list[Any]] = [[None] * len(rows) for _ in range(n)]
        for r, row in enumerate(rows):
            where = f"{field}[{r}]" if batch else field
            if isinstance(row, list):
                if len(row) != n:
                    raise InputError(422, f"{where}: expected {n} values in {self._list_words} "
                                     f"({', '.join(self.list_names)}), got {len(row)}", field=where)
                if self._from_list is not None:
                    row = [row[j] for j in self._from_list]
                for i, value in enumerate(row):
                    values[i][r] = self._check(self.features[i], value, where)
            elif isinstance(row, dict):
                for name in row:
                    if name not in self.index:
                        raise InputError(422, f"{where}.{name}: unknown feature; the model takes "
                                         f"{', '.join(self.names)}", field=f"{where}.{name}")
                for i, feature in enumerate(self.features):
                    if feature.name not in row:
                        raise InputError(422, f"{where}.{feature.name}: missing feature "
                                         f"(expected {_KIND_WORDS[feature.kind]})",
                                         field=f"{where}.{feature.name}")
                    values[i][r] = self._check(feature, row[feature.name], where)
            else:
                raise InputError(422, f"{where} must be a list of {n} values or an object of "
                                 f"features, got {_json_type(row)}", field=where)
        return {f.name: _as_array(f, v) for f, v in zip(self.features, values, strict=True)}

    @property
    def _list_words(self) -> str:
        return "training column order" if self._from_list is None else "the served column order"

    def _check(self, feature: Feature, value: Any, where: str) -> Any:
        # The field's name (a list row names it by position too, so the client can find it) is
        # only built for an error: formatting it for every valid value was a third of the cost.
        if value is None:
            if feature.nullable:
                return None
            name = f"{where}.{feature.name}"
            raise InputError(422, f"{name}: null is not allowed (the model was not trained with "
                             "missing values here)", field=name)
        if isinstance(value, NonFinite):
            name = f"{where}.{feature.name}"
            raise InputError(422, f"{name}: {value.text} is not allowed; send a finite number "
                             f"{'or null ' if feature.nullable else ''}instead", field=name)
        kind = feature.kind
        ok: bool
        if kind == "number":
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            if ok and abs(value) > _MAX_FLOAT:
                name = f"{where}.{feature.name}"
                raise InputError(422, f"{name}: {str(value)[:20]}... is outside float range", field=name)
        elif kind == "integer":
            ok = isinstance(value, int) and not isinstance(value, bool)
            if not ok and isinstance(value, float) and value.is_integer():
                value, ok = int(value), True
            if ok and abs(value) >= _INT64:
                name = f"{where}.{feature.name}"
                raise InputError(422, f"{name}: {str(value)[:20]}... is outside the 64-bit integer range",
                                 field=name)
        elif kind == "boolean":
            ok = isinstance(value, bool) or (type(value) is int and value in (0, 1))
            value = bool(value) if ok else value
        elif kind == "string":
            ok = isinstance(value, str)
        else:
            ok = isinstance(value, str | int | float) and not (
                isinstance(value, float) and not math.isfinite(value))
        if not ok:
            name = f"{where}.{feature.name}"
            raise InputError(422, f"{name}: expected {_KIND_WORDS[kind]}, got {_json_type(value)} "
                             f"{_short(value)}", field=name)
        return value

    # -- MLflow scoring protocol ----------------------------------------------------

    def rows_from_invocations(self, body: Any) -> tuple[list[Any], str]:
        """Rows of an MLflow ``/invocations`` body (dataframe_split, dataframe_records,
        instances or inputs)."""
        if not isinstance(body, dict):
            raise InputError(400, "body must be a JSON object with one of dataframe_split, "
                             f"dataframe_records, instances, inputs; got {_json_type(body)}", field="(body)")
        keys = [k for k in ("dataframe_split", "dataframe_records", "instances", "inputs") if k in body]
        extra = set(body) - set(keys) - {"params"}
        if len(keys) != 1 or extra:
            raise InputError(400, "body must hold exactly one of dataframe_split, dataframe_records, "
                             f"instances, inputs (keys found: {', '.join(map(repr, body)) or 'none'})",
                             field="(body)")
        key = keys[0]
        value = body[key]
        if key == "dataframe_split":
            if not isinstance(value, dict) or not isinstance(value.get("data"), list):
                raise InputError(400, "dataframe_split needs {'columns': [...], 'data': [[...], ...]}",
                                 field=key)
            columns = value.get("columns")
            if columns is None:
                return value["data"], f"{key}.data"
            if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
                raise InputError(400, "dataframe_split.columns must be a list of column names",
                                 field=f"{key}.columns")
            rows = []
            for r, row in enumerate(value["data"]):
                if not isinstance(row, list) or len(row) != len(columns):
                    raise InputError(400, f"{key}.data[{r}] must be a list of {len(columns)} values",
                                     field=f"{key}.data[{r}]")
                rows.append(dict(zip(columns, row, strict=True)))
            return rows, f"{key}.data"
        if isinstance(value, dict):  # columnar: {"age": [..], "tenure": [..]} or one record
            lists = [v for v in value.values() if isinstance(v, list)]
            if lists and len(lists) == len(value):
                length = len(lists[0])
                if any(len(v) != length for v in lists):
                    raise InputError(400, f"{key}: all columns must have the same length", field=key)
                names = list(value)
                return [{n: value[n][i] for n in names} for i in range(length)], key
            return [value], key
        if not isinstance(value, list):
            raise InputError(400, f"{key} must be a list of rows, got {_json_type(value)}", field=key)
        return value, key


class _OneRow:
    """Validate one row with one numpy conversion per kind of column, not one check per value.

    ``columns`` answers None whenever the row is anything but plain valid values (a null, a
    NonFinite marker, an int in a float column beyond 1e308, a float in an integer column,
    a missing or unknown name, a wrong type); the caller then runs the value-by-value path,
    which gives the verdict and names the field. So both paths accept the same rows, into
    equal arrays, and refuse the same rows with the same message.
    """

    _KINDS = {"number": ((int, float), np.float64), "integer": ((int,), np.int64),
              "boolean": ((bool,), np.bool_), "string": ((str,), np.object_)}

    def __init__(self, features: list[Feature], from_list: list[int] | None = None) -> None:
        self.names = [f.name for f in features]
        self.n = len(features)
        # a list row in another order than the features': its values in feature order
        self._reorder = _getter(from_list) if from_list is not None else None
        self.usable = all(f.kind in self._KINDS for f in features)
        self._by_name = _getter(self.names)
        self.groups: list[tuple[str, Callable[[Any], tuple[Any, ...]], frozenset[type]]] = []
        place: dict[int, tuple[int, int]] = {}
        for kind, (types, _) in self._KINDS.items():
            positions = [i for i, f in enumerate(features) if f.kind == kind]
            if positions:
                for j, i in enumerate(positions):
                    place[i] = (len(self.groups), j)
                self.groups.append((kind, _getter(positions), frozenset(types)))
        self.place = [place[i] for i in range(self.n)] if self.usable else []

    def columns(self, row: Any) -> dict[str, np.ndarray] | None:
        if not self.usable:
            return None
        values: Any
        if type(row) is dict:
            if len(row) != self.n:
                return None
            try:
                values = self._by_name(row)
            except KeyError:
                return None
        elif type(row) is list and len(row) == self.n:
            values = row if self._reorder is None else self._reorder(row)
        else:
            return None
        arrays = []
        for kind, take, types in self.groups:
            group = take(values)
            found = set(map(type, group))
            if not found <= types:
                return None
            array = self._array(kind, group, int in found)
            if array is None:
                return None
            arrays.append(array)
        return {name: arrays[g][j:j + 1] for name, (g, j) in zip(self.names, self.place, strict=True)}

    def _array(self, kind: str, group: tuple[Any, ...], has_int: bool) -> np.ndarray | None:
        # Range checks on the Python values: a numpy reduction costs about 1 us on a few values.
        if kind == "string":
            out = np.empty(len(group), dtype=object)
            out[:] = group
            return out
        if kind == "number":
            try:  # NaN or an infinity anywhere makes the sum non-finite (so does overflow: checked path)
                finite = math.isfinite(sum(group))
            except OverflowError:  # an int beyond float range
                return None
            if not finite or (has_int and max(map(abs, group)) >= 1e308):
                return None
        elif kind == "integer" and not (min(group) > -_INT64 and max(group) < _INT64):
            return None
        return np.array(group, dtype=self._KINDS[kind][1])


def _getter(keys: list[Any]) -> Callable[[Any], tuple[Any, ...]]:
    """``operator.itemgetter`` that answers a tuple for one key too."""
    if len(keys) == 1:
        key = keys[0]
        return lambda values: (values[key],)
    return itemgetter(*keys)


_TRUE = {"true", "1", "t", "yes"}
_FALSE = {"false", "0", "f", "no"}


def rows_from_csv(body: bytes, schema: InputSchema) -> list[dict[str, Any]]:
    """Rows of a ``text/csv`` body (a header row of column names), as MLflow's server takes.

    CSV has no types: each cell is read as the feature's kind (an empty cell is null), and a
    cell that does not parse is an ``InputError`` naming the row and column.
    """
    try:
        reader = csv.reader(io.StringIO(body.decode("utf-8")))
        header = next(reader, None)
        lines = list(reader)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InputError(400, f"body is not valid UTF-8 CSV: {exc}", reason="malformed_json") from exc
    if not header:
        raise InputError(400, "CSV body has no header row of column names", field="(body)")
    kinds = {f.name: f.kind for f in schema.features}
    rows = []
    for r, line in enumerate(lines):
        if len(line) != len(header):
            raise InputError(400, f"csv row {r + 1}: {len(line)} cells for {len(header)} columns",
                             field=f"csv[{r}]")
        rows.append({name: _cell(cell, kinds.get(name, "any"), f"csv[{r}].{name}")
                     for name, cell in zip(header, line, strict=True)})
    return rows


def _cell(text: str, kind: Kind, field: str) -> Any:
    text = text.strip()
    if text == "":
        return None
    try:
        if kind == "integer":
            value = float(text)
            return int(value) if value.is_integer() else value
        if kind == "number":
            return _parse_float(text)
        if kind == "boolean":
            low = text.lower()
            if low in _TRUE or low in _FALSE:
                return low in _TRUE
            return text
        if kind == "any":
            try:
                return _parse_float(text)
            except ValueError:
                return text
    except ValueError:
        return text  # left as a string: validation names the field and the expected kind
    return text


def _as_array(feature: Feature, values: list[Any]) -> np.ndarray:
    # `None in values` is exact for JSON values (none of them equals None) and runs in C
    has_null = None in values
    if feature.kind == "number" or (feature.kind == "integer" and has_null):
        if not has_null:
            return np.array(values, dtype=np.float64)
        return np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    if feature.kind == "integer":
        return np.array(values, dtype=np.int64)
    if feature.kind == "boolean" and not has_null:
        return np.array(values, dtype=bool)
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float | NonFinite):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _short(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, NonFinite) else value.text
    return text if len(text) <= 40 else text[:37] + "..."
