"""The FastAPI application: health, readiness, predict, MLflow's scoring protocol, metrics.

The prediction path is written for speed: no pydantic model per request, no middleware
that buffers bodies; the order is rate limit, authentication, body size, JSON, validation,
then the model, so nothing a refused client sends costs model time. Concurrent requests
are micro-batched: each request queues its validated columns and one callback, scheduled
on the event loop after the requests already read, predicts them all in one model call
(a scikit-learn Pipeline costs about the same for 1 row as for 32).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.requests import ClientDisconnect

from mlgate import __version__
from mlgate.serve.admin import install_admin, with_slot_prefix
from mlgate.serve.auth import KeyStore, presented_key
from mlgate.serve.deployment import Deployment
from mlgate.serve.jsonlog import JsonLineWriter
from mlgate.serve.lanes import Lane, Routing
from mlgate.serve.metrics import ServerMetrics
from mlgate.serve.model import Predictions, ServedModel
from mlgate.serve.ratelimit import RateLimiter, parse_rate, retry_after
from mlgate.serve.schema import InputError, parse_json, rows_from_csv
from mlgate.serve.settings import ServeSettings, log_folder

JSON = "application/json"
CSV = "text/csv"
IGNORED_HEADER = "x-mlgate-ignored-columns"  # /invocations: the columns dropped as MLflow drops them
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_PREDICT_DOC = {
    "requestBody": {"required": True, "content": {JSON: {"schema": {
        "type": "object",
        "description": "One of: {'features': [v1, v2, ...]} in training column order, "
                       "{'features': {name: value}}, {'instances': [[...], ...]} or "
                       "{'records': [{...}, ...]}. JSON null is a missing value.",
    }}}},
}
_INVOCATIONS_DOC = {
    "requestBody": {"required": True, "content": {JSON: {"schema": {
        "type": "object",
        "description": "MLflow scoring protocol: one of dataframe_split, dataframe_records, "
                       "instances, inputs.",
    }}}},
}


class MicroBatcher:
    """Collect the rows of concurrent requests and predict them in one model call."""

    def __init__(self, model: ServedModel, metrics: ServerMetrics, max_rows: int = 512) -> None:
        self.model = model
        self.metrics = metrics
        self.max_rows = max_rows
        self._pending: list[tuple[dict[str, np.ndarray], int, asyncio.Future[Predictions]]] = []
        self._scheduled = False

    def submit(self, columns: dict[str, np.ndarray], n: int) -> asyncio.Future[Predictions]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Predictions] = loop.create_future()
        self._pending.append((columns, n, future))
        if not self._scheduled:
            self._scheduled = True
            # call_soon runs after every request task already woken in this loop turn has
            # queued its rows, so concurrent requests share one model call.
            loop.call_soon(self._flush)
        return future

    def _flush(self) -> None:
        self._scheduled = False
        pending, self._pending = self._pending, []
        group: list[tuple[dict[str, np.ndarray], int, asyncio.Future[Predictions]]] = []
        rows = 0
        for item in pending:
            if group and rows + item[1] > self.max_rows:
                self._run(group)
                group, rows = [], 0
            group.append(item)
            rows += item[1]
        if group:
            self._run(group)

    def _run(self, group: list[tuple[dict[str, np.ndarray], int, asyncio.Future[Predictions]]]) -> None:
        if len(group) == 1:
            columns, n, future = group[0]
            self._settle(future, columns, n)
            return
        names = list(group[0][0])
        merged = {k: np.concatenate([g[0][k] for g in group]) if _same_kind(group, k)
                  else np.concatenate([g[0][k].astype(object) for g in group]) for k in names}
        total = sum(g[1] for g in group)
        try:
            out = self.model.predict(merged)
        except Exception:  # one bad request must not fail its neighbours: retry one by one
            for columns, n, future in group:
                self._settle(future, columns, n)
            return
        self.metrics.batch_rows.observe(total)
        start = 0
        for _, n, future in group:
            if not future.done():  # a client may have gone away
                probs = out.probabilities[start:start + n] if out.probabilities is not None else None
                future.set_result(Predictions(out.labels[start:start + n], probs))
            start += n

    def _settle(self, future: asyncio.Future[Predictions], columns: dict[str, np.ndarray], n: int) -> None:
        try:
            out = self.model.predict(columns)
        except Exception as exc:  # the model refused rows the schema accepted
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            error = InputError(422, f"the model cannot predict this input: {first[:300]}",
                               reason="model_error")
            if not future.done():
                future.set_exception(error)
            return
        self.metrics.batch_rows.observe(n)
        if not future.done():
            future.set_result(out)


def _same_kind(group: list[Any], key: str) -> bool:
    kinds = {g[0][key].dtype for g in group}
    return len(kinds) == 1


class Server:
    """The state one worker holds: model, keys, limiter, metrics, logs."""

    def __init__(self, settings: ServeSettings, model: ServedModel) -> None:
        self.settings = settings
        self.model = model
        self.keys = KeyStore(settings.key_hashes)
        capacity, rate = parse_rate(settings.rate_limit)
        self.limiter = RateLimiter(capacity, rate)
        self.metrics = ServerMetrics(model.version, settings.slot)
        self.batcher = MicroBatcher(model, self.metrics)
        # the slots (stable, canary, shadow, candidate, previous); Deployment replaces it on a switch
        self.routing = Routing(0, Lane("stable", model, self.batcher, self.metrics))
        self.deployment: Deployment = None  # type: ignore[assignment]  # set by create_app
        folder = log_folder(settings.prediction_log)
        self.prediction_log = (JsonLineWriter(folder=folder, max_bytes=settings.prediction_log_max_bytes,
                                              expand=self._prediction_records,
                                              on_drop=self.metrics.log_dropped["prediction"].inc)
                               if folder else None)
        self.access_log = (JsonLineWriter(stem="access", on_drop=self.metrics.log_dropped["access"].inc,
                                          expand=_access_record)
                           if settings.access_log else None)

    def close(self) -> None:
        for writer in (self.prediction_log, self.access_log):
            if writer is not None:
                writer.close()

    # -- the prediction path --------------------------------------------------------

    async def handle(self, request: Request, endpoint: str) -> Response:
        """Answer /predict or /invocations; every refusal is a 4xx with the reason."""
        started = time.perf_counter()
        rid = _request_id(request)
        mlflow_style = endpoint == "invocations"
        routing, lane = self.routing, None
        try:
            presented = presented_key(request.headers)
            valid = self.keys.check(presented)
            client = f"key:{valid[:16]}" if valid else f"addr:{request.client.host if request.client else '?'}"
            wait = self.limiter.acquire(client)
            if wait > 0:
                raise InputError(429, f"rate limit of {self.settings.rate_limit} exceeded for this "
                                 f"client; retry in {retry_after(wait)} s", reason="rate_limited")
            if self.keys.required and valid is None:
                what = "a wrong API key" if presented else "no API key"
                raise InputError(401, f"{what}: send 'Authorization: Bearer KEY' or 'X-API-Key: KEY'",
                                 reason="unauthorized")
            csv_body = mlflow_style and _content_type(request) == CSV
            raw = await _read_body(request, self.settings.max_body_bytes)
            lane = request.scope.get("mlgate.lane") or routing.pick(request.headers)
            schema = lane.model.schema
            if csv_body:
                rows, field, batch = rows_from_csv(raw, schema), "csv", True
            elif mlflow_style:
                rows, field = schema.rows_from_invocations(parse_json(raw))
                batch = True
            else:
                rows, batch, field = schema.rows_from_predict(parse_json(raw))
            ignored: list[str] = []
            if mlflow_style:
                rows, ignored = schema.drop_unknown(rows)
            columns = schema.columns(rows, field, batch, self.settings.max_batch_rows)
            n = len(rows)
            out = await lane.batcher.submit(columns, n)
        except InputError as exc:
            if lane is not None and routing.recorder is not None:
                self.deployment.observe(routing, lane, time.perf_counter() - started, None, None, 0)
            if mlflow_style and exc.status == 422:  # MLflow answers bad input with 400 BAD_REQUEST
                exc.status = 400
            self.metrics.rejected[exc.reason].inc()
            return self._error(exc, rid, mlflow_style, wait if exc.status == 429 else 0.0)
        elapsed = time.perf_counter() - started
        lane.metrics.answered(endpoint, n, elapsed)
        headers = {"x-request-id": rid}
        if ignored:
            lane.metrics.ignored_columns.inc(len(ignored))
            headers[IGNORED_HEADER] = ", ".join(ignored[:20]) + (", ..." if len(ignored) > 20 else "")
        if routing.recorder is not None:
            self.deployment.observe(routing, lane, elapsed, out, columns, n)
        if self.prediction_log is not None:
            # time.time() here, formatted by the writer thread (isoformat costs 3 us a request)
            self.prediction_log.put((rid, endpoint, time.time(), columns, out,
                                     lane.model.version, lane.role), n)
        return Response(_render(out, batch, mlflow_style, lane.model, rid), media_type=JSON, headers=headers)

    def _error(self, exc: InputError, rid: str, mlflow_style: bool, wait: float) -> Response:
        headers = {"x-request-id": rid}
        if exc.status == 401:
            headers["www-authenticate"] = 'Bearer realm="mlgate"'
        if exc.status == 429:
            headers["retry-after"] = retry_after(wait)
        if mlflow_style and exc.status == 400:
            body: dict[str, Any] = {"error_code": "BAD_REQUEST", "message": exc.message}
        else:
            body = {"error": exc.reason, "message": exc.message, "request_id": rid}
        if exc.field:
            body["field"] = exc.field
        return Response(json.dumps(body), status_code=exc.status, media_type=JSON, headers=headers)

    def _prediction_records(self, item: Any) -> list[dict[str, Any]]:
        rid, endpoint, stamp, columns, out, version, slot = item
        when = datetime.fromtimestamp(stamp, UTC).isoformat()
        names = list(columns)
        values = [[None if isinstance(v, float) and v != v else v for v in columns[k].tolist()]
                  for k in names]
        records = []
        for i, label in enumerate(out.labels):
            record: dict[str, Any] = {
                "time": when, "request_id": rid, "model_version": version,
                "slot": slot, "endpoint": endpoint,
                "inputs": {k: values[j][i] for j, k in enumerate(names)},
                "prediction": label,
            }
            if out.probabilities is not None:
                record["probabilities"] = out.probabilities[i]
            records.append(record)
        return records


def _render(out: Predictions, batch: bool, mlflow_style: bool, model: ServedModel, rid: str) -> bytes:
    if mlflow_style:
        return json.dumps({"predictions": out.labels}).encode()
    probs = out.probabilities
    scores = None
    if probs is not None:
        # binary: the probability of the positive class (the last class), as clients expect;
        # multiclass: the probability of the predicted class
        scores = [p[-1] for p in probs] if len(probs[0]) == 2 else [max(p) for p in probs]
    if batch:
        body: dict[str, Any] = {"predictions": out.labels}
        if scores is not None:
            body["probabilities"] = scores
    else:
        body = {"prediction": out.labels[0]}
        if scores is not None:
            body["probability"] = scores[0]
            if probs is not None and len(probs[0]) > 2 and model.classes is not None:
                body["probabilities"] = dict(zip(map(str, model.classes), probs[0], strict=True))
    body["model_version"] = model.version
    body["request_id"] = rid
    return json.dumps(body).encode()


def _request_id(request: Request) -> str:
    given = request.headers.get("x-request-id")
    if given and _REQUEST_ID.match(given):
        return given
    return f"{_RID[0]}{next(_RID[1]):016x}"


def _new_rid_source() -> None:
    # 32 hex characters like uuid4().hex: a random per-process prefix and a counter. uuid4()
    # reads os.urandom on every request (3.8 us here, a system call); a forked worker gets a
    # prefix of its own, so ids stay unique across workers.
    _RID[:] = [secrets.token_hex(8), itertools.count()]


_RID: list[Any] = []
_new_rid_source()
os.register_at_fork(after_in_child=_new_rid_source)


def _content_type(request: Request) -> str:
    """The MIME type of an /invocations body: JSON or CSV, as MLflow's server takes; else 415."""
    mime = request.headers.get("content-type", JSON).split(";")[0].strip().lower()
    if mime not in (JSON, CSV):
        raise InputError(415, f"/invocations takes {JSON} or {CSV} (got {mime!r})",
                         reason="unsupported_media_type")
    return mime


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise InputError(413, f"body of {int(declared)} bytes is over the limit of {limit} bytes",
                         reason="body_too_large")
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise InputError(413, f"body is over the limit of {limit} bytes", reason="body_too_large")
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(settings: ServeSettings, model: ServedModel | None = None) -> Any:
    """The ASGI application for one worker; loads the model from ``settings`` unless given.

    It is the FastAPI app wrapped in two plain ASGI layers (prediction hot path, access
    log); ``.app`` is the FastAPI app and ``.state.server`` the worker state.
    """
    from contextlib import asynccontextmanager

    _limit_threads(settings.model_threads)
    if model is None:
        model = ServedModel.load(settings.model_path, version=settings.model_version,
                                 source=settings.model_source)
    server = Server(settings, model)
    server.deployment = Deployment(server, settings)
    server.deployment.start(model)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        watcher = asyncio.ensure_future(server.deployment.watcher.run())
        yield
        watcher.cancel()
        server.deployment.close()
        server.close()

    app = FastAPI(title="mlgate model server", version=__version__, lifespan=lifespan,
                  description=f"Serves {model.source} (version {model.version}).")
    app.state.server = server

    @app.get("/health", tags=["probes"])
    async def health() -> Response:
        """200 while the process lives."""
        return Response(b'{"status":"ok"}', media_type=JSON)

    @app.get("/ready", tags=["probes"])
    async def ready(request: Request) -> Response:
        """200 with the model version: the model is loaded (and warmed up) before the server binds,
        so a server that answers at all is ready; a client waiting for start-up sees a refused
        connection until then, never a 503."""
        model = _slot_model(request, server)
        return Response(json.dumps({"status": "ready", "model_version": model.version}),
                        media_type=JSON)

    @app.get("/model-info", tags=["model"])
    async def model_info(request: Request) -> Response:
        """Name, registry version, type, features, metrics, commit, training time, an example row."""
        return Response(json.dumps(_slot_model(request, server).describe(), default=str), media_type=JSON)

    @app.post("/predict", tags=["predict"], openapi_extra=_PREDICT_DOC)
    async def predict(request: Request) -> Response:
        """Predict one row or a batch; needs an API key when keys are configured."""
        return await server.handle(request, "predict")

    @app.post("/invocations", tags=["mlflow"], openapi_extra=_INVOCATIONS_DOC)
    async def invocations(request: Request) -> Response:
        """MLflow's scoring protocol: answers {"predictions": [...]} as `mlflow models serve` does."""
        return await server.handle(request, "invocations")

    @app.get("/ping", tags=["mlflow"])
    async def ping() -> Response:
        """MLflow's health probe."""
        return Response(b"\n", media_type=JSON)

    @app.get("/version", tags=["mlflow"])
    async def version() -> Response:
        """The MLflow version the model was saved with, as MLflow's server answers."""
        return Response(_mlflow_version(), media_type=JSON)

    @app.get("/metrics", tags=["probes"])
    async def metrics() -> Response:
        """Prometheus metrics."""
        body, content_type = server.metrics.render()
        return Response(body, media_type=content_type)

    install_admin(app, server)
    outer = with_slot_prefix(_with_hot_path(app, server), server)
    if server.access_log is not None:
        outer = _with_access_log(outer, server)
    return outer  # type: ignore[no-any-return]


def _slot_model(request: Request, server: Server) -> ServedModel:
    """The model of the slot a ``/_slot/<role>/...`` request names, else the stable one."""
    lane = request.scope.get("mlgate.lane")
    return lane.model if lane is not None else server.model


def _with_hot_path(app: FastAPI, server: Server) -> Any:
    """Send ``POST /predict`` and ``POST /invocations`` straight to the handler.

    FastAPI's routing, dependency solving and exception middleware cost about as much as a
    logistic regression's prediction; the prediction endpoints need none of them (they stay
    registered on the FastAPI app for the OpenAPI docs).
    """
    hot = {"/predict": "predict", "/invocations": "invocations"}

    async def asgi(scope: dict[str, Any], receive: Callable[[], Awaitable[Any]],
                   send: Callable[[Any], Awaitable[None]]) -> None:
        endpoint = hot.get(scope.get("path", "")) if scope["type"] == "http" else None
        if endpoint is None or scope["method"] != "POST":
            await app(scope, receive, send)
            return
        try:
            response = await server.handle(Request(scope, receive), endpoint)
        except ClientDisconnect:  # the client left mid-body: nobody to answer
            return
        await response(scope, receive, send)

    asgi.state = app.state  # type: ignore[attr-defined]
    asgi.app = app  # type: ignore[attr-defined]
    return asgi


def _with_access_log(app: Any, server: Server) -> Any:
    """Wrap the app in a plain ASGI layer that logs one JSON line per request."""
    writer = server.access_log
    assert writer is not None

    async def logged(scope: dict[str, Any], receive: Callable[[], Awaitable[Any]],
                     send: Callable[[Any], Awaitable[None]]) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        rid = ""

        async def capture(message: Any) -> None:
            nonlocal status, rid
            if message["type"] == "http.response.start":
                status = message["status"]
                for k, v in message.get("headers", ()):
                    if k == b"x-request-id":
                        rid = v.decode()
            await send(message)

        try:
            await app(scope, receive, capture)
        finally:
            # a tuple; the writer thread builds the line (_access_record), off the request path
            writer.put((time.time(), scope["method"], scope["path"], status, time.perf_counter() - started,
                        scope.get("client"), rid, server.model.version))

    logged.state = app.state  # type: ignore[attr-defined]
    logged.app = app  # type: ignore[attr-defined]
    return logged


def _access_record(item: tuple[Any, ...]) -> list[dict[str, Any]]:
    stamp, method, path, status, seconds, client, rid, version = item
    return [{"time": datetime.fromtimestamp(stamp, UTC).isoformat(timespec="milliseconds"),
             "method": method, "path": path, "status": status, "duration_ms": round(seconds * 1000, 3),
             "client": client[0] if client else None, "request_id": rid or None, "model_version": version}]


def _limit_threads(n: int) -> None:
    """One model thread per worker: OpenMP threads per predict call fight the server's own."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(n)


def _mlflow_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mlflow")
    except PackageNotFoundError:
        return "unknown"


def create_app_from_env() -> Any:
    """uvicorn factory for worker processes: settings come from ``MLGATE_SERVE_SETTINGS``."""
    return create_app(ServeSettings.from_env())
