"""The streamed scan's row hashes: equal rows (under the in-memory path's normalisation) hash
equal, different rows do not, including the structured rows real tables hold."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlgate.data.rowhash import row_hashes, text_codes


def test_rows_equal_after_normalising_hash_equal() -> None:
    a = pd.DataFrame({"x": [1.0, -0.0, np.nan, 2.5], "t": ["a", None, "b", "True"], "b": [True, False, True, True]})
    b = pd.DataFrame({"x": [1, 0, 0, 0], "t": pd.Categorical(["a", "c", "b", "True"]),
                      "b": ["True", "False", "True", "True"]})
    b.loc[2, "x"] = np.nan  # int column with a hole: float64, as pandas reads it
    b["x"] = b["x"].astype("float64")
    b.loc[1, "x"] = 0.0
    b["t"] = b["t"].cat.set_categories(["a", "b", "c", "True"])
    b.loc[1, "t"] = None
    b.loc[3, "x"] = 2.5
    assert (row_hashes(a, ("x", "t", "b")) == row_hashes(b, ("x", "t", "b"))).all()


def test_every_nan_payload_and_missing_text_is_one_value() -> None:
    odd_nan = np.frombuffer(np.uint64(0x7FF8000000000123).tobytes(), dtype=np.float64)[0]
    frame = pd.DataFrame({"x": [np.nan, odd_nan, -np.nan], "t": [None, np.nan, None]}).astype({"t": object})
    hashes = row_hashes(frame, ("x", "t"))
    assert len(set(hashes.tolist())) == 1


def test_given_codes_give_the_hashes_computed_without_them() -> None:
    frame = pd.DataFrame({"t": ["u", "v", None, "u"], "n": [1, 2, 3, 4]})
    assert (row_hashes(frame, ("t", "n"), {"t": text_codes(frame["t"])}) == row_hashes(frame, ("t", "n"))).all()


def test_structured_rows_do_not_collide() -> None:
    # 1M distinct rows of small whole numbers stored as floats (their low bits all zero), the kind of
    # values a purely multiplicative hash of the bits cancels on; plus swapped and shifted copies
    grid = np.stack(np.meshgrid(np.arange(100.0), np.arange(100.0), np.arange(100.0)), -1).reshape(-1, 3)
    frame = pd.DataFrame(grid, columns=["a", "b", "c"])
    assert len(np.unique(row_hashes(frame, ("a", "b", "c")))) == len(frame)
    swapped = frame.rename(columns={"a": "b", "b": "a"})[["a", "b", "c"]]
    both = np.concatenate([row_hashes(frame, ("a", "b", "c")), row_hashes(swapped, ("a", "b", "c"))])
    distinct_rows = len(pd.concat([frame, swapped]).drop_duplicates())
    assert len(np.unique(both)) == distinct_rows


def test_the_top_bits_spread_rows_over_the_partitions() -> None:
    frame = pd.DataFrame({"i": np.arange(256_000)})
    top = (row_hashes(frame, ("i",)) >> np.uint64(56)).astype(np.int64)
    counts = np.bincount(top, minlength=256)
    assert counts.min() > 800 and counts.max() < 1200  # 1,000 expected in each
