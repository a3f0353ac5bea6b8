"""Column types that change part-way through a streamed table: a CSV value in a later block that does
not fit the type its column's first block gave it, and a folder whose files disagree on a column.
The streamed path gives the kinds, schema and report.json of the in-memory path (pandas reads each
file whole, types every column from all its values, and concatenates the files)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlgate.context import standalone_context
from mlgate.data import stream
from mlgate.data.io import load_table
from mlgate.data.schema import column_kind, infer_schema, save_schema
from mlgate.data.stage import ValidateOptions, run_validate
from mlgate.data.stream_schema import infer_streamed
from mlgate.errors import DataError
from mlgate.locations.refs import as_ref, table_files

ROWS = 20_000  # about 600 KB of CSV: ten 64 KiB blocks


@pytest.fixture(autouse=True)
def _small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stream, "CSV_BLOCK", 64 << 10)
    monkeypatch.setattr(stream, "BATCH_ROWS", 4096)  # Parquet: several batches a file


def _table(n: int = ROWS, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "id": [f"R{i:06d}" for i in range(n)],
        "count": rng.integers(0, 500, n),
        "flag": rng.random(n) < 0.4,
        "score": rng.normal(0, 1, n).round(3),
        "plan": rng.choice(["basic", "plus", "pro"], n),
        "label": rng.integers(0, 2, n),
    })


def _both(data: Path, **options: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """report.json streamed and read whole, timings left out."""
    out = []
    for in_memory in (False, True):
        ctx = standalone_context("validate", None, data=data, reference=None,
                                 output=data.parent / f"reports-{len(options)}-{in_memory}")
        raw = json.loads(json.dumps(run_validate(ctx, ValidateOptions(in_memory=in_memory, **options)).to_dict(),
                                    default=str))
        for key in ("duration_s", "started", "finished"):
            raw.pop(key, None)
        out.append(raw)
    return out[0], out[1]


def _assert_same(streamed: dict[str, Any], in_memory: dict[str, Any]) -> None:
    a = {(c["name"], c.get("column")): c for c in streamed["checks"]}
    b = {(c["name"], c.get("column")): c for c in in_memory["checks"]}
    assert list(a) == list(b)
    for key in a:
        assert a[key] == b[key], key
    assert streamed == in_memory


def _kinds(path: Path) -> dict[str, str]:
    return {str(c): column_kind(s) for c, s in load_table(path).items()}


def _streamed_kinds(path: Path) -> dict[str, str]:
    """Each column's kind as the checks see it on the streamed table."""
    schema = infer_schema(_table(100))
    view = stream.StreamView(stream.scan_files(table_files(as_ref(path)), stream.Plan(schema), None), "t", schema)
    return {c: view.kind(c) for c in view.columns}


def _write_csv(frame: pd.DataFrame, path: Path, late: dict[tuple[int, str], str] | None = None) -> Path:
    """``frame`` as CSV with some cells' text replaced (row, column) -> text."""
    text = frame.astype(object).where(frame.notna(), "").astype(str)
    for (row, col), value in (late or {}).items():
        text.loc[row, col] = value
    path.write_text(",".join(frame.columns) + "\n" + "\n".join(",".join(r) for r in text.to_numpy()) + "\n",
                    encoding="utf-8")
    return path


def _check(path: Path, tmp_path: Path, **expected_kinds: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Kinds, inferred schema and report (against the schema of the clean first rows, and inferred
    from the table itself) the same streamed as read whole; returns the reports against the schema."""
    kinds = _kinds(path)
    assert {c: kinds[c] for c in expected_kinds} == expected_kinds
    assert _streamed_kinds(path) == kinds
    streamed_schema = infer_streamed(table_files(as_ref(path)), target="label")
    assert streamed_schema.model_dump() == infer_schema(load_table(path), target="label").model_dump()
    clean = save_schema(infer_schema(_table(2000), target="label"), tmp_path / "clean.yaml")
    _assert_same(*_both(path, target="label"))
    streamed, whole = _both(path, target="label", schema=clean)
    _assert_same(streamed, whole)
    return streamed, whole


def _failed(report: dict[str, Any]) -> set[tuple[str, str | None]]:
    return {(c["name"], c.get("column")) for c in report["checks"] if not c["passed"]}


def test_an_int_column_given_a_fraction_in_a_late_block_is_float(tmp_path: Path) -> None:
    path = _write_csv(_table(), tmp_path / "t.csv", {(ROWS - 50, "count"): "2.5"})
    streamed, _ = _check(path, tmp_path, count="float")
    assert streamed["tables"]["t.csv"]["rows"] == ROWS  # the blocks read again after widening are not counted twice
    assert ("dtype_mismatch", "count") in _failed(streamed)  # the schema's int column holds 2.5


def test_an_int_column_given_text_in_a_late_block_is_text(tmp_path: Path) -> None:
    late = {(ROWS - 50, "count"): "oops", (ROWS - 3000, "count"): "7.5"}  # float first, then text
    path = _write_csv(_table(), tmp_path / "t.csv", late)
    streamed, _ = _check(path, tmp_path, count="string")
    assert ("dtype_mismatch", "count") in _failed(streamed)


def test_several_columns_widened_by_one_late_block(tmp_path: Path) -> None:
    """The target too: its classes are then the texts '0', '1' and '?' (pandas reads the whole column
    as text), not the numbers 0 and 1 of the blocks read before."""
    late = {(ROWS - 10, "count"): "?", (ROWS - 10, "score"): "?", (ROWS - 10, "flag"): "?", (ROWS - 10, "label"): "?"}
    path = _write_csv(_table(), tmp_path / "t.csv", late)
    streamed, _ = _check(path, tmp_path, count="string", score="string", flag="string", label="string")
    target = next(c for c in streamed["checks"] if c["name"] == "target_single_class")
    assert "['1', '0', '?']" in target["message"], target["message"]


@pytest.mark.parametrize("value", ["maybe", "1"])
def test_a_bool_column_given_another_value_in_a_late_block_is_text(tmp_path: Path, value: str) -> None:
    """'1' too: pyarrow reads 1 and 0 as booleans by default, pandas does not."""
    path = _write_csv(_table(), tmp_path / "t.csv", {(ROWS - 100, "flag"): value})
    streamed, _ = _check(path, tmp_path, flag="string")
    assert ("dtype_mismatch", "flag") in _failed(streamed)


def test_columns_without_values_in_the_first_blocks(tmp_path: Path) -> None:
    frame = _table()
    frame["late_int"] = pd.array(np.where(np.arange(ROWS) < ROWS - 500, None, np.arange(ROWS)), dtype="Int64")
    frame["late_bool"] = pd.array(np.where(np.arange(ROWS) < ROWS - 500, None, np.arange(ROWS) % 3 == 0),
                                  dtype="boolean")
    frame["late_text"] = np.where(np.arange(ROWS) < ROWS - 500, None, "x")
    path = _write_csv(frame, tmp_path / "t.csv", {(ROWS - 5, "count"): "3.25"})
    _check(path, tmp_path, late_int="float", late_bool="bool", late_text="string", count="float")


def _folder(tmp_path: Path, fmt: str, second: pd.DataFrame) -> Path:
    folder = tmp_path / f"parts-{fmt}"
    folder.mkdir()
    for i, part in enumerate((_table(8000, seed=1), second)):
        if fmt == "csv":
            part.to_csv(folder / f"part-{i}.csv", index=False)
        else:
            part.to_parquet(folder / f"part-{i}.parquet", index=False, row_group_size=3000)
    return folder


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_folder_whose_files_disagree_on_a_column(tmp_path: Path, fmt: str) -> None:
    """File 1: count ints, score floats, flag booleans; file 2: count floats, score text, flag text;
    three rows of file 2 repeat rows of file 1 (equal as pandas concatenates them: 1.5 and '1.5')."""
    second = _table(8000, seed=2)
    second["count"] = second["count"] + 0.5
    second["score"] = second["score"].astype(str).where(second.index % 7 != 0, "n/a?")
    second["flag"] = np.where(second["flag"], "yes", "no")
    first = _table(8000, seed=1)
    for row in (0, 1, 2):
        second.loc[100 + row] = [first.loc[row, "id"], float(first.loc[row, "count"]), str(first.loc[row, "flag"]),
                                 str(first.loc[row, "score"]), first.loc[row, "plan"], first.loc[row, "label"]]
    folder = _folder(tmp_path, fmt, second)
    streamed, _ = _check(folder, tmp_path, count="float", score="string", flag="string")
    assert streamed["tables"][folder.name]["rows"] == 16_000
    assert {("dtype_mismatch", "score"), ("dtype_mismatch", "flag")} <= _failed(streamed)
    duplicates = next(c for c in streamed["checks"] if c["name"] == "duplicate_rows")
    assert {8100, 8101, 8102} <= set(duplicates["details"]["rows"])


def test_a_disagreeing_folder_on_dask(tmp_path: Path) -> None:
    """Each file's state computed on a worker: the merge finds the files disagree and has them
    computed again with the column converted; the schema inferred there too."""
    distributed = pytest.importorskip("distributed")
    second = _table(8000, seed=2)
    second["score"] = second["score"].astype(str).where(second.index % 7 != 0, "n/a?")
    second["flag"] = np.where(second["flag"], "yes", "no")
    folder = _folder(tmp_path, "csv", second)
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0")
    with cluster, distributed.Client(cluster) as client:
        on_dask = _both(folder, target="label", dask=client)[0]
        schema = infer_streamed(table_files(as_ref(folder)), target="label", dask=client)
    assert schema.model_dump() == infer_schema(load_table(folder), target="label").model_dump()
    _assert_same(on_dask, _both(folder, target="label")[1])


def test_a_parquet_int_file_beside_a_float_file(tmp_path: Path) -> None:
    second = _table(8000, seed=2)
    second["count"] = second["count"].astype("float64")
    second.loc[5, "count"] = np.nan
    folder = _folder(tmp_path, "parquet", second)
    _check(folder, tmp_path, count="float")


def test_validate_on_a_folder_of_disagreeing_csv_files(tmp_path: Path) -> None:
    """The console script: the second file's text in an int column is a failed gate (exit 1), no
    reading error (exit 2), with the verdict and rows of the in-memory path."""
    second = _table(8000, seed=2).astype({"count": object})
    second.loc[[10, 7000], "count"] = "unknown"
    folder = _folder(tmp_path, "csv", second)
    schema = save_schema(infer_schema(_table(2000), target="label"), tmp_path / "s.yaml")
    script = Path(sys.executable).with_name("mlgate")
    proc = subprocess.run([str(script), "validate", "--data", str(folder), "--schema", str(schema),
                           "--target", "label", "--output", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and "Error:" not in proc.stderr + proc.stdout
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["passed"] is False and report["tables"][folder.name]["rows"] == 16_000
    mismatch = [c for c in report["checks"] if c["name"] == "dtype_mismatch" and c.get("column") == "count"]
    assert len(mismatch) == 1 and not mismatch[0]["passed"]
    assert mismatch[0]["details"]["rows"] == [8010, 15000]  # rows of the whole table: file 1 has 8,000
    _, whole = _both(folder, target="label", schema=schema)
    assert [c for c in whole["checks"] if c["name"] == "dtype_mismatch" and c.get("column") == "count"] == mismatch


def test_rows_with_fewer_fields_than_the_header_read_as_pandas_reads_them(tmp_path: Path) -> None:
    """pandas gives a short row's missing trailing fields as missing values; pyarrow stops there.
    Short rows in the first block and in a late one (the scan then starts again, padded), a quoted
    field with the delimiter and a newline in it, as well as a row that is too long (an error in both)."""
    frame = _table()
    frame["plan"] = frame["plan"].where(frame.index != 700, 'a "quoted", multi\nline plan')
    text = frame.astype(object).astype(str).to_csv(index=False).splitlines(keepends=True)
    lines = list(text)  # (the quoted field's newline splits its row in two lines: rows below shift by one)
    path = tmp_path / "t.csv"
    for row in (3, ROWS - 40):  # data rows (1-based lines after the header): cut after the 3rd field
        lines[row] = ",".join(lines[row].split(",")[:3]) + "\n"
    path.write_text("".join(lines), encoding="utf-8")
    whole = load_table(path)
    assert whole["score"].isna().sum() == 2 and whole["label"].isna().sum() == 2
    streamed, _ = _check(path, tmp_path, count="int", score="float", label="float")
    assert streamed["tables"]["t.csv"]["rows"] == ROWS
    assert ("nulls_in_non_nullable", "score") in _failed(streamed)  # the schema of clean rows has no holes
    lines[5] = lines[5].rstrip("\n") + ",extra\n"
    (tmp_path / "long.csv").write_text("".join(lines), encoding="utf-8")
    with pytest.raises(DataError, match=r"long\.csv.*Expected 6 columns, got 7"):
        stream.scan_files(table_files(as_ref(tmp_path / "long.csv")), stream.Plan(infer_schema(_table(100))), None)
