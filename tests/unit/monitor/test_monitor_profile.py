"""Profiles: merge equals the profile of the whole, JSON round trip, spec inference, column checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlgate.errors import DataError
from mlgate.monitor.batches import frame_source, infer_spec, open_dataset, profile_source
from mlgate.monitor.profile import EXACT_MAX, TableProfile, empty_profile, profile_table


def _frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, n)
    x[rng.random(n) < 0.05] = np.nan
    return pd.DataFrame({"x": x, "k": rng.integers(0, 7, n), "c": rng.choice(["a", "b", "c", "d"], n),
                         "flag": rng.random(n) < 0.3})


@pytest.mark.parametrize("n", [300, 3 * EXACT_MAX], ids=["exact-values", "bins-only"])
def test_profile_of_two_files_equals_merge_of_their_profiles(tmp_path, n):
    whole = _frame(n, 1)
    spec = infer_spec(frame_source(_frame(2000, 0)))
    first, second = whole.iloc[: n // 3], whole.iloc[n // 3:]
    pq.write_table(pa.Table.from_pandas(first, preserve_index=False), tmp_path / "a.parquet")
    pq.write_table(pa.Table.from_pandas(second, preserve_index=False), tmp_path / "b.parquet")
    merged = (profile_source(open_dataset(tmp_path / "a.parquet"), spec)
              .merge(profile_source(open_dataset(tmp_path / "b.parquet"), spec)))
    one = profile_source(frame_source(whole), spec)
    folder = profile_source(open_dataset(tmp_path), spec)  # a folder of both, read batch by batch
    assert merged.to_dict() == one.to_dict() == folder.to_dict()
    assert one.rows == n and one.columns["x"].n + one.columns["x"].missing == n
    assert (one.columns["x"].sample is None) == (n > EXACT_MAX)


def test_merge_is_associative_and_empty_is_identity():
    spec = infer_spec(frame_source(_frame(500, 0)))
    a, b, c = (profile_table(frame_source(_frame(200, s)), spec) for s in (1, 2, 3))
    assert a.merge(b).merge(c).to_dict() == a.merge(b.merge(c)).to_dict()
    assert empty_profile(spec).merge(a).to_dict()["columns"] == a.to_dict()["columns"]


def test_profiles_of_different_specs_do_not_merge():
    a = profile_table(frame_source(_frame(100, 1)), infer_spec(frame_source(_frame(100, 1))))
    b = profile_table(frame_source(_frame(100, 2)), infer_spec(frame_source(_frame(100, 2))))
    with pytest.raises(DataError, match="different reference specs"):
        a.merge(b)


def test_json_round_trip(tmp_path):
    frame = _frame(400, 3)
    profile = profile_source(frame_source(frame), infer_spec(frame_source(frame)))
    profile.meta["target"] = "k"
    back = TableProfile.read(profile.write(tmp_path / "p.json"))
    assert back.to_dict() == profile.to_dict()


def test_damaged_profile_is_a_data_error(tmp_path):
    (tmp_path / "p.json").write_text('{"format": "something else"}')
    with pytest.raises(DataError, match="not an mlgate monitor profile"):
        TableProfile.read(tmp_path / "p.json")


def test_spec_kinds_ids_and_percentile_bins():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"id": [f"C{i}" for i in range(5000)], "x": rng.normal(size=5000),
                          "when": pd.date_range("2024-01-01", periods=5000, freq="min"),
                          "c": rng.choice(list("pq"), 5000)})
    spec = infer_spec(frame_source(frame))
    assert spec.names == ["x", "c"] and set(spec.ignored) == {"id", "when"}
    x = spec.column("x")
    assert x.kind == "numeric" and set(x.deciles) <= set(x.edges) and 101 <= len(x.edges) <= 110
    counts = profile_table(frame_source(frame), spec).columns["x"].counts
    assert max(counts[1:-1]) <= 0.011 * 5000  # about 1% of the reference per percentile bin
    assert spec.column("c").levels == ("p", "q") or spec.column("c").levels == ("q", "p")


def test_current_columns_are_checked_against_the_reference():
    ref = _frame(300, 0)
    spec = infer_spec(frame_source(ref))
    with pytest.raises(DataError, match=r"lacks the reference column\(s\) 'k'"):
        profile_source(frame_source(ref.drop(columns=["k"])), spec)
    with pytest.raises(DataError, match=r"has column\(s\) the reference does not: 'new'"):
        profile_source(frame_source(ref.assign(new=1)), spec)
    with pytest.raises(DataError, match="column 'x' holds string values, the reference holds numeric"):
        profile_source(frame_source(ref.assign(x=ref["x"].astype(str))), spec)
