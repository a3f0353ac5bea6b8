"""Which globals a pickle or joblib stream names, found without building any object.

A plain pickle (cloudpickle's ``model.pkl``, a ``pickle.dump`` file) is walked statically
with :func:`pickletools.genops`. ``GLOBAL`` and ``INST`` carry their names; ``STACK_GLOBAL``
takes them from the stack, so the walk follows string pushes and the memo, and a
``STACK_GLOBAL`` whose two operands are not literal strings (built by a call, say) is
reported as unresolvable, which the loader refuses: fail closed.

A joblib file interleaves raw array bytes with its pickle opcodes, so a static walk cannot
tell where the next opcode starts. Those streams are walked by an *inert* interpreter:
pickle's own pure-Python opcode loop (through joblib's unpickler, so array data is skipped
exactly as joblib will read it) in which every global resolves to a recording placeholder.
Nothing real is imported, called or built, except ``numpy.dtype`` and joblib's array wrapper,
whose sizes say how many bytes to skip.
"""

from __future__ import annotations

import io
import pickle  # nosec B403: only pickle's opcode loop, with placeholders for every global
import pickletools  # nosec B403: a static walk; nothing is unpickled
from dataclasses import dataclass, field
from typing import Any

_STRING_OPS = frozenset({"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE",
                         "STRING", "BINSTRING", "SHORT_BINSTRING"})
_NO_STACK_CHANGE = frozenset({"MEMOIZE", "PUT", "BINPUT", "LONG_BINPUT", "FRAME", "PROTO"})
_GET_OPS = frozenset({"GET", "BINGET", "LONG_BINGET"})
_JOBLIB_WRAPPERS = frozenset({("joblib.numpy_pickle", "NumpyArrayWrapper"),
                              ("joblib.numpy_pickle_compat", "NDArrayWrapper")})
UNRESOLVABLE = ("?", "?")


@dataclass
class Walk:
    """The globals a stream names, in order, and whether it is a joblib array stream."""

    globals: list[tuple[str, str]] = field(default_factory=list)
    joblib_arrays: bool = False
    opcodes: int = 0


def stream_globals(data: bytes) -> Walk:
    """Every ``(module, name)`` the stream in ``data`` names; ``("?", "?")`` for an unresolvable one.

    ``data`` is an uncompressed pickle stream (joblib files are decompressed by the caller).
    A stream that is not a pickle at all raises ``ValueError``.
    """
    walk = _static_walk(data)
    if any(g in _JOBLIB_WRAPPERS for g in walk.globals):
        inert = _inert_walk(data)
        inert.joblib_arrays = True
        return inert
    return walk


def _static_walk(data: bytes) -> Walk:
    walk = Walk()
    memo: dict[int, str | None] = {}
    pushed: list[str | None] = []  # the last values pushed, None when not a literal string
    proto = 0
    try:
        for op, arg, _pos in pickletools.genops(data):
            walk.opcodes += 1
            name = op.name
            if name == "PROTO":
                proto = int(arg or 0)
            if name in _STRING_OPS:
                pushed.append(arg if isinstance(arg, str) else None)
            elif name == "MEMOIZE":
                memo[len(memo)] = pushed[-1] if pushed else None
            elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
                memo[int(arg or 0)] = pushed[-1] if pushed else None
            elif name in _GET_OPS:
                pushed.append(memo.get(int(arg or 0)))
            elif name in ("GLOBAL", "INST"):
                module, _, attr = str(arg).partition(" ")
                walk.globals.append(compat_name(module, attr, proto))
                pushed.append(None)
            elif name == "STACK_GLOBAL":
                module_s, attr_s = (pushed[-2], pushed[-1]) if len(pushed) >= 2 else (None, None)
                resolved = module_s is not None and attr_s is not None
                walk.globals.append(compat_name(module_s, attr_s, proto) if resolved else UNRESOLVABLE)  # type: ignore[arg-type]
                pushed.append(None)
            elif name.startswith("EXT"):  # the copyreg extension registry: names we cannot see
                walk.globals.append(UNRESOLVABLE)
                pushed.append(None)
            elif name == "DUP":
                pushed.append(pushed[-1] if pushed else None)
            elif name not in _NO_STACK_CHANGE:
                pushed.append(None)
            del pushed[:-2]
            if any(g in _JOBLIB_WRAPPERS for g in walk.globals[-1:]):
                break  # raw array bytes follow: the inert walk takes over
    except ValueError:
        if not any(g in _JOBLIB_WRAPPERS for g in walk.globals):
            raise
    return walk


def compat_name(module: str, name: str, proto: int) -> tuple[str, str]:
    """The name the unpickler will really import (Python 2 names are mapped for protocol < 3)."""
    if proto < 3:
        import _compat_pickle

        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        elif module in _compat_pickle.IMPORT_MAPPING:
            module = _compat_pickle.IMPORT_MAPPING[module]
    return module, name


# ---- the inert walk of joblib streams -------------------------------------------------------


class _Placeholder:
    """Stands in for every global and every object built from one: accepts anything, does nothing."""

    def __new__(cls, *args: Any, **kwargs: Any) -> _Placeholder:
        return object.__new__(cls)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __call__(self, *args: Any, **kwargs: Any) -> _Placeholder:
        return _Placeholder()

    def __setstate__(self, state: Any) -> None:
        pass

    def __setitem__(self, key: Any, value: Any) -> None:
        pass

    def append(self, item: Any) -> None:
        pass

    def extend(self, items: Any) -> None:
        pass

    def add(self, item: Any) -> None:
        pass


def _inert_walk(data: bytes) -> Walk:
    walk = Walk()
    handle = io.BytesIO(data)
    try:
        _inert_unpickler(handle, walk).load()
    except (pickle.UnpicklingError, EOFError, TypeError, ValueError, AttributeError, IndexError,
            KeyError, OverflowError, MemoryError) as exc:
        raise ValueError(f"not a readable joblib/pickle stream ({type(exc).__name__}: {exc})") from exc
    return walk


def _inert_unpickler(handle: io.BytesIO, walk: Walk) -> Any:
    import numpy as np
    from joblib import numpy_pickle

    class Inert(numpy_pickle.NumpyUnpickler):  # type: ignore[misc]
        dispatch = numpy_pickle.NumpyUnpickler.dispatch.copy()

        def find_class(self, module: str, name: str) -> Any:
            found = compat_name(module, name, self.proto)
            walk.globals.append(found)
            walk.opcodes += 1
            if found == ("joblib.numpy_pickle", "NumpyArrayWrapper"):
                return numpy_pickle.NumpyArrayWrapper
            if found == ("numpy", "dtype"):
                return np.dtype
            if found == ("copyreg", "_reconstructor"):  # builds a bare instance of the (placeholder) class
                import copyreg

                return copyreg._reconstructor  # type: ignore[attr-defined]
            return _Placeholder

        def load_build(self) -> None:
            pickle._Unpickler.load_build(self)  # type: ignore[attr-defined]
            top = self.stack[-1]
            if isinstance(top, numpy_pickle.NumpyArrayWrapper):
                self.stack[-1] = _skip_array(top, self, walk)

        dispatch[pickle.BUILD[0]] = load_build

    return Inert("", handle, False)


def _skip_array(wrapper: Any, unpickler: Any, walk: Walk) -> _Placeholder:
    """Advance past one array's data as joblib's ``read_array`` would, without keeping it."""
    import numpy as np

    dtype = getattr(wrapper, "dtype", None)
    if not isinstance(dtype, np.dtype):
        raise ValueError("a joblib array wrapper without a numpy dtype")
    if dtype.hasobject:  # object arrays are a nested pickle stream: walk it the same way
        _inert_unpickler(unpickler.file_handle, walk).load()
        return _Placeholder()
    if wrapper.safe_get_numpy_array_alignment_bytes() is not None:
        padding = unpickler.file_handle.read(1)
        unpickler.file_handle.read(int.from_bytes(padding, byteorder="little"))
    count = 1
    for dim in wrapper.shape:
        count *= int(dim)
    size = count * dtype.itemsize
    if len(unpickler.file_handle.read(size)) != size:
        raise ValueError("array data is truncated")
    return _Placeholder()
