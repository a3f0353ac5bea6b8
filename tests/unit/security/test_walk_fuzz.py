"""The walk against the real loaders: the desynchronising attack, then thousands of mutated files.

The oracle is the ``pickle.find_class`` audit event (see ``fuzz_walk``): a case fails when the walk
accepted a file and a real loader looked up a global the walk did not report.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
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
