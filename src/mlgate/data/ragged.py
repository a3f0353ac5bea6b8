"""CSV rows with fewer fields than the header, read as pandas reads them: the missing fields empty.

pyarrow's CSV reader stops at such a row ("Expected 3 columns, got 2"), where ``pandas.read_csv``
gives the missing trailing fields as missing values; so a file that ``mlgate train`` reads whole
would have failed the streamed ``mlgate validate``. A file found to hold one (``mark``) is read
again from ``padded_copy``: the csv module reads each row and writes it back with empty fields
added up to the header's width, and pyarrow reads that copy. It costs a pass through the csv module
and the file's size in temporary space, so only such files take it. Rows with more fields than
the header stay an error, as in pandas.
"""

from __future__ import annotations

import atexit
import csv
import io
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

from mlgate.locations.objectstore import RemoteFile

_SHORT = re.compile(r"Expected (\d+) columns, got (\d+)")
Key = tuple[str, int]  # a file and its size in bytes
_RAGGED: set[Key] = set()  # the files known to hold short rows
_COPIES: dict[Key, Path] = {}  # their padded copies


def key_of(file: Path | RemoteFile) -> Key:
    """A file's key: its name and size."""
    return str(file), file.size if isinstance(file, RemoteFile) else file.stat().st_size


def padded(file: Path | RemoteFile, sep: str) -> Path:
    """``padded_copy`` of a local or remote file."""
    def open_raw() -> IO[bytes]:
        return file.open_stream() if isinstance(file, RemoteFile) else file.open("rb")

    return padded_copy(key_of(file), open_raw, sep)


def short_row(exc: BaseException) -> bool:
    """Whether pyarrow's parse error is a row with fewer fields than the header."""
    found = _SHORT.search(str(exc))
    return found is not None and int(found.group(2)) < int(found.group(1))


def mark(key: Key) -> bool:
    """Remember that the file holds short rows; False when it was known (padding did not help)."""
    if key in _RAGGED:
        return False
    _RAGGED.add(key)
    return True


def is_ragged(key: Key) -> bool:
    return key in _RAGGED


def padded_copy(key: Key, open_raw: Callable[[], IO[bytes]], sep: str) -> Path:
    """A copy of the CSV text ``open_raw()`` gives (bytes, UTF-8) with each short row given empty
    fields at its end, in a temporary folder removed when the process ends; made once per file.
    A file, not a stream handed to pyarrow: pyarrow 14 reads a Python stream from a thread of its
    own and waits for it holding the interpreter lock (a deadlock, seen in the lower-bounds env)."""
    if key in _COPIES:
        return _COPIES[key]
    folder = Path(tempfile.mkdtemp(prefix="mlgate-padded-"))
    atexit.register(shutil.rmtree, folder, True)
    path = folder / "padded.csv"
    with open_raw() as raw, io.TextIOWrapper(raw, encoding="utf-8", newline="") as text, \
            path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, delimiter=sep, lineterminator="\n")
        width: int | None = None
        for row in csv.reader(text, delimiter=sep):
            if width is None:
                width = len(row)
            elif 0 < len(row) < width:
                row += [""] * (width - len(row))
            writer.writerow(row)
    _COPIES[key] = path
    return path
