"""Real tables that ship inside installed packages (no download), as plain DataFrames.

scikit-learn's bundled tables are all numbers without a missing value. The messy ones come from
statsmodels (``statsmodels.datasets``: survey codes, firm names, country names with many missing
values) and palmerpenguins (text columns and missing values); both are in the dev extra.
"""

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


def penguins() -> pd.DataFrame:
    """344 penguins: species (3 classes, the target), island and sex as text (11 sexes missing),
    four measurements (2 rows missing each), the year."""
    from palmerpenguins import load_penguins

    return _plain_text(load_penguins())


def anes96() -> pd.DataFrame:
    """944 answers of the 1996 American National Election Study: the vote (Clinton 0, Dole 1) and
    party identification (PID, 0-6), which carries most of the vote."""
    from statsmodels.datasets import anes96 as data

    return data.load_pandas().data.drop(columns=["logpopul"])


def grunfeld() -> pd.DataFrame:
    """220 firm-years (1935-1954): investment, value, capital, the firm's name as text."""
    from statsmodels.datasets import grunfeld as data

    return _plain_text(data.load_pandas().data)


def fertility() -> pd.DataFrame:
    """World Bank fertility rates for 219 countries, 1990-2011 kept: a near-unique country name and
    code, missing values; rows without the 2011 figure (the target, ``rate_2011``) dropped."""
    from statsmodels.datasets import fertility as data

    frame = data.load_pandas().data.drop(columns=["Indicator Name", "Indicator Code"])
    frame.columns = [c if not c.isdigit() else f"rate_{c}" for c in frame.columns]
    frame = frame[[c for c in frame.columns if not c.startswith("rate_") or 1990 <= int(c[5:]) <= 2011]]
    return _plain_text(frame.dropna(subset=["rate_2011"]).reset_index(drop=True))


def fair() -> pd.DataFrame:
    """6,366 answers of the Redbook survey on extramarital affairs (time spent, heavy-tailed);
    ``had_affair`` (the binary target) says whether it is above 0, the count itself dropped."""
    from statsmodels.datasets import fair as data

    frame = data.load_pandas().data
    return frame.assign(had_affair=(frame.pop("affairs") > 0).astype(int))


def _plain_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Text columns as plain objects, as a CSV reader returns them."""
    for column in frame.columns:
        if not pd.api.types.is_numeric_dtype(frame[column]):
            frame[column] = frame[column].astype(object)
    return frame


# name -> (loader, target column, a numeric column to shift, a text column to shift)
MESSY_TABLES: dict[str, tuple[Callable[[], pd.DataFrame], str, str, str | None]] = {
    "penguins": (penguins, "species", "flipper_length_mm", "island"),
    "anes96": (anes96, "vote", "age", None),
    "grunfeld": (grunfeld, "invest", "value", "firm"),
    "fertility": (fertility, "rate_2011", "rate_1990", None),
    "fair": (fair, "had_affair", "age", None),
}
