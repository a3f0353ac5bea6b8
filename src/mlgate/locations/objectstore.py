"""Tables in object storage (``s3://``, ``gs://``, ``az://``) read through pyarrow's filesystems.

A URI names one object or a prefix holding CSV/Parquet objects, as a local path names a file
or a folder. Objects are read where they are: Parquet by ranged reads, CSV as a stream; nothing
is downloaded first. A fingerprint is the object's ETag and size from one HEAD request, so a
cache key needs no data. Credentials come the standard way of each cloud's SDK (environment
variables, profiles, instance identity), never from mlgate.yaml; ``STORES`` names the variables
of each, for error messages, the docs and the generated CI files.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, ClassVar, NoReturn
from urllib.parse import urlsplit

from mlgate.errors import DataError

__all__ = ["STORES", "ObjectStore", "RemoteFile", "is_uri", "remote_files", "store_of"]


class ObjectStore:
    """One kind of object storage: its URI schemes, the variables that configure it, its filesystem."""

    name: ClassVar[str]
    schemes: ClassVar[tuple[str, ...]]
    credentials: ClassVar[str]  # how to give the credentials, for messages
    variables: ClassVar[tuple[str, ...]]  # CI variables a job reading this store needs (some optional)
    endpoint: ClassVar[str] = ""

    @classmethod
    def filesystem(cls, bucket: str) -> Any:
        raise NotImplementedError


class S3(ObjectStore):
    """Amazon S3 and S3-compatible servers (MinIO, Ceph, ...) at ``AWS_ENDPOINT_URL``."""

    name = "s3"
    schemes = ("s3",)
    credentials = "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or the runner's IAM role"
    variables = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION",
                 "AWS_ENDPOINT_URL")
    endpoint = "AWS_ENDPOINT_URL"

    @classmethod
    def filesystem(cls, bucket: str) -> Any:
        from pyarrow import fs  # pyarrow.fs starts the AWS SDK: only when a URI is read

        options: dict[str, Any] = {
            "connect_timeout": 5.0, "request_timeout": 60.0,
            # the SDK's default retries an unreachable endpoint for about a minute; three tries
            # fail in seconds with the same message
            "retry_strategy": fs.AwsStandardS3RetryStrategy(max_attempts=3),
        }
        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        if endpoint:
            parts = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}")
            options.update(endpoint_override=parts.netloc + parts.path.rstrip("/"), scheme=parts.scheme)
        elif not region:
            try:  # a bucket outside the default region answers with a redirect otherwise
                region = fs.resolve_s3_region(bucket)
            except OSError:
                region = None  # the read that follows reports the real problem
        if region:
            options["region"] = region
        return fs.S3FileSystem(**options)


class Gcs(ObjectStore):
    """Google Cloud Storage; ``STORAGE_EMULATOR_HOST`` points it at an emulator."""

    name = "gs"
    schemes = ("gs", "gcs")
    credentials = "GOOGLE_APPLICATION_CREDENTIALS (a service-account key file) or the runner's identity"
    variables = ("GOOGLE_APPLICATION_CREDENTIALS",)
    endpoint = "STORAGE_EMULATOR_HOST"

    @classmethod
    def filesystem(cls, bucket: str) -> Any:
        from pyarrow import fs  # heavy: only when a URI is read

        emulator = os.environ.get("STORAGE_EMULATOR_HOST")
        if emulator:
            parts = urlsplit(emulator if "://" in emulator else f"http://{emulator}")
            return fs.GcsFileSystem(anonymous=True, endpoint_override=parts.netloc, scheme=parts.scheme)
        return fs.GcsFileSystem()


class Azure(ObjectStore):
    """Azure Blob Storage: ``az://CONTAINER/PATH`` in the account ``AZURE_STORAGE_ACCOUNT_NAME``."""

    name = "az"
    schemes = ("az", "abfs")
    credentials = ("AZURE_STORAGE_ACCOUNT_NAME with AZURE_STORAGE_ACCOUNT_KEY, or an Azure identity "
                   "(AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_CLIENT_SECRET)")
    variables = ("AZURE_STORAGE_ACCOUNT_NAME", "AZURE_STORAGE_ACCOUNT_KEY")

    @classmethod
    def filesystem(cls, bucket: str) -> Any:
        from pyarrow import fs  # heavy: only when a URI is read

        account = os.environ.get("AZURE_STORAGE_ACCOUNT_NAME")
        if not account:
            raise DataError(f"az://{bucket}: set AZURE_STORAGE_ACCOUNT_NAME to the storage account that holds "
                            f"the container (credentials: {cls.credentials})")
        if not hasattr(fs, "AzureFileSystem"):
            raise DataError(f"az://{bucket}: reading Azure Blob Storage needs pyarrow 16 or later: "
                            "pip install -U pyarrow")
        key = os.environ.get("AZURE_STORAGE_ACCOUNT_KEY")
        return fs.AzureFileSystem(account_name=account, **({"account_key": key} if key else {}))


STORES: dict[str, type[ObjectStore]] = {s.name: s for s in (S3, Gcs, Azure)}
_BY_SCHEME = {scheme: store for store in STORES.values() for scheme in store.schemes}


def is_uri(ref: object) -> bool:
    """Whether ``ref`` is an object-storage URI (``s3://b/k``); ``file://`` and paths are not."""
    return isinstance(ref, str) and "://" in ref and ref.split("://", 1)[0].lower() in _BY_SCHEME


def store_of(uri: str) -> type[ObjectStore]:
    """The store a URI's scheme names."""
    return _BY_SCHEME[uri.split("://", 1)[0].lower()]


@dataclass(frozen=True)
class RemoteFile:
    """One object: its URI, the pyarrow filesystem that reads it and its path there."""

    uri: str
    filesystem: Any
    path: str  # bucket/key, as pyarrow names it
    size: int

    @property
    def name(self) -> str:
        return PurePosixPath(self.path).name

    @property
    def suffix(self) -> str:
        return PurePosixPath(self.path).suffix

    def __str__(self) -> str:
        return self.uri

    def open_random(self) -> Any:
        """A random-access pyarrow file: Parquet reads only the footer and the row groups it needs."""
        with _explained(self.uri):
            return self.filesystem.open_input_file(self.path)

    def open_stream(self) -> Any:
        """A sequential pyarrow stream (one GET, read as consumed): for CSV."""
        with _explained(self.uri):
            return self.filesystem.open_input_stream(self.path)

    def head(self, nbytes: int) -> bytes:
        """The first ``nbytes`` bytes, by one ranged read."""
        with _explained(self.uri):
            handle = self.filesystem.open_input_file(self.path)
            try:
                return bytes(handle.read_at(min(nbytes, self.size), 0))
            finally:
                handle.close()

    def fingerprint(self) -> str:
        """The object's ETag (or its modification time) and size, from a HEAD request: no data is read."""
        with _explained(self.uri):
            handle = self.filesystem.open_input_file(self.path)  # HEAD only: the body is read on demand
            meta = {k.lower(): v for k, v in handle.metadata().items()}
            handle.close()
        tag = meta.get("etag") or meta.get("content-md5") or meta.get("last-modified") or b""
        value = tag.decode() if isinstance(tag, bytes) else str(tag)
        kind = "etag" if "etag" in meta else "md5" if "content-md5" in meta else "mtime"
        return f"{kind}:{value.strip(chr(34))}:size:{self.size}"


def remote_files(uri: str, suffixes: dict[str, str]) -> list[RemoteFile]:
    """The objects behind a URI: the object itself, or the table objects directly under a prefix."""
    from pyarrow import fs  # heavy: only when a URI is read

    store = store_of(uri)
    parts = urlsplit(uri)
    bucket, key = parts.netloc, parts.path.strip("/")
    if not bucket:
        raise DataError(f"{uri}: no bucket; write {store.schemes[0]}://BUCKET/PATH")
    path = f"{bucket}/{key}" if key else bucket
    with _explained(uri):
        filesystem = store.filesystem(bucket)
        info = filesystem.get_file_info(path)
        if info.type == fs.FileType.File:
            return [RemoteFile(uri, filesystem, path, int(info.size or 0))]
        if info.type == fs.FileType.NotFound:
            _missing(uri, store)
        listing = filesystem.get_file_info(fs.FileSelector(path, allow_not_found=True))
    files = sorted((i for i in listing if i.type == fs.FileType.File
                    and PurePosixPath(i.path).suffix.lower() in suffixes), key=lambda i: i.path)
    if not files:
        raise DataError(f"{uri} holds no .csv or .parquet objects")
    base = f"{parts.scheme}://"
    return [RemoteFile(base + i.path, filesystem, i.path, int(i.size or 0)) for i in files]


def _missing(uri: str, store: type[ObjectStore]) -> NoReturn:
    where = f" at {os.environ[store.endpoint]}" if store.endpoint and os.environ.get(store.endpoint) else ""
    raise DataError(f"{uri} does not exist{where} (no such object, prefix or bucket); check the URI, and that "
                    f"the credentials ({store.credentials}) are for the account that holds it")


@contextmanager
def _explained(uri: str) -> Iterator[None]:
    """Turn pyarrow's OSErrors about a URI into one DataError saying what to configure."""
    try:
        yield
    except OSError as exc:
        raise DataError(explain(uri, exc)) from exc


_DENIED = ("ACCESS_DENIED", "AccessDenied", "Forbidden", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch",
           "INVALID_ACCESS_KEY", "SIGNATURE_DOES_NOT_MATCH", "PermissionDenied", "AuthorizationFailure",
           "Unauthorized", "401")
_UNREACHABLE = ("NETWORK_CONNECTION", "Could not connect", "curlCode", "Couldn't resolve", "timed out",
                "Connection refused", "UNKNOWN (100)")


def explain(uri: str, exc: BaseException) -> str:
    """One message for a failed object-storage call: what happened and what to configure."""
    store = store_of(uri)
    detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    if isinstance(exc, FileNotFoundError) or "NoSuchKey" in detail or "NoSuchBucket" in detail:
        return f"{uri} does not exist (no such object or bucket): {detail}"
    if any(word in detail for word in _DENIED):
        return (f"access to {uri} was refused ({detail}); give mlgate credentials that may read it: "
                f"{store.credentials}")
    if any(word in detail for word in _UNREACHABLE):
        endpoint = os.environ.get(store.endpoint, "") if store.endpoint else ""
        where = f"the endpoint {endpoint}" if endpoint else "the storage service"
        hint = f"; check {store.endpoint} and the network" if store.endpoint else "; check the network"
        return f"cannot reach {where} for {uri} ({detail}){hint}"
    return f"cannot read {uri}: {detail}"
