"""Streamed validate (``mlgate.data.stream``): the same report.json as the in-memory path, batch by batch."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from tests._support.tables import penguins

from mlgate.config import load_config
from mlgate.context import StageContext, standalone_context
from mlgate.data import stream
from mlgate.data.schema import infer_schema, save_schema
from mlgate.data.stage import ValidateOptions, run_validate


def _report(data: Path, reference: Path | None = None, **options: Any) -> dict[str, Any]:
    ctx = standalone_context("validate", None, data=data, reference=reference,
                             output=data.parent / f"reports-{len(options)}")
    return _plain(run_validate(ctx, ValidateOptions(**options)).to_dict())


def _plain(raw: dict[str, Any]) -> dict[str, Any]:
    """report.json as written, timings left out."""
    raw = json.loads(json.dumps(raw, default=str))
    raw.pop("duration_s", None)
    raw.pop("started", None)
    raw.pop("finished", None)
    return raw


def _both(data: Path, reference: Path | None = None, **options: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    return _report(data, reference, **options), _report(data, reference, in_memory=True, **options)


def _assert_same(streamed: dict[str, Any], in_memory: dict[str, Any]) -> None:
    a = {(c["name"], c.get("column"), c["details"].get("table")): c for c in streamed["checks"]}
    b = {(c["name"], c.get("column"), c["details"].get("table")): c for c in in_memory["checks"]}
    assert list(a) == list(b)
    for key in a:
        assert a[key] == b[key], key
    assert streamed == in_memory


def _messy(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """Ints with and without holes, floats, text with a pattern, categories, bools, dates as text,
    a few duplicate rows."""
    frame = pd.DataFrame({
        "id": [f"C{i:06d}" for i in range(n)],
        "age": rng.integers(18, 90, n),
        "income": np.where(rng.random(n) < 0.05, np.nan, rng.lognormal(10, 1, n).round(2)),
        "visits": pd.array(np.where(rng.random(n) < 0.02, -1, rng.integers(0, 20, n))).astype("float64"),
        "plan": rng.choice(["basic", "plus", "pro"], n),
        "active": rng.random(n) < 0.7,
        "signup": [f"2024-{m:02d}-{d:02d}" for m, d in zip(rng.integers(1, 13, n), rng.integers(1, 29, n),
                                                             strict=True)],
        "churned": rng.integers(0, 2, n),
    })
    frame.loc[frame["visits"] < 0, "visits"] = np.nan
    frame.loc[n - 3:, frame.columns[1:]] = frame.loc[:2, frame.columns[1:]].to_numpy()  # duplicates
    return frame


def test_generated_tables_parquet_in_many_row_groups(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    ref, cur = _messy(rng, 3000), _messy(rng, 25_000)
    cur.loc[10:12, "age"] = 300                       # out of range
    cur.loc[20_000:20_002, "plan"] = "enterprise"     # unseen category late in the file
    cur.loc[24_000, "id"] = "bad id"                  # pattern
    cur.loc[24_500, "id"] = cur.loc[7, "id"]          # duplicate key
    cur.loc[15_000:15_001, ref.columns[1:]] = ref.loc[:1, ref.columns[1:]].to_numpy()  # leaked
    ref.to_parquet(tmp_path / "ref.parquet", index=False)
    cur.to_parquet(tmp_path / "cur.parquet", index=False, row_group_size=4000)
    streamed, in_memory = _both(tmp_path / "cur.parquet", tmp_path / "ref.parquet", target="churned", keys=("id",))
    failed = {c["name"] for c in streamed["checks"] if not c["passed"]}
    assert {"out_of_range", "unseen_categories", "pattern_mismatch", "duplicate_keys",
            "train_test_leakage"} <= failed
    _assert_same(streamed, in_memory)


def test_folder_of_csv_files_with_a_given_schema(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    frame = _messy(rng, 12_000)
    schema = save_schema(infer_schema(frame.iloc[:4000], target="churned"), tmp_path / "schema.yaml")
    folder = tmp_path / "parts"
    folder.mkdir()
    for i in range(3):
        frame.iloc[4000 * i:4000 * (i + 1)].to_csv(folder / f"part-{i}.csv", index=False)
    streamed, in_memory = _both(folder, schema=schema)
    assert streamed["tables"]["parts"]["rows"] == 12_000
    _assert_same(streamed, in_memory)


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_penguins_split_at_random(tmp_path: Path, fmt: str) -> None:
    frame = penguins()
    frame["observed"] = pd.date_range("2007-01-01", periods=len(frame), freq="D").astype(str)
    order = np.random.default_rng(3).permutation(len(frame))
    train, test = frame.iloc[order[:240]], frame.iloc[order[240:]].copy()
    test.loc[test.index[:3], "bill_length_mm"] = 500.0   # out of range
    for name, part in (("train", train), ("test", test)):
        if fmt == "csv":
            part.to_csv(tmp_path / f"{name}.csv", index=False)
        else:
            part.to_parquet(tmp_path / f"{name}.parquet", index=False)
    streamed, in_memory = _both(tmp_path / f"test.{fmt}", tmp_path / f"train.{fmt}", target="species")
    assert any(c["name"] == "out_of_range" and not c["passed"] for c in streamed["checks"])
    _assert_same(streamed, in_memory)


def test_the_example_project(_small_churn_template: Path, tmp_path: Path) -> None:
    folder = tmp_path / "churn"
    shutil.copytree(_small_churn_template, folder)
    config = load_config(folder / "mlgate.yaml")
    reports = [_plain(run_validate(StageContext(config=config, out_dir=folder / f"out-{i}"),
                                   ValidateOptions(in_memory=i == 1)).to_dict()) for i in (0, 1)]
    assert reports[0]["tables"]["test"]["rows"] == 600
    schemas = [Path(r.pop("schema")) for r in reports]  # each run writes the schema to its own folder
    assert schemas[0].read_text() == schemas[1].read_text()
    _assert_same(*reports)


def test_merged_states_equal_one_pass() -> None:
    """The systematic sample and the hash partitions merge to what one pass keeps, whatever the split."""
    rng = np.random.default_rng(4)
    frame = _messy(rng, 9000)
    schema = infer_schema(frame, target="churned")
    content = tuple(frame.columns[1:])
    plan = stream.Plan(schema, "churned", (content, ("id",)))
    whole = _scan(frame, plan, 0, 1000)
    merged = _scan(frame.iloc[:2500], plan, 0, 700).merge(_scan(frame.iloc[2500:], plan, 2500, 300))
    views = [stream.StreamView(s, "t", schema, "churned") for s in (whole, merged)]
    assert views[0].duplicates(content) == views[1].duplicates(content) == (3, {"rows": [8997, 8998, 8999]})
    for limit in (1000, 10_000):
        pd.testing.assert_frame_equal(views[0].spread(limit), views[1].spread(limit))
        pd.testing.assert_frame_equal(views[0].spread(limit), frame.iloc[::16 if limit == 1000 else 1]
                                      .reset_index(drop=True), check_dtype=False)


def _scan(frame: pd.DataFrame, plan: stream.Plan, offset: int, batch: int) -> stream.TableState:
    state = stream.new_state(list(frame.columns), plan, None, offset)
    for start in range(0, len(frame), batch):
        stream.add_batch(state, frame.iloc[start:start + batch], plan)
    return state


def _script(*args: str) -> subprocess.CompletedProcess[str]:
    """``mlgate validate ARGS``, the console script in a subprocess."""
    script = Path(sys.executable).with_name("mlgate")
    return subprocess.run([str(script), "validate", *args], capture_output=True, text=True, timeout=300)


def test_a_bad_row_in_a_late_csv_block_is_one_error_line(tmp_path: Path) -> None:
    """A row with more fields than the header (pandas too stops there). A value of another type in a
    late block is no error: it widens its column as pandas types it (test_data_stream_types.py)."""
    rows = 700_000  # more than one 8 MB block of text
    lines = ["x,y,label"] + [f"{i},{i % 97}.5,a" for i in range(rows)]
    lines[rows - 5] = "12,0.5,a,extra"
    path = tmp_path / "big.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    schema = save_schema(infer_schema(pd.DataFrame({"x": [1], "y": [0.5], "label": ["a"]})), tmp_path / "s.yaml")
    # inferring the schema from it (a streamed pass of its own) and validating against a given one
    for i, flag in enumerate(("--infer-schema", "--schema")):
        given = tmp_path / ("inferred.yaml" if flag == "--infer-schema" else "s.yaml")
        proc = _script("--data", str(path), flag, str(given), "--output", str(tmp_path / f"out{i}"))
        assert proc.returncode == 2, proc.stdout + proc.stderr
        error = [line for line in proc.stderr.splitlines() + proc.stdout.splitlines() if line.startswith("Error:")]
        assert len(error) == 1 and "big.csv" in error[0] and "data row" in error[0], proc.stderr
        assert "Traceback" not in proc.stderr
    assert schema.exists() and not (tmp_path / "inferred.yaml").exists()


def test_a_truncated_or_damaged_parquet_file_is_one_error_line(tmp_path: Path) -> None:
    frame = pd.DataFrame({"x": np.arange(40_000, dtype="float64"), "y": np.arange(40_000) % 7})
    good = tmp_path / "good.parquet"
    frame.to_parquet(good, index=False, row_group_size=10_000, compression=None)
    schema = save_schema(infer_schema(frame), tmp_path / "s.yaml")
    raw = good.read_bytes()
    cut = tmp_path / "cut.parquet"
    cut.write_bytes(raw[: len(raw) // 2])
    proc = _script("--data", str(cut), "--schema", str(schema), "--output", str(tmp_path / "o1"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "cut.parquet" in errors[0] and "truncated" in errors[0], proc.stderr
    # a damaged page in the third row group: the error names it and its rows
    offset = pq.ParquetFile(good).metadata.row_group(2).column(0).data_page_offset
    damaged = tmp_path / "damaged.parquet"
    damaged.write_bytes(raw[:offset + 50] + b"\xff" * 350 + raw[offset + 400:])
    proc = _script("--data", str(damaged), "--schema", str(schema), "--output", str(tmp_path / "o2"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "damaged.parquet" in errors[0] and "row group 2 (rows 20000-29999)" in errors[0]
    assert not (tmp_path / "o2" / "report.json").exists()


def test_dask_local_cluster_gives_the_same_report(tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    rng = np.random.default_rng(5)
    ref = _messy(rng, 2000)
    ref.to_parquet(tmp_path / "ref.parquet", index=False)
    folder = tmp_path / "cur"
    folder.mkdir()
    for i in range(3):
        _messy(rng, 1500 + 500 * i).to_parquet(folder / f"part-{i}.parquet", index=False)
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                       dashboard_address=":0")  # None still binds 8787: two xdist workers clash
    with cluster, distributed.Client(cluster) as client:
        on_dask = _report(folder, tmp_path / "ref.parquet", target="churned", dask=client)
    here = _report(folder, tmp_path / "ref.parquet", target="churned")
    _assert_same(on_dask, here)


def test_a_table_read_whole_has_the_floats_of_one_read_in_batches(tmp_path: Path) -> None:
    """Every digit counts: pandas before 2.2 parsed -0.044641636506989144 as -0.0446416365069891 by
    default, so a reference read whole and a table streamed by pyarrow held different values and a
    binary column 'drifted' (KS 0.57 on a clean split of scikit-learn's diabetes table)."""
    import pyarrow.csv as pc

    from mlgate.data.io import load_table

    values = [-0.044641636506989144, 0.05068011873981862, 0.1852344432601986]
    file = tmp_path / "t.csv"
    file.write_text("x\n" + "\n".join(repr(v) for v in values) + "\n")
    assert load_table(file)["x"].tolist() == values == pc.read_csv(file)["x"].to_pylist()


def test_parquet_text_read_as_dictionaries_gives_the_frames_and_codes_of_plain_reading(tmp_path: Path) -> None:
    # text with holes, a large_string column, values that only some batches use (a row group's
    # dictionary holds values its other batches do not), several row groups and batches
    import pyarrow as pa

    rng = np.random.default_rng(3)
    n = 3 * stream.BATCH_ROWS + 100
    city = np.where(np.arange(n) < stream.BATCH_ROWS, "early", rng.choice(["a", "b", "c"], n)).astype(object)
    city[rng.random(n) < 0.05] = None
    table = pa.table({"city": pa.array(city, type=pa.string()),
                      "note": pa.array(rng.choice(["x", "y"], n).tolist(), type=pa.large_string()),
                      "n": np.arange(n)})
    path = tmp_path / "t.parquet"
    pq.write_table(table, path, row_group_size=2 * stream.BATCH_ROWS)
    plain = [frame for frame, _ in stream._parquet_batches(path)]
    read = list(stream._parquet_batches(path, dictionaries=True))
    assert len(read) == len(plain) == 4
    for (frame, codes), expected in zip(read, plain, strict=True):
        pd.testing.assert_frame_equal(frame, expected)
        assert set(codes) == {"city", "note"}
        for name, (positions, values) in codes.items():
            assert values.is_unique and not values.isna().any()
            shown = np.asarray(values, dtype=object)[np.maximum(positions, 0)]
            shown[positions < 0] = None
            assert shown.tolist() == frame[name].astype(object).where(frame[name].notna(), None).tolist()
    assert read[0][1]["city"][1].tolist() == ["early"]  # the batch's values, not its row group's dictionary


def test_a_parquet_file_with_the_index_pandas_stored(tmp_path: Path) -> None:
    # a shuffled table written by pandas keeps its index as a column of the file (__index_level_0__),
    # which reading restores as the index: it is not a column of the table (it was a KeyError, exit 3)
    rng = np.random.default_rng(5)
    frame = _messy(rng, 6000).sample(frac=1, random_state=2)
    frame.iloc[:4000].to_parquet(tmp_path / "train.parquet")
    frame.iloc[4000:].to_parquet(tmp_path / "test.parquet")
    assert "__index_level_0__" in pq.read_schema(tmp_path / "test.parquet").names
    streamed, in_memory = _both(tmp_path / "test.parquet", tmp_path / "train.parquet", target="churned")
    assert streamed["tables"]["test.parquet"]["columns"] == 8
    _assert_same(streamed, in_memory)
