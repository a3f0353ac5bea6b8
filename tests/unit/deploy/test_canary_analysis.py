"""Canary analysis on observation rows: verdicts, directions, and the false-rollback rate."""

from __future__ import annotations

import numpy as np
import pytest

from mlgate.config import CanaryConfig
from mlgate.deploy.canary import analyze, next_step

CONFIG = CanaryConfig(error_rate={"material": 0.01, "min_requests": 200},
                      latency={"material": 0.1, "min_requests": 200},
                      predictions={"material": 0.1, "min_requests": 200})


def rows(rng: np.random.Generator, role: str, n: int, *, error: float = 0.01, latency: float = 2.0,
         positive: float = 0.3) -> list[list[object]]:
    ok = rng.random(n) >= error
    lat = rng.lognormal(np.log(latency), 0.3, n)
    labels = (rng.random(n) < positive).astype(int)
    return [[1.0, role, "v", float(lat[i]), bool(ok[i]), [int(labels[i])] if ok[i] else []] for i in range(n)]


def test_identical_versions_are_rarely_rolled_back() -> None:
    """Over 300 seeds of two identical slots, the rollback rate stays near alpha (0.01, Holm over 3)."""
    rollbacks = 0
    for seed in range(300):
        rng = np.random.default_rng(seed)
        result = analyze(rows(rng, "baseline", 400) + rows(rng, "canary", 400), CONFIG)
        rollbacks += result.verdict == "rollback"
        assert result.verdict in ("promote", "rollback")
    assert rollbacks / 300 <= 0.02, rollbacks


@pytest.mark.parametrize(("change", "check"), [
    ({"positive": 1.0}, "predictions"),       # always the minority class
    ({"error": 0.08}, "error_rate"),          # 8% errors against 1%
    ({"latency": 3.0}, "latency"),            # 50% slower
])
def test_a_bad_canary_is_rolled_back_naming_the_check(change: dict[str, float], check: str) -> None:
    rng = np.random.default_rng(1)
    result = analyze(rows(rng, "baseline", 400) + rows(rng, "canary", 400, **change), CONFIG)
    assert result.verdict == "rollback" and check in result.bad, result.reasons()


def test_a_better_canary_is_not_rolled_back() -> None:
    rng = np.random.default_rng(2)
    result = analyze(rows(rng, "baseline", 600, error=0.05, latency=3.0) +
                     rows(rng, "canary", 600, error=0.0, latency=1.5), CONFIG)
    assert result.verdict == "promote", result.reasons()
    assert {d.outcome for k, d in result.decisions.items() if k != "predictions"} == {"differs"}


def test_too_few_requests_continue_and_say_how_many_are_needed() -> None:
    rng = np.random.default_rng(3)
    result = analyze(rows(rng, "baseline", 400) + rows(rng, "canary", 50), CONFIG)
    assert result.verdict == "continue"
    assert "needs at least 200" in result.reasons()


def test_stable_rows_are_not_the_canary_reference() -> None:
    rng = np.random.default_rng(4)
    result = analyze(rows(rng, "stable", 400, positive=1.0) + rows(rng, "baseline", 400) +
                     rows(rng, "canary", 400), CONFIG)
    assert result.verdict == "promote"


def test_steps() -> None:
    assert next_step([10, 25, 50, 100], 10) == 25
    assert next_step([10, 25, 50, 100], 50) is None  # the next step is full promotion
    assert next_step([10, 25, 50, 100], 0) == 10
