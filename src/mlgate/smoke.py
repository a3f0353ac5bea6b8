"""The deployment test suite: the seed's six ``ModelDeploymentTest`` checks, done right.

Run against a URL: health and readiness, a real prediction, the model version, input
validation, latency p95 over N requests, authentication with and without a key, the
Prometheus metric names, and rate limiting (a 429 with ``Retry-After`` that clears after
waiting). Each check is a small class in ``SMOKE_CHECKS``; ``run_smoke`` runs them in table
order (rate limiting last, since it empties the client's bucket) into a ``Report``.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

from mlgate.check_base import CheckBase
from mlgate.errors import UsageError
from mlgate.reports import Check, Report, Timer

RATE_LIMIT_WAIT_S = 45.0  # latency: 429s waited out for at most this long (default 100/minute: 50 in 30 s)
REQUIRED_METRICS = ("ml_predictions_total", "ml_prediction_latency_seconds_bucket",
                    "ml_requests_rejected_total")


@dataclass
class SmokeContext:
    """What the checks share: the client, the target and what earlier checks learned."""

    url: str
    client: Any
    api_key: str | None
    expect_version: str | None
    n_requests: int
    sample: dict[str, Any] | None
    max_p95_ms: float
    max_burst: int
    info: dict[str, Any] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)

    def headers(self, key: str | None = "default") -> dict[str, str]:
        key = self.api_key if key == "default" else key
        return {"Authorization": f"Bearer {key}"} if key else {}

    def predict(self, body: Any = None, key: str | None = "default", raw: bytes | None = None) -> Any:
        if raw is not None:
            return self.client.post(f"{self.url}/predict", content=raw,
                                    headers={**self.headers(key), "Content-Type": "application/json"})
        return self.client.post(f"{self.url}/predict", json=body if body is not None else self.sample,
                                headers=self.headers(key))


class SmokeCheck(CheckBase):
    """One deployment test (the shared check core); ``run`` returns a Check that reads observed versus expected."""

    def run(self, ctx: SmokeContext) -> Check:
        raise NotImplementedError

    def refused(self, response: Any, path: str, note: str = "") -> Check | None:
        """The failed check when ``path`` did not answer 200, else None."""
        if response.status_code == 200:
            return None
        return self.row(passed=False, observed=response.status_code, expected=200,
                     message=f"{path} answered {response.status_code}{note}")


class Health(SmokeCheck):
    """``/health`` and ``/ready`` answer 200."""

    name: ClassVar[str] = "health"

    def run(self, ctx: SmokeContext) -> Check:
        health = ctx.client.get(f"{ctx.url}/health").status_code
        ready = ctx.client.get(f"{ctx.url}/ready").status_code
        ok = health == 200 and ready == 200
        return self.row(passed=ok, observed={"health": health, "ready": ready},
                     expected={"health": 200, "ready": 200},
                     message=f"/health {health}, /ready {ready} (expected 200 and 200)")


class ModelVersion(SmokeCheck):
    """``/model-info`` answers the expected registry version, as a string."""

    name: ClassVar[str] = "model_version"

    def run(self, ctx: SmokeContext) -> Check:
        response = ctx.client.get(f"{ctx.url}/model-info")
        if failed := self.refused(response, "/model-info"):
            return failed
        ctx.info = response.json()
        version = ctx.info.get("version")
        if not isinstance(version, str):
            return self.row(passed=False, observed=version, expected="a string",
                         message=f"version is {type(version).__name__} {version!r}, not a string")
        if ctx.expect_version is None:
            return self.row(passed=True, observed=version,
                         message=f"serving version {version} (no --expect-version given)")
        ok = version == ctx.expect_version
        return self.row(passed=ok, observed=version, expected=ctx.expect_version,
                     message=f"serving version {version!r} (expected {ctx.expect_version!r})")


class Prediction(SmokeCheck):
    """A valid request gets 200 with a prediction (and a probability for classifiers)."""

    name: ClassVar[str] = "prediction"

    def run(self, ctx: SmokeContext) -> Check:
        if ctx.sample is None:
            example = ctx.info.get("input_example")
            if not example:
                return self.row(passed=False, expected="an input_example in /model-info",
                             message="no sample request given and /model-info has no input_example")
            ctx.sample = {"features": example}
        response = _after_rate_limit(ctx.predict)
        hint = " (pass --api-key or set MLGATE_API_KEY)" if response.status_code == 401 and not ctx.api_key else ""
        if failed := self.refused(response, "/predict", f"{hint}: {response.text[:200]}"):
            return failed
        body = response.json()
        want = ["prediction", "model_version", "request_id"]
        if ctx.info.get("task") in ("binary", "multiclass"):
            want.append("probability")
        missing = [k for k in want if k not in body]
        version_ok = ctx.info.get("version") in (None, body.get("model_version"))
        ok = not missing and version_ok
        message = (f"prediction {body.get('prediction')!r}, probability {body.get('probability')!r}"
                   if ok else f"answer lacks {missing} or names version {body.get('model_version')!r}")
        return self.row(passed=ok, observed=sorted(body), expected=want, message=message)


class InputValidation(SmokeCheck):
    """Malformed JSON is a 400 and a wrong-length row a 422 naming the field, never a 5xx."""

    name: ClassVar[str] = "input_validation"

    def run(self, ctx: SmokeContext) -> Check:
        malformed = _after_rate_limit(lambda: ctx.predict(raw=b'{"features": [1, 2'))
        short = _after_rate_limit(lambda: ctx.predict({"features": [0.5, 0.3, 0.8, 0.1, 0.9]}))
        n = len(ctx.info.get("features") or [])
        observed = {"malformed_json": malformed.status_code, "wrong_length": short.status_code}
        expected = {"malformed_json": 400, "wrong_length": 422}
        if n == 5:  # the seed's 5-value row would be valid for this model
            observed.pop("wrong_length")
            expected.pop("wrong_length")
        ok = observed == expected
        return self.row(passed=ok, observed=observed, expected=expected,
                     message=", ".join(f"{k}: {v}" for k, v in observed.items()) + " (expected "
                     + ", ".join(f"{k}: {v}" for k, v in expected.items()) + ")")


class Latency(SmokeCheck):
    """p95 latency of N sequential single-row predictions is under the budget."""

    name: ClassVar[str] = "latency_p95"

    def run(self, ctx: SmokeContext) -> Check:
        """A 429 is waited out (``Retry-After``) and asked again, untimed, for up to
        ``RATE_LIMIT_WAIT_S`` in all: a smoke run within the last minute (its rate-limit check
        empties the bucket) or other clients must not read as a slow or failing server."""
        errors = limited = 0
        waited, deadline = 0.0, time.monotonic() + RATE_LIMIT_WAIT_S
        timed: list[float] = []
        while len(timed) < ctx.n_requests:
            t0 = time.perf_counter()
            response = ctx.predict()
            took = (time.perf_counter() - t0) * 1000
            if response.status_code == 429 and time.monotonic() < deadline:
                limited += 1
                pause = _retry_after(response)
                time.sleep(pause)
                waited += pause
                continue
            timed.append(took)
            errors += response.status_code != 200
        ctx.latencies_ms.extend(timed)
        p50, p95, p99 = (percentile(ctx.latencies_ms, q) for q in (50, 95, 99))
        ok = errors == 0 and p95 <= ctx.max_p95_ms
        note = (f"; {limited} answers 429 waited out ({waited:.0f} s; the server's rate limit, emptied by an "
                "earlier run or other clients)") if limited else ""
        return self.row(passed=ok, observed=round(p95, 2), expected=f"<= {ctx.max_p95_ms}",
                     message=f"p95 {p95:.1f} ms, p50 {p50:.1f} ms, p99 {p99:.1f} ms over "
                     f"{ctx.n_requests} requests, {errors} not 200 (limit p95 {ctx.max_p95_ms:.0f} ms){note}",
                     details={"p50_ms": round(p50, 2), "p99_ms": round(p99, 2), "errors": errors,
                              "rate_limited": limited, "waited_s": round(waited, 1)})


class Authentication(SmokeCheck):
    """Without a key and with a wrong key ``/predict`` answers 401 with ``WWW-Authenticate``."""

    name: ClassVar[str] = "authentication"

    def run(self, ctx: SmokeContext) -> Check:
        none = _after_rate_limit(lambda: ctx.predict(key=None))
        wrong = _after_rate_limit(lambda: ctx.predict(key="mlgate-smoke-wrong-key"))
        observed = {"no_key": none.status_code, "wrong_key": wrong.status_code,
                    "www_authenticate": "www-authenticate" in none.headers}
        expected = {"no_key": 401, "wrong_key": 401, "www_authenticate": True}
        ok = observed == expected
        hint = "" if ok or ctx.api_key else " (the server accepts predictions without a key)"
        return self.row(passed=ok, observed=observed, expected=expected,
                     message=f"no key: {none.status_code}, wrong key: {wrong.status_code} "
                     f"(expected 401 and 401){hint}")


class Monitoring(SmokeCheck):
    """``/metrics`` answers Prometheus text with the prediction and rejection metrics."""

    name: ClassVar[str] = "monitoring"

    def run(self, ctx: SmokeContext) -> Check:
        response = ctx.client.get(f"{ctx.url}/metrics")
        if failed := self.refused(response, "/metrics"):
            return failed
        text = response.text
        missing = [m for m in REQUIRED_METRICS if m not in text]
        version = ctx.info.get("version")
        labelled = version is None or f'model_version="{version}"' in text
        ok = not missing and labelled
        return self.row(passed=ok, observed=[m for m in REQUIRED_METRICS if m in text],
                     expected=list(REQUIRED_METRICS),
                     message="all metric names present, labelled by model version" if ok
                     else f"missing {missing or 'the model_version label'}")


class RateLimiting(SmokeCheck):
    """A burst gets 429 with ``Retry-After``, and after waiting that long requests pass again."""

    name: ClassVar[str] = "rate_limiting"

    def run(self, ctx: SmokeContext) -> Check:
        t0 = time.perf_counter()
        sent, limited = 0, None
        for _ in range(ctx.max_burst):
            response = ctx.predict()
            sent += 1
            if response.status_code == 429:
                limited = response
                break
        elapsed = time.perf_counter() - t0
        if limited is None:
            return self.row(passed=False, observed={"requests": sent, "429": 0},
                         expected="a 429 within the burst",
                         message=f"no 429 after {sent} requests in {elapsed:.1f} s: rate limiting "
                         "is off or allows bursts above this")
        retry = limited.headers.get("retry-after", "")
        if not retry.isdigit():
            return self.row(passed=False, observed={"retry_after": retry},
                         expected="Retry-After in whole seconds",
                         message=f"429 after {sent} requests without a valid Retry-After ({retry!r})")
        wait = int(retry)
        recovered = None
        if wait <= 10:  # a continuously refilling bucket lets a client back in after Retry-After
            time.sleep(wait)
            recovered = ctx.predict().status_code
        ok = recovered in (None, 200)
        return self.row(passed=ok,
                     observed={"first_429_after": sent, "retry_after_s": wait, "after_wait": recovered},
                     expected={"after_wait": 200},
                     message=f"429 after {sent} requests in {elapsed:.1f} s, Retry-After {wait} s; "
                     f"after waiting: {recovered if recovered is not None else 'not waited (over 10 s)'}")


SMOKE_CHECKS: dict[str, type[SmokeCheck]] = {c.name: c for c in (
    Health, ModelVersion, Prediction, InputValidation, Latency, Authentication, Monitoring,
    RateLimiting)}


def _after_rate_limit(call: Any, max_wait: float = 10.0) -> Any:
    """Call; on 429 wait ``Retry-After`` (bounded) and call again, so a rate limit emptied by an
    earlier run does not mask the answer under test (401, 400, 422, a prediction)."""
    response = call()
    deadline = time.monotonic() + max_wait
    while response.status_code == 429 and time.monotonic() < deadline:
        time.sleep(_retry_after(response))
        response = call()
    return response


def _retry_after(response: Any) -> float:
    """The 429's ``Retry-After`` in seconds, at most 2 (a refilling bucket lets one request in sooner)."""
    try:
        return min(max(float(response.headers.get("retry-after", "1") or 1), 0.05), 2.0)
    except ValueError:
        return 1.0


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile by linear interpolation (numpy's default), without numpy."""
    if not values:
        return math.nan
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def run_smoke(url: str, *, api_key: str | None = None, expect_version: str | None = None,
              n_requests: int = 50, sample: dict[str, Any] | None = None,
              max_p95_ms: float = 500.0, max_burst: int = 300, timeout: float = 10.0,
              checks: list[str] | None = None, client: Any = None, verify: Any = True) -> Report:
    """Run the deployment tests against ``url``; one Check per test in a "smoke" Report.

    ``client`` is an httpx-compatible client to use instead of a new ``httpx.Client``
    (tests pass Starlette's in-process TestClient).
    """
    import httpx

    if n_requests < 1:
        raise UsageError(f"--requests must be at least 1 (got {n_requests})")
    unknown = sorted(set(checks or []) - set(SMOKE_CHECKS))
    if unknown:
        raise UsageError(f"unknown smoke checks {unknown}; choose from {sorted(SMOKE_CHECKS)}")
    report = Report(stage="smoke", extras={"url": url})
    # verify: True (system CAs) or an ssl.SSLContext trusting a private CA (mlgate.deploy.client.tls_verify)
    own = httpx.Client(timeout=timeout, verify=verify) if client is None else contextlib.nullcontext(client)
    with Timer(report), own as client:
        ctx = SmokeContext(url=url.rstrip("/"), client=client, api_key=api_key,
                           expect_version=expect_version, n_requests=n_requests, sample=sample,
                           max_p95_ms=max_p95_ms, max_burst=max_burst)
        try:
            client.get(f"{ctx.url}/health")
        except httpx.HTTPError as exc:
            report.add(Check(name="reachable", passed=False, observed=str(exc), expected=url,
                             message=f"cannot reach {url}: {exc}"))
            report.key_figure = "unreachable"
            return report
        for name, cls in SMOKE_CHECKS.items():
            if checks and name not in checks and name != "model_version":
                continue
            try:
                report.add(cls().run(ctx))
            except httpx.HTTPError as exc:
                report.add(Check(name=name, passed=False, message=f"request failed: {exc}"))
            except ValueError as exc:  # an answer that is not the JSON it should be
                report.add(Check(name=name, passed=False, message=f"unexpected answer: {exc}"))
    if ctx.latencies_ms:
        p50, p95, p99 = (percentile(ctx.latencies_ms, q) for q in (50, 95, 99))
        report.metrics.update({"latency_p50_ms": round(p50, 2), "latency_p95_ms": round(p95, 2),
                               "latency_p99_ms": round(p99, 2), "requests": len(ctx.latencies_ms)})
        report.key_figure = f"p95 {p95:.1f} ms over {len(ctx.latencies_ms)} requests"
    version = ctx.info.get("version")
    if version is not None:
        report.extras["model_version"] = version
        report.key_figure = f"version {version} · {report.key_figure}".rstrip(" ·")
    return report
