"""Model files whose unpickling creates a marker file: the attacks the loader must refuse.

Each builder writes a file at ``path`` whose payload, if it ever ran, would create ``marker``;
``fire(path)`` loads it the unsafe way (plain ``joblib.load``), as a control that proves it does.
"""

from __future__ import annotations

import builtins
import contextlib
import os
import pickle
import pickletools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd


class _Call:
    """Pickles as ``func(*args)``: what an attacker writes by hand."""

    def __init__(self, func: Callable[..., Any], *args: Any) -> None:
        self.func, self.args = func, args

    def __reduce__(self) -> tuple[Any, ...]:
        return self.func, self.args


def os_system(path: Path, marker: Path) -> Path:
    joblib.dump(_Call(os.system, f"touch {marker}"), path)
    return path


def exec_code(path: Path, marker: Path) -> Path:
    path.write_bytes(pickle.dumps(_Call(builtins.exec, f"open({str(marker)!r}, 'w').close()")))
    return path


def nested_next_to_model(path: Path, marker: Path, model: Any = None) -> Path:
    """A real model and the payload side by side in a dict (the payload runs first while loading)."""
    joblib.dump({"model": model if model is not None else _tiny_model(), "meta": _Call(os.system, f"touch {marker}")},
                path)
    return path


def read_pickle_bypass(path: Path, marker: Path) -> Path:
    """``pandas.read_pickle`` of another file: the old allow-list let all of pandas through."""
    inner = path.with_name(path.stem + "-inner.pkl")
    inner.write_bytes(pickle.dumps(_Call(os.system, f"touch {marker}")))
    joblib.dump(_Call(pd.read_pickle, str(inner)), path)
    return path


def savetxt_bypass(path: Path, marker: Path) -> Path:
    """``numpy.savetxt`` writes a file of the attacker's choosing (a ``.pth`` file runs at start-up)."""
    joblib.dump(_Call(np.savetxt, str(marker), np.array([1.0])), path)
    return path


def object_array(path: Path, marker: Path) -> Path:
    """The payload inside an object-dtype array, which joblib stores as a nested pickle stream."""
    joblib.dump({"arr": np.array([_Call(os.system, f"touch {marker}"), 1], dtype=object)}, path)
    return path


# ---- the desynchronising joblib file (issue 21), byte by byte ---------------------------------


def _u(text: str) -> bytes:
    raw = text.encode()
    return b"\x8c" + bytes([len(raw)]) + raw


def _glob(module: str, name: str) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def _lit(value: Any) -> bytes:
    return pickletools.optimize(pickle.dumps(value, protocol=2))[2:-1]


def dtype_ops(code: str) -> bytes:
    """``numpy.dtype(code, False, True)`` and its BUILD, as numpy pickles a dtype."""
    return _glob("numpy", "dtype") + _u(code) + b"\x89\x88\x87R" + _lit(np.dtype(code).__reduce__()[2]) + b"b"


def wrapper_ops(shape: tuple[int, ...], code: str, align: int | None) -> bytes:
    """A joblib ``NumpyArrayWrapper`` as joblib writes it, up to and including its BUILD."""
    body = _glob("joblib.numpy_pickle", "NumpyArrayWrapper") + b")\x81}("
    body += _u("subclass") + _glob("numpy", "ndarray") + _u("shape") + _lit(shape)
    body += _u("order") + _u("C") + _u("dtype") + dtype_ops(code) + _u("allow_mmap") + b"\x89"
    body += _u("numpy_array_alignment_bytes") + (b"N" if align is None else _lit(align))
    return body + b"ub"


def system_call(command: str = "true") -> bytes:
    """``posix.system(command)`` and a POP: the payload (the audit hook blocks it in this fuzzer)."""
    return _glob("posix", "system") + _u(command) + b"\x85R0"


def desync_attack(model: Any, command: str) -> bytes:
    """The desynchronising joblib file of issue 21, ending with a real model.

    Outer stream: a one-byte array (a raw byte stops static scanners), then an object array whose
    nested stream holds a byte-dtype wrapper of shape N followed by N bytes of opcodes that call
    ``posix.system(command)``, then a real object array; then the model. A walker that treats the
    N bytes as array data skips the call; joblib reads nested streams with a plain unpickler,
    which runs it.
    """
    payload = system_call(command)
    inner = b"\x80\x05" + wrapper_ops((len(payload),), "u1", None) + payload + b"0"
    inner += pickle.dumps(np.array([1, "x"], dtype=object), protocol=3)[2:]
    stray = wrapper_ops((1,), "u1", None) + b"\xff" + b"0"
    return b"\x80\x03" + stray + wrapper_ops((2,), "O", 16) + inner + b"0" + pickle.dumps(model, protocol=3)[2:]


def desync(path: Path, marker: Path, model: Any = None) -> Path:
    """A joblib file whose nested stream hides ``touch marker`` from a walker that trusts array sizes."""
    path.write_bytes(desync_attack(model if model is not None else _tiny_model(), f"touch {marker}"))
    return path


PAYLOADS: dict[str, Callable[[Path, Path], Path]] = {
    "os_system": os_system, "exec": exec_code, "nested_dict": nested_next_to_model,
    "read_pickle": read_pickle_bypass, "savetxt": savetxt_bypass, "object_array": object_array,
    "desync": desync,
}


def fire(path: Path) -> None:
    """The control: load the way mlgate used to (plain joblib.load); the payload runs."""
    # exec and read_pickle payloads leave no model behind; the marker is what counts
    with contextlib.suppress(Exception):
        joblib.load(path)


def _tiny_model() -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression().fit(np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([0, 0, 1, 1]))
