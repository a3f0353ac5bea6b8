"""Model files whose unpickling creates a marker file: the attacks the loader must refuse.

Each builder writes a file at ``path`` whose payload, if it ever ran, would create ``marker``;
``fire(path)`` loads it the unsafe way (plain ``joblib.load``), as a control that proves it does.
"""

from __future__ import annotations

import builtins
import contextlib
import os
import pickle
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


PAYLOADS: dict[str, Callable[[Path, Path], Path]] = {
    "os_system": os_system, "exec": exec_code, "nested_dict": nested_next_to_model,
    "read_pickle": read_pickle_bypass, "savetxt": savetxt_bypass, "object_array": object_array,
}


def fire(path: Path) -> None:
    """The control: load the way mlgate used to (plain joblib.load); the payload runs."""
    # exec and read_pickle payloads leave no model behind; the marker is what counts
    with contextlib.suppress(Exception):
        joblib.load(path)


def _tiny_model() -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression().fit(np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([0, 0, 1, 1]))
