"""Token buckets: bursts up to the capacity, continuous refill, bounded client table."""

from __future__ import annotations

import pytest

from mlgate.errors import ConfigError
from mlgate.serve.ratelimit import RateLimiter, parse_rate, retry_after


@pytest.mark.parametrize(("text", "expected"), [("100/minute", (100, 100 / 60)), ("10/second", (10, 10)),
                                                ("5/10s", (5, 0.5)), ("3600/hour", (3600, 1)), ("off", (0, 0))])
def test_parse_rate(text: str, expected: tuple[float, float]) -> None:
    assert parse_rate(text) == pytest.approx(expected)


@pytest.mark.parametrize("text", ["100", "100/fortnight", "-1/minute", "0/minute", "many/minute"])
def test_bad_rates_are_config_errors(text: str) -> None:
    with pytest.raises(ConfigError, match="rate_limit"):
        parse_rate(text)


def test_110_quick_requests_from_one_client_see_429s_and_the_bucket_refills() -> None:
    limiter = RateLimiter(*parse_rate("100/minute"))
    waits = [limiter.acquire("addr:1", now=1000.0 + i * 0.001) for i in range(110)]
    assert waits[:100] == [0.0] * 100
    assert all(w > 0 for w in waits[100:])
    assert retry_after(waits[-1]) == "1"
    # another client is unaffected
    assert limiter.acquire("addr:2", now=1000.2) == 0.0
    # continuous refill: 0.6 s later one token is back, never "429 forever"
    assert limiter.acquire("addr:1", now=1000.8) == 0.0
    assert limiter.acquire("addr:1", now=1000.81) > 0


def test_refused_requests_do_not_extend_the_wait() -> None:
    limiter = RateLimiter(1, 1.0)
    assert limiter.acquire("c", now=0.0) == 0.0
    for i in range(50):
        limiter.acquire("c", now=0.01 * i)
    assert limiter.acquire("c", now=1.0) == 0.0


def test_client_table_is_bounded() -> None:
    limiter = RateLimiter(1, 0.001, max_clients=10)
    for i in range(100):
        limiter.acquire(f"c{i}", now=0.0)
    assert len(limiter._buckets) == 10


def test_disabled_limiter_allows_everything() -> None:
    limiter = RateLimiter(*parse_rate("off"))
    assert all(limiter.acquire("c") == 0.0 for _ in range(1000))
