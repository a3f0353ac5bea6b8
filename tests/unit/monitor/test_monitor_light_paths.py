"""The light paths monitor takes at scale give the same numbers: chi-square through scipy.special
equals scipy.stats, numeric values read from Arrow buffers equal pyarrow's conversion, a Parquet
or CSV folder read with pyarrow.parquet / pyarrow.csv equals the same rows as a frame, and none of it
imports pandas or scipy.stats."""

from __future__ import annotations

import decimal
import subprocess
import sys

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from scipy.stats import chi2_contingency

from mlgate.errors import DataError
from mlgate.monitor.batches import (
    SPEC_ROWS,
    CsvFiles,
    ParquetFiles,
    frame_source,
    infer_spec,
    open_dataset,
    profile_reference,
    profile_source,
)
from mlgate.monitor.profile import EXACT_MAX, numeric_values
from mlgate.stats import compare_counts
from mlgate.stats.methods import chi2_homogeneity

RNG = np.random.default_rng(13)


@pytest.mark.parametrize("levels", [2, 3, 11, 101])
@pytest.mark.parametrize("scale", [30, 5_000, 2_000_000])
def test_chi2_homogeneity_equals_chi2_contingency(levels: int, scale: int) -> None:
    for _ in range(20):
        shares = RNG.dirichlet(np.ones(levels))
        ref = RNG.multinomial(scale, shares).astype(float) + 1  # no empty column
        cur = RNG.multinomial(scale // 3 + 1, RNG.dirichlet(np.ones(levels) * 50)).astype(float) + 1
        table = np.vstack([ref, cur])
        want = chi2_contingency(table, correction=False)
        statistic, p_value = chi2_homogeneity(table)
        assert statistic == pytest.approx(float(want.statistic), rel=1e-12, abs=1e-12)
        assert p_value == pytest.approx(float(want.pvalue), rel=1e-9, abs=1e-300)


def test_compare_counts_chi2_equals_scipy_on_a_million_rows_of_a_shifted_level() -> None:
    ref = {"a": 333_000, "b": 334_000, "c": 333_000}
    cur = {"a": 336_000, "b": 333_000, "c": 331_000}
    want = chi2_contingency([list(ref.values()), list(cur.values())], correction=False)
    got = compare_counts(ref, cur, method="chi2")
    assert got.statistic == pytest.approx(float(want.statistic), rel=1e-12)
    assert got.p_value == pytest.approx(float(want.pvalue), rel=1e-9)
    assert 0 < got.p_value < 0.01  # a small but real difference: the p-value is in the tail


def _arrays() -> list[pa.Array | pa.ChunkedArray]:
    out: list[pa.Array | pa.ChunkedArray] = [pa.array([1.0, float("nan"), None]), pa.array([None, None], pa.float64()),
                                             pa.array([decimal.Decimal("1.5"), None])]
    for n in (0, 1, 9, 1001):
        values, mask = RNG.normal(size=n), RNG.random(n) < 0.3
        with_nulls = pa.array(values, mask=mask)
        out += [with_nulls, with_nulls.slice(min(3, n)), with_nulls.slice(min(5, n), max(0, n - 6)), pa.array(values),
                pa.array((values * 10).astype(np.int32), mask=mask).slice(min(2, n)),
                pa.chunked_array([with_nulls, with_nulls.slice(min(1, n))], type=pa.float64())]
    return out


@pytest.mark.parametrize("array", _arrays(), ids=lambda a: f"{a.type}-{len(a)}")
def test_numeric_values_read_from_buffers_equal_pyarrows_conversion(array):
    chunk = array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array
    want = pc.cast(chunk, pa.float64()).fill_null(float("nan")).to_numpy(zero_copy_only=False)
    assert np.array_equal(numeric_values(array), want, equal_nan=True)


def test_a_parquet_folder_reads_an_integer_column_of_one_file_as_the_first_files_floats(tmp_path):
    first = pd.DataFrame({"x": [0.5, 1.5, np.nan], "c": ["a", "b", None]})
    second = pd.DataFrame({"x": [3, 4], "c": ["b", "b"]})  # no NaN here: pandas writes int64
    pq.write_table(pa.Table.from_pandas(first, preserve_index=False), tmp_path / "a.parquet")
    pq.write_table(pa.Table.from_pandas(second, preserve_index=False), tmp_path / "b.parquet")
    whole = pd.concat([first, second], ignore_index=True)
    spec = infer_spec(frame_source(whole))
    assert profile_source(open_dataset(tmp_path), spec).to_dict() == profile_source(frame_source(whole), spec).to_dict()
    pq.write_table(pa.table({"x": [1.0]}), tmp_path / "c.parquet")
    with pytest.raises(DataError, match=r"c\.parquet does not match .*a\.parquet: lacks 'c'"):
        open_dataset(tmp_path)


def test_the_index_pandas_stored_in_parquet_files_is_no_column(tmp_path):
    # a filtered or shuffled frame written by pandas keeps its index as __index_level_0__; in a folder
    # each file holds its own, and a reference and current data cut by time differ there entirely
    whole = pd.DataFrame({"x": np.arange(600) % 17 * 0.5, "c": np.where(np.arange(600) % 3 == 0, "a", "b")})
    whole = whole.sample(frac=1, random_state=4)
    whole.iloc[:300].to_parquet(tmp_path / "a.parquet")
    whole.iloc[300:].to_parquet(tmp_path / "b.parquet")
    assert "__index_level_0__" in pq.read_schema(tmp_path / "a.parquet").names
    source = open_dataset(tmp_path)
    assert source.schema.names == ["x", "c"]
    spec = infer_spec(source)
    assert spec == infer_spec(frame_source(whole.reset_index(drop=True)))
    assert profile_source(open_dataset(tmp_path), spec).to_dict() == \
        profile_source(frame_source(whole.reset_index(drop=True)), spec).to_dict()


def test_a_csv_folder_profiles_as_the_same_rows_in_a_frame(tmp_path):
    rng = np.random.default_rng(5)
    whole = pd.DataFrame({"x": rng.normal(size=900), "k": rng.integers(0, 5, 900), "c": rng.choice(["a", "b"], 900)})
    whole.loc[::7, "x"] = np.nan
    whole.iloc[:400].to_csv(tmp_path / "a.csv", index=False)
    whole.iloc[400:].to_csv(tmp_path / "b.csv", index=False)
    spec = infer_spec(frame_source(whole))
    assert infer_spec(open_dataset(tmp_path)) == spec
    assert profile_source(open_dataset(tmp_path), spec).to_dict() == profile_source(frame_source(whole), spec).to_dict()


@pytest.mark.parametrize("kind", ["parquet", "csv"])
def test_monitor_imports_neither_pandas_nor_scipy_stats(tmp_path, kind):
    """Both cost 0.2-0.4 s of a run that takes about 1 s at a million rows (benchmarks/drift.py)."""
    rng = np.random.default_rng(3)
    for name, shift in (("ref", 0.0), ("cur", 0.5)):
        n = 3 * EXACT_MAX  # past the exact limit: the binned (chi-square) path
        table = pa.table({"x": rng.normal(shift, 1, n), "c": rng.choice(["a", "b"], n)})
        if kind == "parquet":
            pq.write_table(table, tmp_path / f"{name}.{kind}")
        else:
            table.to_pandas().to_csv(tmp_path / f"{name}.{kind}", index=False)
    script = f"""
import sys
from pathlib import Path
from mlgate.monitor.stage import MonitorRequest, monitor
from mlgate.monitor.reference import load_reference
from mlgate.reports import write_report
root, kind = Path({str(tmp_path)!r}), {kind!r}
load_reference(str(root / f"ref.{{kind}}"), None, root).write(root / "profile.json")
for reference in ("profile.json", f"ref.{{kind}}"):
    report = monitor(MonitorRequest(reference=str(root / reference), current=root / f"cur.{{kind}}"))
    write_report(report, root / "out")
    assert report.metrics["drifted_features"] == 1, report.metrics
print(sorted(m for m in ("pandas", "scipy.stats") if m in sys.modules))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_a_bad_value_past_the_first_block_of_a_csv_names_the_file(tmp_path):
    rows = "".join(f"{v},a\n" for v in RNG.normal(size=120_000))  # about 2 MB: the types come from 1 MB
    (tmp_path / "late.csv").write_text(f"x,c\n{rows}oops,a\n")
    spec = infer_spec(frame_source(pd.DataFrame({"x": [0.1, 0.2], "c": ["a", "b"]})))
    with pytest.raises(DataError, match=r"cannot read .*late\.csv as csv: .*'oops'"):
        profile_source(open_dataset(tmp_path / "late.csv"), spec)


def _counting(reader: ParquetFiles | CsvFiles) -> ParquetFiles | CsvFiles:
    """The same files through a reader of the same kind that counts its passes."""

    class Counting(type(reader)):  # type: ignore[misc]
        passes = 0

        def to_batches(self, *args: object):
            type(self).passes += 1
            yield from super().to_batches(*args)

    return Counting(reader.files)


@pytest.mark.parametrize(("kind", "rows", "passes"), [("parquet", 5_000, 1), ("csv", 5_000, 1),
                                                      ("parquet", SPEC_ROWS + 1, 2)])
def test_a_reference_that_fits_in_its_sample_is_read_once(tmp_path, kind, rows, passes):
    frame = pd.DataFrame({"x": RNG.normal(size=rows), "c": RNG.choice(["a", "b", "c"], rows)})
    path = tmp_path / f"ref.{kind}"
    frame.to_parquet(path, index=False) if kind == "parquet" else frame.to_csv(path, index=False)
    reader = open_dataset(path)
    counted = _counting(reader)
    once = profile_reference(counted, where=str(path))
    assert type(counted).passes == passes
    assert once.to_dict() == profile_source(reader, infer_spec(reader)).to_dict()


def test_csv_rows_with_fewer_fields_than_the_header_profile_as_pandas_reads_them(tmp_path):
    """pandas reads a short row's missing trailing fields as missing values, pyarrow stops there:
    short rows in the first block (the types come from it) and past the first megabyte (the reader
    has given batches already: they are not given twice), in the first and a second file."""
    rng = np.random.default_rng(8)
    n = 60_000  # about 2.3 MB of text: four blocks
    whole = pd.DataFrame({"x": rng.normal(size=n).round(6), "k": rng.integers(0, 5, n),
                          "c": rng.choice(["a", "b"], n), "y": rng.normal(size=n).round(6)})
    for name, part in (("a.csv", whole.iloc[:40_000]), ("b.csv", whole.iloc[40_000:])):
        lines = part.to_csv(index=False).splitlines(keepends=True)
        for row in (2, len(lines) - 30):  # cut after the 2nd field: c and y missing
            lines[row] = ",".join(lines[row].split(",")[:2]) + "\n"
        (tmp_path / name).write_text("".join(lines))
    read = pd.concat([pd.read_csv(tmp_path / f) for f in ("a.csv", "b.csv")], ignore_index=True)
    assert read["y"].isna().sum() == 4
    spec = infer_spec(frame_source(read))
    assert infer_spec(open_dataset(tmp_path)) == spec
    assert open_dataset(tmp_path).count_rows() == n
    assert profile_source(open_dataset(tmp_path), spec).to_dict() == profile_source(frame_source(read), spec).to_dict()
    with pytest.raises(DataError, match=r"too_long\.csv as csv: .*Expected 4 columns, got 5"):
        (tmp_path / "too_long.csv").write_text("x,k,c,y\n1,2,a,3\n1,2,a,3,4\n")
        profile_source(open_dataset(tmp_path / "too_long.csv"), spec)
