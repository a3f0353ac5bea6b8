"""Conformance of the smoke checks: every check in the table passes against a correct server
and fails against a server that lacks what it tests."""

from __future__ import annotations

import inspect
import re
import warnings
from pathlib import Path
from typing import Any

import pytest

with warnings.catch_warnings():  # Starlette 1.x asks for httpx2; the httpx client works the same
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from mlgate import smoke
from mlgate.serve.app import create_app
from mlgate.serve.auth import hash_key
from mlgate.serve.settings import ServeSettings
from mlgate.smoke import SMOKE_CHECKS, SmokeCheck, percentile, run_smoke

KEY = "smoke-unit-key"


def make_client(served: Any, folder: Path, **kw: Any) -> TestClient:
    base = {"model_path": str(folder), "model_source": str(folder), "model_version": "7",
            "key_hashes": [hash_key(KEY)], "access_log": False, "rate_limit": "20/second"}
    return TestClient(create_app(ServeSettings(**{**base, **kw}), served))


def test_table_is_complete_and_names_are_stable() -> None:
    classes = [c for _, c in inspect.getmembers(smoke, inspect.isclass)
               if issubclass(c, SmokeCheck) and c is not SmokeCheck]
    assert set(SMOKE_CHECKS.values()) == set(classes)
    for name, cls in SMOKE_CHECKS.items():
        assert re.fullmatch(r"[a-z][a-z0-9_]*", name) and cls.__doc__
    assert list(SMOKE_CHECKS)[-1] == "rate_limiting"  # it empties the bucket: last


@pytest.mark.parametrize("name", list(SMOKE_CHECKS))
def test_each_check_passes_against_a_correct_server(name: str, served, lr_model_dir: Path) -> None:  # type: ignore[no-untyped-def]
    with make_client(served, lr_model_dir) as client:
        report = run_smoke("http://testserver", api_key=KEY, expect_version="7", n_requests=5,
                           checks=[name, "prediction"], client=client)
    check = next(c for c in report.checks if c.name == name)
    assert check.passed, check.message


@pytest.mark.parametrize(("name", "settings", "expect"), [
    ("authentication", {"key_hashes": []}, "7"),
    ("rate_limiting", {"rate_limit": "off"}, "7"),
    ("model_version", {}, "8"),
    ("latency_p95", {}, "7"),
])
def test_each_check_fails_when_its_property_is_missing(name: str, settings: dict, expect: str,  # type: ignore[no-untyped-def]
                                                       served, lr_model_dir: Path) -> None:
    budget = 0.0 if name == "latency_p95" else 500.0
    with make_client(served, lr_model_dir, **settings) as client:
        report = run_smoke("http://testserver", api_key=KEY, expect_version=expect, n_requests=3,
                           checks=[name, "prediction"], client=client, max_p95_ms=budget, max_burst=50)
    check = next(c for c in report.checks if c.name == name)
    assert not check.passed and not report.passed


def test_a_second_run_right_after_the_first_waits_out_the_rate_limit(served, lr_model_dir: Path) -> None:  # type: ignore[no-untyped-def]
    """The first run's rate-limit check empties this client's bucket; the second run's checks wait
    out the 429s (Retry-After) instead of failing: before, its latency check counted them as errors."""
    with make_client(served, lr_model_dir, rate_limit="8/second") as client:
        first = run_smoke("http://testserver", api_key=KEY, expect_version="7", n_requests=5, client=client)
        second = run_smoke("http://testserver", api_key=KEY, expect_version="7", n_requests=12, client=client)
    assert first.passed, [c.message for c in first.checks if not c.passed]
    assert second.passed, [c.message for c in second.checks if not c.passed]
    latency = next(c for c in second.checks if c.name == "latency_p95")
    assert latency.details["errors"] == 0 and latency.details["rate_limited"] > 0
    assert "429 waited out" in latency.message


def test_prediction_without_a_key_says_how_to_fix(served, lr_model_dir: Path) -> None:  # type: ignore[no-untyped-def]
    with make_client(served, lr_model_dir) as client:
        report = run_smoke("http://testserver", checks=["prediction"], client=client)
    check = next(c for c in report.checks if c.name == "prediction")
    assert not check.passed and "--api-key" in check.message


def test_unreachable_url_fails_cleanly() -> None:
    report = run_smoke("http://127.0.0.1:9", timeout=1)
    assert not report.passed and report.checks[0].name == "reachable"


def test_percentile_matches_numpy() -> None:
    import numpy as np

    values = [5.0, 1.0, 9.0, 3.0, 7.0, 2.0]
    for q in (50, 95, 99):
        assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)))
