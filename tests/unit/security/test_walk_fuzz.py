"""The walk against the real loaders: the desynchronising attack, then thousands of mutated files.

The oracle is the ``pickle.find_class`` audit event (see ``fuzz_walk``): a case fails when the walk
accepted a file and a real loader looked up a global the walk did not report.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import pickle
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import joblib
import numpy as np
import pytest
from payloads import desync_attack

from mlgate.security.allowlist import TrustPolicy
from mlgate.security.loader import ModelRefused, inspect_bytes, load_bytes


def _fuzz() -> ModuleType:
    path = Path(__file__).with_name("fuzz_walk.py")
    spec = importlib.util.spec_from_file_location("fuzz_walk", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["fuzz_walk"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


fuzz = _fuzz()
DEFAULT_CASES = 10_000


def _model() -> object:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression().fit(np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([0, 0, 1, 1]))


def test_desync_attack_runs_under_plain_joblib_and_is_refused_by_mlgate(tmp_path: Path) -> None:
    marker = tmp_path / "ran.marker"
    data = desync_attack(_model(), f"touch {marker}")
    # the control: joblib's own load reaches posix.system (the audit hook blocks the call itself)
    with fuzz.watching() as seen, pytest.raises(Exception, match="posix.system"):
        joblib.load(io.BytesIO(data))
    assert ("posix", "system") in seen
    found = inspect_bytes(data, "desync.joblib", TrustPolicy())
    assert not found.safe and "NumpyArrayWrapper inside a nested stream" in str(found.refusal())
    with pytest.raises(ModelRefused, match="desync.joblib"):
        load_bytes(data, "desync.joblib", TrustPolicy())
    assert not marker.exists()


def test_oracle_catches_a_walk_that_misses_a_global() -> None:
    """A walk that trusted the wrapper's byte count (the old one) would be caught by this oracle."""
    data = desync_attack(_model(), "true")
    with fuzz.watching() as seen, contextlib.suppress(Exception):  # the hook blocks posix.system
        joblib.load(io.BytesIO(data))
    naive = {("joblib.numpy_pickle", "NumpyArrayWrapper"), ("numpy", "ndarray"), ("numpy", "dtype"),
             ("numpy._core.multiarray", "_reconstruct"), ("sklearn.linear_model._logistic", "LogisticRegression")}
    assert [g for g in seen if g not in naive] == [("posix", "system")]


def test_seeds_load_unchanged_through_the_walk_and_the_loader() -> None:
    for mode, data in fuzz.seeds():
        model = load_bytes(data, "seed", TrustPolicy(), mode)
        assert model is not None


def test_fuzzed_files_never_make_a_loader_look_up_what_the_walk_missed() -> None:
    outcome = fuzz.run(DEFAULT_CASES, seed=21)
    assert outcome.cases == DEFAULT_CASES
    assert outcome.accepted > 100 and outcome.loader_lookups > 1000  # the oracle really ran
    assert outcome.missed == []


@pytest.mark.slow
def test_fuzz_many_more_cases_and_other_joblib_versions() -> None:
    """50,000 cases here; plus 20,000 under each joblib folder in MLGATE_FUZZ_JOBLIB_PATHS (pip --target dirs)."""
    outcome = fuzz.run(50_000, seed=2121)
    assert outcome.missed == []
    for folder in filter(None, os.environ.get("MLGATE_FUZZ_JOBLIB_PATHS", "").split(os.pathsep)):
        done = subprocess.run([sys.executable, str(Path(fuzz.__file__)), "20000", "7"], capture_output=True,
                              text=True, env={**os.environ, "PYTHONPATH": folder}, timeout=1800, check=False)
        assert done.returncode == 0, done.stdout + done.stderr


def _compressed(data: bytes, kind: str) -> bytes:
    import bz2
    import gzip
    import lzma
    import zlib

    return {"zlib": lambda: zlib.compress(data, 3), "gzip": lambda: gzip.compress(data, mtime=0),
            "bz2": lambda: bz2.compress(data), "lzma": lambda: lzma.compress(data, format=lzma.FORMAT_ALONE),
            "xz": lambda: lzma.compress(data, format=lzma.FORMAT_XZ)}[kind]()


@pytest.mark.parametrize("kind", ["zlib", "gzip", "bz2", "lzma", "xz"])
def test_compressed_desync_is_refused_and_compressed_models_load(kind: str) -> None:
    model = _model()
    evil = _compressed(desync_attack(model, "true"), kind)
    with fuzz.watching() as seen, contextlib.suppress(Exception):
        joblib.load(io.BytesIO(evil))
    assert ("posix", "system") in seen  # joblib decompresses it the same way and reaches the call
    assert "NumpyArrayWrapper inside a nested stream" in str(inspect_bytes(evil, "e.joblib", TrustPolicy()).error)
    buf = io.BytesIO()
    joblib.dump(model, buf, compress=(kind, 3))
    assert load_bytes(buf.getvalue(), "m.joblib", TrustPolicy()).predict([[3.0]])[0] == 1


def _plain(body: bytes) -> bytes:
    return b"\x80\x04" + body + b"."


_DIFFERENT = [
    (b"\x04\x22\x4d\x18" + b"\x00" * 20, "lz4"),
    (b"ZF0x0000" + b"\x00" * 20, "before joblib 0.10"),
    (_compressed(pickle.dumps(1), "gzip") + b"junk", "after the end of its gzip"),
    (_plain(b"\x97"), "out-of-band buffer"),
    (_plain(b"\x82\x01"), "extension registry"),
    (_plain(b"(P1\n"), "persistent id"),
    (_plain(b"(0N"), "removes a mark"),
    # an array whose BUILD is not the end of its frame: joblib would read its data after the frame
    (b"\x80\x04\x95" + (len(fuzz.wrapper_ops((1,), "u1", None)) + 1).to_bytes(8, "little")
     + fuzz.wrapper_ops((1,), "u1", None) + b"N" + b"\xff0N.", "inside a pickle frame"),
    # the same wrapper built twice through the memo: joblib would read two arrays
    (b"\x80\x04" + fuzz.wrapper_ops((1,), "u1", None)[:-2].replace(b"\x81", b"\x81\x94", 1) + b"ub\xff0h\x00N.",
     "fetched again from the memo"),
    (_plain(b"cnumpy\ndtype\n\x8c\x02f8\x89\x89\x87R"), "without copy=True"),
    (_plain(b"cnumpy\ndtype\n\x8c\x02f8\x89\x88\x87R(K\x03\x8c\x01<NNNK\x10J\xff\xff\xff\xffK\x00tb"),
     "state that differs"),
]


@pytest.mark.parametrize(("data", "reason"), _DIFFERENT, ids=[reason for _data, reason in _DIFFERENT])
def test_constructs_the_loaders_would_read_differently_are_refused(data: bytes, reason: str) -> None:
    found = inspect_bytes(data, "x.joblib", TrustPolicy())
    assert not found.safe and reason in str(found.error), found.error
