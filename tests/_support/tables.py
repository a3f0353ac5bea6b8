"""Real tables that ship inside scikit-learn (no download), as plain DataFrames."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd


def sklearn_table(loader: Callable[..., object]) -> Callable[[], pd.DataFrame]:
    """A loader of one of scikit-learn's bundled tables, with string column names."""
    def load() -> pd.DataFrame:
        frame = loader(as_frame=True).frame  # type: ignore[attr-defined]
        frame.columns = [str(c) for c in frame.columns]
        return frame

    return load
