"""Column kinds and seeded perturbations shared by the robustness and edge-case checks."""

from __future__ import annotations

import numpy as np
import pandas as pd


def numeric_columns(frame: pd.DataFrame) -> list[str]:
    """Numeric columns, booleans excluded (they behave like categories)."""
    return [c for c in frame.columns
            if pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])]


def categorical_columns(frame: pd.DataFrame) -> list[str]:
    """Every column that is not numeric: strings, categories, booleans."""
    numeric = set(numeric_columns(frame))
    return [c for c in frame.columns if c not in numeric]


ATOM_SHARE = 0.2  # a value this share of a column's rows hold exactly is a state, not a measurement


def atoms(frame: pd.DataFrame, columns: list[str], share: float = ATOM_SHARE) -> dict[str, np.ndarray]:
    """Each numeric column's values that at least ``share`` of its non-missing values hold exactly:
    recorded states (no rain as 0 mm, a count of 0, a capped maximum), which measurement noise does
    not blur. Noise on them made a model that splits on "precipitation is 0" look fragile: 57% of
    the rows moved off zero by a few tenths of a millimetre that the data never holds."""
    out = {}
    for col in columns:
        counts = frame[col].value_counts(normalize=True, dropna=True)
        held = counts.index[counts.to_numpy() >= share]
        if len(held):
            out[col] = np.asarray(held, dtype=float)
    return out


def add_noise(frame: pd.DataFrame, scale: dict[str, float], level: float,
              rng: np.random.Generator, kept: dict[str, np.ndarray] | None = None) -> pd.DataFrame:
    """Gaussian noise with std ``level * scale[col]`` on numeric columns; integers stay integers,
    and values in ``kept[col]`` (``atoms``) stay as they are."""
    out = frame.copy()
    for col, std in scale.items():
        values = out[col].to_numpy(dtype=float, na_value=np.nan)
        noisy = values + rng.normal(0.0, level * std, len(values))  # drawn for every row: the same stream
        if kept and col in kept:
            noisy = np.where(np.isin(values, kept[col]), values, noisy)
        if pd.api.types.is_integer_dtype(out[col]):
            out[col] = np.round(noisy).astype(out[col].dtype)
        else:
            out[col] = noisy
    return out


def swap_categories(frame: pd.DataFrame, levels: dict[str, np.ndarray], rate: float,
                    rng: np.random.Generator) -> pd.DataFrame:
    """Replace a share ``rate`` of each categorical column's cells by another observed category."""
    out = frame.copy()
    for col, values in levels.items():
        if len(values) < 2 or rate <= 0:
            continue
        hit = rng.random(len(out)) < rate
        if not hit.any():
            continue
        current = out[col].to_numpy()
        # draw among the other categories: shift a uniform index past the current value's index
        pos = pd.Index(values).get_indexer(current[hit])
        draw = rng.integers(0, len(values) - 1, hit.sum())
        draw = np.where((pos >= 0) & (draw >= pos), draw + 1, draw)
        column = current.copy()
        column[hit] = values[draw]
        out[col] = pd.Series(column, index=out.index).astype(out[col].dtype)
    return out


def category_levels(frame: pd.DataFrame, columns: list[str]) -> dict[str, np.ndarray]:
    """The observed (non-missing) values of each categorical column."""
    return {c: pd.unique(frame[c].dropna().to_numpy()) for c in columns}
