"""Read tables (CSV, Parquet, or a folder of either) and split them; errors name the file."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import cache, partial
from pathlib import Path
from typing import TYPE_CHECKING, Union

from mlgate.errors import DataError
from mlgate.locations.objectstore import RemoteFile
from mlgate.locations.refs import TABLE_SUFFIXES, DataRef, as_ref, table_files

if TYPE_CHECKING:
    import pandas as pd

    from mlgate.config import Config


def load_table(path: str | Path) -> pd.DataFrame:
    """Load one CSV or Parquet file, or concatenate a folder of them."""
    import pandas as pd

    files = table_files(as_ref(path))
    frames = [_read_one(f) for f in files]
    if len(frames) == 1:
        return frames[0]
    _same_columns(files, frames)
    return pd.concat(frames, ignore_index=True)


def _read_one(file: Path | RemoteFile) -> pd.DataFrame:
    import pandas as pd

    kind = TABLE_SUFFIXES.get(file.suffix.lower())
    if kind is None:
        raise DataError(f"{file}: unsupported file type {file.suffix!r}; use .csv or .parquet")
    if (file.size if isinstance(file, RemoteFile) else file.stat().st_size) == 0:
        raise DataError(f"{file} is empty (0 bytes)")
    try:
        frame = _read_parquet(file) if kind == "parquet" else _read_csv(file)
    except DataError:
        raise
    except UnicodeDecodeError as exc:
        raise DataError(f"{file} is not UTF-8 text ({exc.reason} at byte {exc.start}); "
                        "save it as UTF-8") from exc
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise DataError(f"cannot read {file}: {_first_line(exc)}") from exc
    if frame.empty:
        raise DataError(f"{file} has a header but no rows")
    return frame


def _read_parquet(file: Path | RemoteFile) -> pd.DataFrame:
    """Read Parquet, freeing each Arrow column once converted (a third less peak memory); an object
    by ranged reads of its footer and column chunks, not downloaded first."""
    import pyarrow.parquet as pq

    source = file.open_random() if isinstance(file, RemoteFile) else file
    return pq.read_table(source).to_pandas(split_blocks=True, self_destruct=True)


def _read_csv(file: Path | RemoteFile) -> pd.DataFrame:
    import pandas as pd

    sep = "\t" if file.suffix.lower() == ".tsv" else _sniff_separator(file)
    source = file.open_stream() if isinstance(file, RemoteFile) else file  # an object: streamed
    try:
        frame = pd.read_csv(source, sep=sep, low_memory=False, **_exact_floats(pd.__version__))
    except pd.errors.EmptyDataError as exc:
        raise DataError(f"{file} has no columns (is it empty?)") from exc
    _check_delimiter(file, frame, sep)
    return frame


def _exact_floats(pandas_version: str) -> dict[str, str]:
    """Floats parsed exactly, as the streaming reader (pyarrow) does: pandas 2 drops the 17th digit
    by default, so a table read whole would differ from one read in batches; pandas 3 parses exactly
    and deprecates the option."""
    return {"float_precision": "round_trip"} if int(pandas_version.split(".")[0]) < 3 else {}


def _check_delimiter(file: Path | RemoteFile, frame: pd.DataFrame, sep: str) -> None:
    """Catch a delimiter that does not split the file: one column, or rows that do not split."""
    shown = {"\t": "tab"}.get(sep, repr(sep))
    if frame.shape[1] == 1:
        header = str(frame.columns[0])
        for other in (":", " ", "^", "~", "#"):
            if len([p for p in header.split(other) if p.strip()]) >= 2:
                raise DataError(f"{file} reads as one column {header!r}: its delimiter looks like "
                                f"{other!r}, but mlgate reads ',', ';', tab or '|'; save it as CSV "
                                "with commas")
    elif len(frame) and bool(frame.iloc[:, 1:].isna().all().all()):
        raise DataError(f"{file}: rows do not split into the header's {frame.shape[1]} columns "
                        f"({', '.join(map(repr, list(frame.columns)[:5]))}) with the header's "
                        f"delimiter {shown}; header and rows use different delimiters")


def _sniff_separator(file: Path | RemoteFile) -> str:
    """Comma unless the header clearly uses another delimiter (';', tab or '|')."""
    if isinstance(file, RemoteFile):
        head = file.head(65536).split(b"\n", 1)[0]
    else:
        with file.open("rb") as fh:
            head = fh.readline(65536)
    try:
        header = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{file} is not UTF-8 text (bad byte at position {exc.start} of the "
                        "header); save it as UTF-8") from exc
    counts = {sep: header.count(sep) for sep in (",", ";", "\t", "|")}
    best = max(counts, key=lambda s: counts[s])
    return best if counts[best] > counts[","] else ","


def _same_columns(files: list[Path | RemoteFile], frames: list[pd.DataFrame]) -> None:
    first = list(frames[0].columns)
    for file, frame in zip(files[1:], frames[1:], strict=True):
        if list(frame.columns) != first:
            missing = sorted(set(first) - set(frame.columns))
            extra = sorted(set(frame.columns) - set(first))
            raise DataError(f"{file} has other columns than {files[0].name}: "
                            f"missing {missing}, extra {extra}")


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def require_columns(frame: pd.DataFrame, columns: list[str], where: str) -> None:
    """Raise a DataError naming each column of ``columns`` that ``frame`` lacks."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        shown = ", ".join(map(repr, list(frame.columns)[:12]))
        raise DataError(f"{where} has no column {', '.join(map(repr, missing))} "
                        f"(columns: {shown}{', ...' if frame.shape[1] > 12 else ''})")


Table = Union["pd.DataFrame", Callable[[], "pd.DataFrame"]]  # a frame, or how to load it when first used


class Dataset:
    """The train and test tables of a project, target column included.

    Each table is read when first asked for, so a stage reads only what its cache key holds:
    tune and train never read a separate test file, evaluate and compare never the train file
    (and a CI job of theirs pulls only its own table). One file split in two is read once.
    """

    def __init__(self, train: Table, test: Table, target: str, sources: list[DataRef]) -> None:
        self._train, self._test, self.target, self.sources = train, test, target, sources

    @property
    def train(self) -> pd.DataFrame:
        if callable(self._train):
            self._train = self._train()
        return self._train

    @property
    def test(self) -> pd.DataFrame:
        if callable(self._test):
            self._test = self._test()
        return self._test

    def features(self, frame: pd.DataFrame) -> pd.DataFrame:
        return frame.drop(columns=[self.target])


def load_dataset(config: Config) -> Dataset:
    """Train and test as the config says: two files, or one file split with a seed; each read when first used."""
    data = config.data
    drop = list(data.id_columns)
    if data.path or not data.test:
        source = config.data_ref(data.path or data.train or "")
        pair = cache(partial(_split_table, source, config, drop))
        return Dataset(train=lambda: pair()[0], test=lambda: pair()[1], target=data.target, sources=[source])
    assert data.train is not None  # guaranteed by DataConfig's validator
    train_path, test_path = config.data_ref(data.train), config.data_ref(data.test)
    return Dataset(train=partial(_load_checked, train_path, data.target, drop),
                   test=partial(_load_checked, test_path, data.target, drop),
                   target=data.target, sources=[train_path, test_path])


def _split_table(source: DataRef, config: Config, drop: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    data = config.data
    frame = load_table(source)
    require_columns(frame, [data.target], str(source))
    train, test = split_frame(frame, data.target, data.split.test, data.split.seed, stratify=data.split.stratify)
    return train.drop(columns=drop, errors="ignore"), test.drop(columns=drop, errors="ignore")


def _load_checked(path: DataRef, target: str, drop: list[str]) -> pd.DataFrame:
    table = load_table(path)
    require_columns(table, [target], str(path))
    return table.drop(columns=drop, errors="ignore")


def split_frame(frame: pd.DataFrame, target: str, test_size: float, seed: int,
                *, stratify: bool = True, classes: bool | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A seeded split, stratified on the target when it looks like classes.

    The one splitter of mlgate: ``data.split`` (train/test) and train's validation split.
    ``classes`` says whether the target is classes (the task is known) instead of guessing
    from its values; either way every class needs two rows to stratify.
    """
    from sklearn.model_selection import train_test_split

    y = frame[target]
    looks = _looks_categorical(y) if classes is None else classes and y.value_counts().min() >= 2
    strata = y if stratify and looks else None
    train, test = train_test_split(frame, test_size=test_size, random_state=seed, stratify=strata)
    return train.reset_index(drop=True), test.reset_index(drop=True)


def _looks_categorical(y: pd.Series) -> bool:
    counts = y.value_counts()
    return y.nunique() <= 50 and counts.min() >= 2


def frame_fingerprint(frame: pd.DataFrame) -> str:
    """SHA-256 over a table's columns, dtypes and values (row order matters)."""
    import pandas as pd

    digest = hashlib.sha256()
    digest.update(repr([(str(c), str(t)) for c, t in frame.dtypes.items()]).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()
