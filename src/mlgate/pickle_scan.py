"""Load a joblib or pickle file only if every class it names comes from an allowed library.

Unpickling runs whatever callable the file names, so ``mlgate register --model model.joblib``
first checks each global the pickle stream asks for (scikit-learn, NumPy, SciPy, pandas,
joblib, the usual builtins) and refuses the file, naming the globals, before any object is
built. This blocks the common attacks (``os.system``, ``builtins.eval``, ``subprocess``); it
is a guard, not a sandbox: a trusted file with custom classes needs ``--trust``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlgate.errors import ModelLoadError

ALLOWED_MODULES = ("sklearn", "numpy", "scipy", "pandas", "joblib", "xgboost", "lightgbm",
                   "collections", "copyreg", "_codecs", "datetime", "decimal", "threadpoolctl")
ALLOWED_BUILTINS = {"list", "dict", "set", "frozenset", "tuple", "slice", "complex", "bytearray",
                    "bytes", "object", "float", "int", "str", "bool", "range", "type", "NoneType"}
# Names that run code or touch the system even inside allowed libraries.
DENIED_PARTS = ("system", "eval", "exec", "runstring", "popen", "spawn", "compile", "import",
                "open", "load", "ctypes", "f2py", "distutils", "testing")


def refused(module: str, name: str) -> bool:
    """True when a pickle may not name ``module.name``."""
    full = f"{module}.{name}".lower()
    if any(part in full for part in DENIED_PARTS):
        return True
    if module == "builtins":
        return name not in ALLOWED_BUILTINS
    return module.split(".")[0] not in ALLOWED_MODULES


def safe_load(path: Path, *, trust: bool = False) -> Any:
    """Load ``path`` with joblib, refusing globals outside the allow list unless ``trust``."""
    import joblib
    from joblib import numpy_pickle

    if trust:
        try:
            return joblib.load(path)
        except Exception as exc:  # unpickling raises whatever the pickled code raises
            raise ModelLoadError(f"cannot load {path} with joblib: {exc}") from exc
    blocked: list[str] = []

    class Guarded(numpy_pickle.NumpyUnpickler):  # type: ignore[misc]
        def find_class(self, module: str, name: str) -> Any:
            if refused(module, name):
                blocked.append(f"{module}.{name}")
                raise ModelLoadError(f"{path} asks to import {module}.{name}")
            return super().find_class(module, name)

    try:
        with open(path, "rb") as raw, numpy_pickle._validate_fileobject_and_memmap(raw, str(path), None) as (fobj, _):
            return Guarded(str(path), fobj, True).load()
    except ModelLoadError as exc:
        if blocked:
            raise ModelLoadError(f"{path} was refused: it imports {', '.join(blocked)}, which a model file "
                                 "should not need; if you trust its author, pass --trust") from exc
        raise
    except Exception as exc:  # a corrupt or foreign file
        raise ModelLoadError(f"cannot load {path} as a joblib/pickle file: {type(exc).__name__}: {exc}") from exc
