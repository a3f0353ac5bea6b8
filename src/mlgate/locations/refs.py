"""Where a data reference points, what it holds, and how to get it.

A data reference (a ``data:`` path in mlgate.yaml, ``--data``, ``--reference``, ``--current``,
``--labels``) is one of:

    local path        data/train.csv, a folder of CSV/Parquet files, or ``file:///abs/path``
    DVC-tracked path  the same, with a ``data/train.csv.dvc`` record (or a ``dvc.lock`` output):
                      fingerprinted from DVC's recorded MD5 while absent, pulled when read
    object URI        s3://bucket/key, gs://bucket/key, az://container/key (an object or a prefix)

``fingerprints`` gives the content fingerprints the pipeline's cache keys hold, reading no data
that need not be read: a local file's SHA-256 is remembered by (size, mtime), a DVC-tracked file's
MD5 comes from DVC's record while the file is absent, an object's from its ETag. ``fetch`` pulls
absent DVC-tracked inputs before a stage reads them. What a CI job pulls is in ``mlgate.sources``.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from mlgate.errors import DataError
from mlgate.locations import dvc
from mlgate.locations.objectstore import STORES, RemoteFile, is_uri, remote_files

__all__ = ["TABLE_SUFFIXES", "DataRef", "as_ref", "check", "fetch", "file_sha256", "fingerprints", "flag_ref", "is_uri",
           "label", "local_files", "local_inputs", "table_files", "unsupported_scheme"]

DataRef = Path | str  # a str is always an object-storage URI; everything else is a Path

TABLE_SUFFIXES = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".parquet": "parquet", ".pq": "parquet"}


def table_files(path: DataRef) -> list[Path | RemoteFile]:
    """The data files behind a path: the file itself, or a folder's CSV/Parquet files sorted.

    An object URI lists its object or the table objects under its prefix; a DVC-tracked path
    that is not in the workspace is pulled first (``dvc pull``).
    """
    if isinstance(path, str) and is_uri(path):
        return list(remote_files(path, TABLE_SUFFIXES))
    path = Path(path)
    if not path.exists() and (found := dvc.tracked(path)) is not None:
        dvc.pull([found[0]], str(path))
    return list(local_files(path))


def pandas_index_columns(schema: Any) -> set[str]:
    """The columns of a Parquet file's Arrow ``schema`` that hold the index pandas stored beside the
    data (``__index_level_0__`` of a shuffled or filtered frame): reading the file restores them as
    the index, so they are no column of the table."""
    stored = (schema.pandas_metadata or {}).get("index_columns", [])
    return {c for c in stored if isinstance(c, str)}  # (a RangeIndex is stored as a dict, not a column)


def local_files(path: Path) -> list[Path]:
    """The files behind a local path: the file itself, or a folder's CSV/Parquet files sorted."""
    if not path.exists():
        raise DataError(f"data path {path} does not exist")
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in TABLE_SUFFIXES)
        if not files:
            raise DataError(f"folder {path} holds no .csv or .parquet files")
        return files
    return [path]


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def as_ref(raw: str | Path, root: Path | None = None) -> DataRef:
    """A reference as given, made usable: ``s3://b/k`` unchanged, ``file:///d/x.csv`` -> ``Path('/d/x.csv')``,
    a relative path resolved against ``root`` (default: the current folder)."""
    text = str(raw)
    if is_uri(text):
        return text
    if text.lower().startswith("file://"):
        parts = urlsplit(text)
        if parts.netloc not in ("", "localhost"):
            raise DataError(f"{text}: a file:// URI names a local path (file:///abs/path), not host {parts.netloc!r}")
        return Path(unquote(parts.path))
    if "://" in text:
        raise DataError(f"{text}: {unsupported_scheme(text)}")
    path = Path(text).expanduser()
    return path if path.is_absolute() else (root or Path.cwd()).absolute() / path


def unsupported_scheme(uri: str) -> str | None:
    """What is wrong with a URI's scheme, or None when mlgate reads it."""
    scheme = uri.split("://", 1)[0].lower()
    if is_uri(uri) or scheme == "file":
        return None
    known = ", ".join(f"{s}://" for store in STORES.values() for s in store.schemes)
    return f"mlgate reads local paths, file:// and {known} (got {scheme}://)"


def flag_ref(value: str) -> DataRef:
    """A data flag's value (``--data``, ``--reference``, ``--current``, ``--labels``): an object URI
    as given, ``file://`` as its path, any other value as a path relative to the current folder.
    The CLI's parser for those flags: a ``Path`` type would fold ``s3://b/k`` into ``s3:/b/k``."""
    text = str(value)
    return text if is_uri(text) else as_ref(text) if "://" in text else Path(text)


def label(ref: DataRef) -> str:
    """A short name for messages and reports: the file or object name."""
    return ref.rstrip("/").rsplit("/", 1)[-1] if isinstance(ref, str) else ref.name


def check(ref: DataRef, where: str) -> None:
    """DataError unless ``ref`` can be read: a local path that exists or that DVC tracks, or a URI
    whose object (or prefix) answers. ``where`` names the key or flag (``data.train in mlgate.yaml``)."""
    if isinstance(ref, str):
        try:
            remote_files(ref, TABLE_SUFFIXES)
        except DataError as exc:
            raise DataError(f"{where}: {exc}") from exc
        return
    if ref.exists():
        return
    found = dvc.tracked(ref)
    if found is None:
        raise DataError(f"{where} is {ref}, which does not exist (nor does a DVC record of it); "
                        "put the data there, track it with DVC, or change the path")
    dvc.check_pullable(found[0], where)


def fetch(refs: Iterable[DataRef], wanted: str) -> list[str]:
    """Pull the absent DVC-tracked paths among ``refs`` (one ``dvc pull`` per DVC project); the targets."""
    outputs = []
    for ref in refs:
        if isinstance(ref, Path) and not ref.exists():
            found = dvc.tracked(ref)
            if found is not None:
                outputs.append(found[0])
    return dvc.pull(outputs, wanted)


def fingerprints(refs: Iterable[DataRef], memo: dict[str, Any], rel: Callable[[Path], str]) -> dict[str, str]:
    """A content fingerprint per data file behind ``refs``, without reading data that need not be read.

    Keys are ``rel(path)`` (or the object URI), values ``<sha256>`` for a plain local file (as
    before data sources existed, so existing caches stay valid), ``dvc-md5:<md5>`` for DVC-tracked
    data (the same whether the file is present or not), ``etag:<etag>:size:<n>`` for an object.
    ``memo`` is the (size, mtime) -> hash memo kept in ``.mlgate/hashes.json``.
    """
    out: dict[str, str] = {}
    for ref in refs:
        if isinstance(ref, str):
            out.update({f.uri: f.fingerprint() for f in remote_files(ref, TABLE_SUFFIXES)})
            continue
        found = dvc.tracked(ref)
        if found is None:
            out.update({rel(f): _hashed(f, memo, "sha256") for f in local_files(ref)})
        else:
            out.update(_dvc_fingerprints(ref, found, memo, rel))
    return out


def _dvc_fingerprints(path: Path, found: tuple[dvc.DvcOutput, str], memo: dict[str, Any],
                      rel: Callable[[Path], str]) -> dict[str, str]:
    output, inner = found
    manifest = output.manifest() or {}
    if not path.exists():
        recorded = manifest.get(inner) if inner else output.md5
        return {rel(path): f"dvc-md5:{recorded or output.md5 + '/' + inner}"}
    if path.is_file():
        digest = _hashed(path, memo, "md5")
        recorded = manifest.get(inner) if inner else output.md5
        if recorded and digest != recorded and not output.legacy:
            _warn_differs(path, output)
        return {rel(path): f"dvc-md5:{digest}"}
    files = sorted(p for p in path.iterdir() if p.suffix.lower() in TABLE_SUFFIXES)
    local = {f.relative_to(path).as_posix(): _hashed(f, memo, "md5") for f in files}
    prefix = f"{inner}/" if inner else ""
    expected = {k.removeprefix(prefix): v for k, v in manifest.items() if k.startswith(prefix)
                and "/" not in k.removeprefix(prefix) and Path(k).suffix.lower() in TABLE_SUFFIXES}
    if not inner and local and local == expected:  # the folder is as recorded: the key a clone without it gets
        return {rel(path): f"dvc-md5:{output.md5}"}
    return {rel(f): f"dvc-md5:{local[f.relative_to(path).as_posix()]}" for f in files}


_WARNED: set[Path] = set()


def _warn_differs(path: Path, output: dvc.DvcOutput) -> None:
    """Say once that the workspace file is not what DVC recorded: stale after a `git pull`, or edited."""
    if path in _WARNED:
        return
    _WARNED.add(path)
    record = output.record.relative_to(output.repo).as_posix()
    print(f"mlgate: {path} is not the version {record} records; mlgate reads the workspace file. "
          f"Run `dvc checkout {record}` (or `dvc pull`) for the recorded data, or `dvc add` to record yours",
          file=sys.stderr, flush=True)


def _hashed(path: Path, memo: dict[str, Any], kind: str) -> str:
    """The file's SHA-256 or MD5, remembered by (size, mtime) so an unchanged file is read once."""
    stat = path.stat()
    entry = memo.get(str(path))
    if not entry or entry.get("size") != stat.st_size or entry.get("mtime_ns") != stat.st_mtime_ns:
        entry = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    if kind not in entry:
        entry[kind] = file_sha256(path) if kind == "sha256" else dvc.local_md5(path)
    memo[str(path)] = entry
    return str(entry[kind])


def local_inputs(refs: Iterable[DataRef]) -> list[Path] | None:
    """The local files whose size and mtime say whether ``refs`` changed (for the no-op stamp),
    DVC records included; None when a reference is an object URI (only a HEAD request can tell)."""
    out: list[Path] = []
    for ref in refs:
        if isinstance(ref, str):
            return None
        found = dvc.tracked(ref)
        if found is not None:
            out.append(found[0].record)
        out.append(ref)
        if ref.is_dir():
            out += sorted(p for p in ref.iterdir() if p.suffix.lower() in TABLE_SUFFIXES)
    return out
