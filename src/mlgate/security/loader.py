"""The one fail-closed loader for model files: decide from one walk of the bytes, then load.

Every command reads a model through here (``mlgate.models.load_model`` and the server's
``load_estimator`` call it). A file is read into memory once; its SHA-256 is checked against
a pinned hash when one is given; the walk (:mod:`mlgate.security.opcodes`) lists the globals
it names, reading the bytes exactly as the loader will, and refuses what loaders could read
differently; only when every global is allowed (:mod:`mlgate.security.allowlist`) is it
unpickled, from the same bytes, by mlgate's restricted unpickler, whose ``find_class`` checks
the list again and which reads joblib's arrays by the layout the walk checked (joblib's own
reader is never used, so no joblib version changes what is read). skops files are loaded with
trusted types taken from mlgate's list, never from the file or its ``MLmodel``.

    >>> inspect_bytes(pickle.dumps(os.system), "evil.pkl", TrustPolicy()).refused
    ['posix.system']
"""

from __future__ import annotations

import hashlib
import io
import logging
import pickle  # nosec B403: only through the restricted unpicklers below, after the walk
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlgate.errors import ModelLoadError
from mlgate.security.allowlist import TrustPolicy
from mlgate.security.opcodes import (
    JOBLIB,
    PICKLE,
    UNRESOLVABLE,
    WRAPPER,
    ArrayLayout,
    WalkRefused,
    array_layout,
    compat_name,
    container_stream,
    walk_file,
)

_SHOWN = 5


class ModelRefused(ModelLoadError):
    """A model file names code it may not run, or does not match its pinned hash or signature."""


@dataclass
class Inspection:
    """What a model file would import, decided without loading it."""

    path: str
    format: str
    sha256: str
    globals: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    error: str | None = None
    second_opinion: list[str] = field(default_factory=list)

    @property
    def disputed(self) -> list[str]:
        """Globals picklescan calls dangerous that the allow-list accepted (refused too: fail closed)."""
        return [g for g in self.second_opinion if g not in self.refused]

    @property
    def safe(self) -> bool:
        return not self.refused and self.error is None and not self.disputed

    def refusal(self) -> ModelRefused:
        """The error a loader raises for this file: the file, the first refused global, the way out."""
        if self.error is not None:
            return ModelRefused(f"{self.path} was refused: {self.error}; it was not loaded (nothing in it ran)")
        if not self.refused:
            return ModelRefused(f"{self.path} was refused: picklescan calls {', '.join(self.disputed)} dangerous "
                                "although mlgate's allow-list accepts it; refused to be safe (please report it)")
        first, more = self.refused[0], self.refused[1:_SHOWN]
        also = f" (and {', '.join(more)})" if more else ""
        head = (f"{self.path} was refused: it imports {first}{also}, which is not on mlgate's allow-list "
                "of model types, so it was not loaded (nothing in it ran).")
        if _dangerous(first) or first in self.second_opinion:
            return ModelRefused(f"{head} {first} runs commands, code or file access when unpickled: "
                                "this file is an attack or a serious mistake; do not --trust it.")
        return ModelRefused(
            f"{head} If you trust this type, allow it with `mlgate --trust-type {first} COMMAND ...` or "
            "security.trusted_types in mlgate.yaml; for a file you wrote yourself, `mlgate register --trust` "
            "loads it without checks.")


_DANGEROUS_MODULES = ("os", "posix", "nt", "subprocess", "sys", "shutil", "socket", "importlib", "runpy",
                      "pty", "ctypes", "pickle", "_pickle", "marshal", "code", "webbrowser", "pathlib", "io")
_DANGEROUS_BUILTINS = ("eval", "exec", "compile", "open", "__import__", "getattr", "setattr", "input",
                       "breakpoint", "globals", "vars")


_FILE_CALLS = ("read_pickle", "load", "loads", "save", "savez", "savetxt", "loadtxt", "fromfile", "genfromtxt",
               "to_pickle", "dump", "dumps", "memmap")


def _dangerous(dotted: str) -> bool:
    module, _, name = dotted.rpartition(".")
    top = module.split(".")[0]
    if top in _DANGEROUS_MODULES or (module == "builtins" and name in _DANGEROUS_BUILTINS):
        return True
    # the calls that let a pickle read another pickle or write a file (.pth) of its choosing
    return top in ("numpy", "pandas", "joblib", "cloudpickle", "dill", "torch") and name in _FILE_CALLS


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_checked(path: Path, expected_sha256: str | None = None) -> bytes:
    """The file's bytes, refused when they do not match the pinned SHA-256."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelLoadError(f"cannot read model file {path}: {exc.strerror}") from exc
    if expected_sha256:
        actual = sha256_of(data)
        if actual != expected_sha256:
            raise ModelRefused(f"{path} does not match the hash pinned at registration "
                               f"(mlgate.model_sha256): expected sha256 {expected_sha256}, actual {actual}; "
                               "the file was changed after it was registered, so it is not loaded")
    return data


def file_format(path: Path) -> str:
    """How a standalone file is read: skops, or as ``joblib.load`` reads it (plain pickles included)."""
    return "skops" if path.suffix.lower() == ".skops" else JOBLIB


def inspect_file(path: Path, policy: TrustPolicy, fmt: str | None = None) -> Inspection:
    """Decide whether ``path`` may be loaded, without loading it (``mlgate scan`` uses this)."""
    data = read_checked(path)
    return inspect_bytes(data, str(path), policy, fmt or file_format(path))


def inspect_bytes(data: bytes, source: str, policy: TrustPolicy, fmt: str = JOBLIB) -> Inspection:
    """Globals of a joblib/pickle/skops payload and those the policy refuses.

    ``fmt`` is ``"joblib"`` (a standalone file, read as ``joblib.load`` reads it), ``"pickle"``
    (a pickle/cloudpickle file in an MLflow folder, read as ``pickle.load`` reads it) or ``"skops"``.
    """
    result = Inspection(path=source, format=fmt, sha256=sha256_of(data))
    if fmt == "skops":
        return _inspect_skops(data, result, policy)
    try:
        walk, stream = walk_file(data, PICKLE if fmt == PICKLE else JOBLIB)
    except WalkRefused as exc:
        result.error = f"it is not a readable pickle/joblib file that every loader reads the same way ({exc})"
        return result
    distinct = list(dict.fromkeys(walk.globals))
    result.globals = [_label(g) for g in distinct]
    result.refused = [_label(g) for g in distinct if g == UNRESOLVABLE or not policy.allows(*g)]
    result.second_opinion = _picklescan(stream, source)
    return result


def _label(name: tuple[str, str]) -> str:
    return "an unresolvable global (its name is computed at load time)" if name == UNRESOLVABLE else ".".join(name)


def load_bytes(data: bytes, source: str, policy: TrustPolicy, fmt: str = JOBLIB) -> Any:
    """Load a model payload after inspecting it; ``policy.trust_all`` skips the check, loudly."""
    if policy.trust_all:
        print(f"WARNING: --trust: {source} is loaded WITHOUT the allow-list check; a malicious file "
              "runs any code it wants", file=sys.stderr)
        if fmt == "skops":
            return _load_skops(data, source, policy)
        return _trusted_load(data, source, fmt)
    inspection = inspect_bytes(data, source, policy, fmt)
    if not inspection.safe:
        raise inspection.refusal()
    if fmt == "skops":
        return _load_skops(data, source, policy)
    return _guarded_load(data, source, policy, fmt)


def load_file(path: Path, policy: TrustPolicy, *, fmt: str | None = None, expected_sha256: str | None = None) -> Any:
    """Read, pin-check, inspect and load one model file."""
    data = read_checked(path, expected_sha256)
    return load_bytes(data, str(path), policy, fmt or file_format(path))


# ---- internals ------------------------------------------------------------------------------


def _trusted_load(data: bytes, source: str, fmt: str) -> Any:
    """``--trust``: the library's own loader, no check at all (the user vouched for the file)."""
    try:
        if fmt == PICKLE:
            return pickle.loads(data)  # noqa: S301  # nosec B301: --trust, announced on stderr
        import joblib

        return joblib.load(io.BytesIO(data))
    except Exception as exc:  # a corrupt file raises anything the unpickler meets
        raise ModelLoadError(f"cannot load {source}: {type(exc).__name__}: {exc}") from exc


def _guarded_load(data: bytes, source: str, policy: TrustPolicy, fmt: str) -> Any:
    """The second line: unpickle with every global checked again, arrays read as the walk read them.

    joblib's own reader is not used: its handling of nested streams differs between versions
    (1.4 and 1.5 read them with an unchecked ``pickle.load``). Standalone files are read here with
    joblib's layout and pickle's Python unpickler (as joblib does); MLflow's pickles with
    pickle's C unpickler (as ``pickle.load`` does).
    """
    try:
        if fmt == PICKLE:
            return _PlainRestricted(io.BytesIO(data), source, policy).load()
        _container, stream = container_stream(data, JOBLIB)
        return _JoblibRestricted(io.BytesIO(stream), source, policy, arrays=True).load()
    except ModelLoadError:
        raise
    except Exception as exc:  # a corrupt file raises anything the unpickler meets
        raise ModelLoadError(f"cannot load {source}: {type(exc).__name__}: {exc}") from exc


def _checked_class(unpickler: Any, module: str, name: str, proto: int, arrays: bool) -> tuple[str, str]:
    found = compat_name(module, name, proto)
    if not unpickler.policy.allows(*found):
        raise ModelRefused(f"{unpickler.source} asked for {module}.{name} while loading; refused")
    if found == WRAPPER and not arrays:
        raise ModelRefused(f"{unpickler.source} holds a joblib array wrapper where no loader reads one; refused")
    return found


class _ArrayWrapper:
    """What the restricted unpickler builds for ``joblib.numpy_pickle.NumpyArrayWrapper``: state only."""


class _JoblibRestricted(pickle._Unpickler):  # type: ignore[name-defined,misc]
    dispatch = pickle._Unpickler.dispatch.copy()  # type: ignore[attr-defined]

    def __init__(self, handle: io.BytesIO, source: str, policy: TrustPolicy, *, arrays: bool) -> None:
        super().__init__(handle)
        self.handle, self.source, self.policy, self.arrays = handle, source, policy, arrays

    def find_class(self, module: str, name: str) -> Any:
        if _checked_class(self, module, name, self.proto, self.arrays) == WRAPPER:  # type: ignore[attr-defined]
            return _ArrayWrapper
        return super().find_class(module, name)

    def load_build(self) -> None:
        pickle._Unpickler.load_build(self)  # type: ignore[attr-defined]
        stack = self.stack  # type: ignore[attr-defined]
        if type(stack[-1]) is _ArrayWrapper:
            stack[-1] = self._read_array(array_layout(vars(stack[-1])))

    dispatch[pickle.BUILD[0]] = load_build  # type: ignore[assignment]

    def _read_array(self, layout: ArrayLayout) -> Any:
        """joblib's ``NumpyArrayWrapper.read_array``, from the layout the walk checked."""
        import numpy as np

        if layout.nested:
            return _JoblibRestricted(self.handle, self.source, self.policy, arrays=False).load()
        if layout.padded:
            padding = self.handle.read(1)
            self.handle.read(padding[0] if padding else 0)
        raw = self.handle.read(layout.nbytes)
        if len(raw) != layout.nbytes:
            raise ModelLoadError(f"cannot load {self.source}: array data is truncated")
        array = np.frombuffer(bytearray(raw), dtype=layout.dtype, count=layout.count)
        array = array.reshape(layout.shape[::-1]).transpose() if layout.order == "F" else array.reshape(layout.shape)
        if _byte_order_mismatch(array):
            array = array.byteswap().view(array.dtype.newbyteorder("="))
        return array


class _PlainRestricted(pickle.Unpickler):
    def __init__(self, handle: io.BytesIO, source: str, policy: TrustPolicy) -> None:
        super().__init__(handle)
        self.source, self.policy = source, policy

    def find_class(self, module: str, name: str) -> Any:
        # the C unpickler does not say its protocol; no allowed name changes under the Python 2 mapping
        _checked_class(self, module, name, 0, False)
        return super().find_class(module, name)


def _byte_order_mismatch(array: Any) -> bool:
    """joblib's ``_is_numpy_array_byte_order_mismatch``."""
    other = ">" if sys.byteorder == "little" else "<"
    dtype = array.dtype
    return bool(dtype.byteorder == other or (dtype.byteorder == "|" and dtype.fields
                                             and all(e[0].byteorder == other for e in dtype.fields.values())))


def _inspect_skops(data: bytes, result: Inspection, policy: TrustPolicy) -> Inspection:
    import skops.io

    try:
        untrusted = skops.io.get_untrusted_types(data=data)
    except Exception as exc:  # skops raises zipfile/JSON errors for broken files
        result.error = f"it is not a readable skops file ({type(exc).__name__}: {exc})"
        return result
    result.globals = list(untrusted)
    result.refused = [t for t in untrusted if not policy.allows(*_module_name(t))]
    return result


def _load_skops(data: bytes, source: str, policy: TrustPolicy) -> Any:
    import skops.io

    # the trusted list is what mlgate's policy accepted, never skops_trusted_types from MLmodel
    untrusted = skops.io.get_untrusted_types(data=data)
    trusted = [t for t in untrusted if policy.allows(*_module_name(t))]
    try:
        return skops.io.loads(data, trusted=trusted)
    except Exception as exc:  # skops raises its own types for untrusted or broken files
        raise ModelLoadError(f"cannot load {source} with skops: {exc}") from exc


def _module_name(dotted: str) -> tuple[str, str]:
    module, _, name = dotted.rpartition(".")
    return module, name


def _picklescan(stream: bytes, source: str) -> list[str]:
    """picklescan's dangerous globals, as a second opinion (empty when it is not installed)."""
    try:
        from picklescan.scanner import SafetyLevel, scan_pickle_bytes
    except ImportError:
        return []
    logging.getLogger("picklescan").setLevel(logging.CRITICAL)
    try:
        found = scan_pickle_bytes(io.BytesIO(stream), source)
    except Exception:  # a second opinion must never decide alone; the allow-list has
        return []
    return sorted({f"{g.module}.{g.name}" for g in found.globals if g.safety == SafetyLevel.Dangerous})

