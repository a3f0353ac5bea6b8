"""Schema inference on a table read in batches (``mlgate.data.stream_schema``): the schema and the
report of the table read whole, with batches small enough that every table spans many of them."""

from __future__ import annotations

import json
import math
import shutil
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from tests._support.tables import penguins

from mlgate.config import load_config
from mlgate.context import StageContext, standalone_context
from mlgate.data import stream
from mlgate.data.io import load_table
from mlgate.data.schema import MAX_CATEGORIES, _bounds, infer_schema, save_schema
from mlgate.data.stage import ValidateOptions, run_validate
from mlgate.data.stream_schema import ColumnTally, infer_streamed
from mlgate.locations.refs import as_ref, table_files


@pytest.fixture(autouse=True)
def _small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stream, "BATCH_ROWS", 97)
    monkeypatch.setattr(stream, "CSV_BLOCK", 1 << 12)


def _write(frame: pd.DataFrame, path: Path) -> Path:
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False, row_group_size=500)
    return path


def _same_schema(path: Path, tmp_path: Path, target: str | None = None, keys: tuple[str, ...] = ()) -> dict[str, Any]:
    whole = infer_schema(load_table(path), target=target, keys=keys)
    streamed = infer_streamed(table_files(as_ref(path)), target=target, keys=keys)
    assert streamed.model_dump() == whole.model_dump()
    a = save_schema(streamed, tmp_path / "streamed.yaml", source="t").read_text()
    assert a == save_schema(whole, tmp_path / "whole.yaml", source="t").read_text()
    return whole.model_dump()


def _awkward(n: int, rng: np.random.Generator) -> pd.DataFrame:
    """Every batch-merging trap in one table of ``n`` rows (batches of 97 rows, row groups of 500)."""
    late = np.arange(n) >= n - 150
    ints_late_null = rng.integers(0, 1000, n).astype("float64")
    ints_late_null[n - 20] = np.nan                              # int batches, one float batch at the end
    early_null = rng.integers(-5, 5, n).astype("float64")
    early_null[:300] = np.nan                                    # all-null early batches, ints later
    bools = pd.array(rng.random(n) < 0.5, dtype="object")
    bools[:200] = None                                           # all-null early batches of a bool column
    levels = np.where(late, rng.integers(0, 80, n), rng.integers(0, 10, n))
    ids = np.array([f"ID-{i:07d}" for i in range(n)], dtype=object)
    dup_ids = ids.copy()
    dup_ids[n - 7] = dup_ids[3]                                  # one duplicate, in a late batch
    return pd.DataFrame({
        "empty_float": np.full(n, np.nan),
        "empty_text": pd.Series([None] * n, dtype=object),
        "ints_late_null": ints_late_null,
        "early_null": early_null,
        "flag": bools,
        "grade": [f"g{v}" for v in levels],                      # crosses MAX_CATEGORIES part-way
        "offset": 1e9 + rng.normal(0, 1e-3, n),                  # a large mean, tiny spread
        "tiny": rng.normal(0, 1e-12, n),
        "heavy": rng.lognormal(0, 4, n),
        "whole_float": rng.integers(0, 3, n).astype("float64"),  # float, every value whole
        "spread": np.tile([0.0, 2.0], n // 2 + 1)[:n],           # std exactly 1: a bound on a whole number
        "id": ids,
        "dup_id": dup_ids,
        "late_text_null": np.where(late & (np.arange(n) % 50 == 0), None, ids),
        # all-null early batches, text later
        "text_later": np.where(np.arange(n) < 300, None, np.char.add("t", levels.astype(str))),
        "target": rng.integers(0, 2, n),
    })


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_awkward_columns_give_the_schema_of_the_whole_table(tmp_path: Path, suffix: str) -> None:
    frame = _awkward(3000, np.random.default_rng(1))
    schema = _same_schema(_write(frame, tmp_path / f"t{suffix}"), tmp_path, target="target")
    cols = schema["columns"]
    assert schema["keys"] == ["id"]                              # dup_id and late_text_null are no keys
    assert cols["grade"]["dtype"] == "string" and cols["early_null"]["dtype"] == "float"
    assert cols["id"]["pattern"] == r"ID\-\d+" and cols["late_text_null"]["nullable"] is True
    assert cols["flag"]["dtype"] == "bool" and cols["text_later"]["dtype"] == "string"
    # a column without values: text in Parquet (no type), a number in CSV (as pandas reads it)
    assert cols["empty_text"]["dtype"] == ("string" if suffix == ".parquet" else "float")


def test_a_string_column_under_max_categories_is_a_category_and_keys_can_be_given(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    n = 2000
    frame = pd.DataFrame({"level": [f"L{v}" for v in rng.integers(0, MAX_CATEGORIES, n)],
                          "rare": np.where(np.arange(n) == n - 1, "only-once", "common"),
                          "code": [f"c{i}" for i in range(n)], "y": rng.random(n)})
    schema = _same_schema(_write(frame, tmp_path / "t.parquet"), tmp_path, keys=("code",))
    assert schema["columns"]["level"]["dtype"] == "category"
    assert schema["columns"]["rare"]["on_unseen"] == "warning" and schema["keys"] == ["code"]


def test_a_folder_with_int_and_float_files(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    folder = tmp_path / "parts"
    folder.mkdir()
    for i, values in enumerate([rng.integers(0, 50, 700), rng.integers(0, 50, 300) + 0.5, rng.integers(0, 9, 400)]):
        _write(pd.DataFrame({"x": values, "name": [f"N-{i}{j:04d}" for j in range(len(values))]}),
               folder / f"part-{i}.parquet")
    schema = _same_schema(folder, tmp_path)
    assert schema["columns"]["x"]["dtype"] == "float" and schema["keys"] == ["name"]


def test_more_distinct_values_than_the_pattern_reads(tmp_path: Path) -> None:
    """The pattern is guessed from the first 20,000 distinct values, as on the whole table."""
    n = 20_500
    codes = [f"X{i}" for i in range(n)]
    codes[20_100] = "not an id"  # past the values the pattern guess reads: the pattern stays
    frame = pd.DataFrame({"code": codes, "v": np.arange(n)})
    schema = _same_schema(_write(frame, tmp_path / "t.parquet"), tmp_path)
    assert schema["columns"]["code"]["pattern"] == r"X\d+" and schema["keys"] == ["code"]


def _exact_std(x: np.ndarray) -> float:
    values = [Fraction(float(v)) for v in x]
    mean = sum(values, Fraction(0)) / len(values)
    return math.sqrt(float(sum(((v - mean) ** 2 for v in values), Fraction(0)) / len(values)))


def _tally(x: np.ndarray, sizes: list[int]) -> ColumnTally:
    tally, start = ColumnTally(), 0
    for size in [*sizes, len(x)]:
        if start < len(x):
            batch = pd.Series(x[start:start + size])
            tally.kind = stream._merge_kind(tally.kind, stream.batch_kind(batch))
            tally.add(batch, stream.batch_kind(batch))
            start += size
    return tally


@pytest.mark.parametrize("name", ["offset", "tiny", "heavy", "ints", "steps", "one", "constant"])
def test_merged_tallies_match_pandas_on_awkward_numbers(name: str) -> None:
    """Chan et al.'s merge of per-batch squared deviations: one batch gives pandas' std to the bit,
    many batches the exact std to 1e-12 (pandas' own error is of that order), and the same bounds."""
    rng = np.random.default_rng(4)
    x = {"offset": lambda: 1e12 + rng.normal(0, 1, 5_000),     # a large mean: naive sums cancel
         "tiny": lambda: rng.normal(1e-200, 1e-201, 3_000),
         "heavy": lambda: rng.standard_cauchy(5_000),
         "ints": lambda: rng.integers(-10**12, 10**12, 4_000).astype("float64"),
         "steps": lambda: np.repeat([1.0, 3.0, 5.0], 1_001),
         "one": lambda: np.array([42.5]),
         "constant": lambda: np.full(999, 0.1)}[name]()
    series = pd.Series(x)
    expected, exact = float(series.std(ddof=0)), _exact_std(x)
    assert _tally(x, []).facts("float").std == expected
    integral = bool(((series % 1) == 0).all())
    bounds = _bounds(float(series.min()), float(series.max()), expected, integral=integral)
    for sizes in ([1, 1, 1], [7] * 50, list(rng.integers(1, 700, 40))):
        facts = _tally(x, sizes).facts("float")
        assert facts.std == pytest.approx(exact, rel=1e-12, abs=1e-300), sizes[:5]
        assert (facts.lo, facts.hi) == (series.min(), series.max())
        assert _bounds(facts.lo, facts.hi, facts.std, integral=integral) == bounds  # type: ignore[arg-type]


# ---- the whole command: report.json and schema.yaml as with the tables read whole ----------------------


def _plain(raw: dict[str, Any]) -> dict[str, Any]:
    raw = json.loads(json.dumps(raw, default=str))
    for key in ("duration_s", "started", "finished", "schema"):
        raw.pop(key, None)
    return raw


def _report(data: Path, reference: Path | None, out: Path, **options: Any) -> tuple[dict[str, Any], str]:
    opts = ValidateOptions(**{**options, "infer_schema": out / "schema.yaml"})
    ctx = standalone_context("validate", None, data=data, reference=reference, output=out)
    report = _plain(run_validate(ctx, opts).to_dict())
    return report, (out / "schema.yaml").read_text()


def _both(tmp_path: Path, data: Path, reference: Path | None = None, **options: Any) -> dict[str, Any]:
    streamed, schema = _report(data, reference, tmp_path / "streamed", **options)
    whole, whole_schema = _report(data, reference, tmp_path / "whole", in_memory=True, **options)
    assert schema == whole_schema
    assert streamed == whole
    return streamed


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_awkward_reference_gives_the_report_of_the_tables_read_whole(tmp_path: Path, suffix: str) -> None:
    rng = np.random.default_rng(5)
    ref, cur = _awkward(2500, rng), _awkward(1200, rng)
    cur.loc[5:7, "offset"] = 2e9
    report = _both(tmp_path, _write(cur, tmp_path / f"cur{suffix}"), _write(ref, tmp_path / f"ref{suffix}"),
                   target="target")
    assert any(c["name"] == "out_of_range" and not c["passed"] for c in report["checks"])


def test_one_table_without_reference(tmp_path: Path) -> None:
    frame = _awkward(1500, np.random.default_rng(6))
    _both(tmp_path, _write(frame, tmp_path / "t.parquet"))


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_penguins(tmp_path: Path, fmt: str, monkeypatch: pytest.MonkeyPatch) -> None:
    frame = penguins()
    order = np.random.default_rng(7).permutation(len(frame))
    train, test = frame.iloc[order[:240]], frame.iloc[order[240:]]
    paths = [_write(part, tmp_path / f"{name}.{fmt}") for name, part in (("train", train), ("test", test))]
    monkeypatch.setattr(stream, "BATCH_ROWS", 13)
    _both(tmp_path, paths[1], paths[0], target="species")


def test_the_example_project_writes_the_same_schema(_small_churn_template: Path, tmp_path: Path) -> None:
    folder = tmp_path / "churn"
    shutil.copytree(_small_churn_template, folder)
    config = load_config(folder / "mlgate.yaml")
    reports, schemas = [], []
    for i in (0, 1):
        ctx = StageContext(config=config, out_dir=folder / f"out-{i}")
        reports.append(_plain(run_validate(ctx, ValidateOptions(in_memory=i == 1)).to_dict()))
        schemas.append((folder / f"out-{i}" / "schema.yaml").read_text())
    assert schemas[0] == schemas[1] and "Inferred from the training data" in schemas[0]
    assert reports[0] == reports[1]


def test_dask_local_cluster_infers_the_same_schema(tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    rng = np.random.default_rng(8)
    folder = tmp_path / "ref"
    folder.mkdir()
    whole = _awkward(3000, rng)
    for i, (a, b) in enumerate([(0, 1000), (1000, 1900), (1900, 3000)]):
        _write(whole.iloc[a:b], folder / f"part-{i}.parquet")
    cur = _write(_awkward(800, rng), tmp_path / "cur.parquet")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                       dashboard_address=":0")  # None still binds 8787: two xdist workers clash
    with cluster, distributed.Client(cluster) as client:
        on_dask, schema = _report(cur, folder, tmp_path / "dask", target="target", dask=client)
    here, here_schema = _report(cur, folder, tmp_path / "here", target="target")
    assert schema == here_schema and on_dask == here
    assert schema == save_schema(infer_schema(load_table(folder), target="target"), tmp_path / "w.yaml",
                                 source=str(folder)).read_text()
