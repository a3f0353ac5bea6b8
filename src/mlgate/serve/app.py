"""The FastAPI application: health, readiness, predict, MLflow's scoring protocol, metrics.

The prediction path is written for speed: answered from the raw ASGI messages by the
front door (``serve.front``), no pydantic model per request; the order is rate limit,
authentication, body size, JSON, validation, then the model, so nothing a refused client
sends costs model time. Concurrent requests are micro-batched (``serve.batcher``).
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import json
import os
import re
import secrets
import time
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, NamedTuple

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response

from mlgate import __version__
from mlgate.serve.admin import install_admin
from mlgate.serve.auth import KeyStore, presented_key
from mlgate.serve.batcher import MicroBatcher
from mlgate.serve.deployment import Deployment
from mlgate.serve.follow import follow
from mlgate.serve.front import Disconnected, RawHeaders, Receive, front_door, read_body
from mlgate.serve.jsonlog import JsonLineWriter
from mlgate.serve.lanes import Lane, Routing
from mlgate.serve.metrics import ServerMetrics
from mlgate.serve.model import Predictions, ServedModel
from mlgate.serve.parent import die_with_parent
from mlgate.serve.ratelimit import RateLimiter, parse_rate, retry_after
from mlgate.serve.schema import InputError, parse_json, rows_from_csv
from mlgate.serve.settings import ServeSettings, log_folder

JSON = "application/json"
CSV = "text/csv"
IGNORED_HEADER = "x-mlgate-ignored-columns"  # /invocations: the columns dropped as MLflow drops them
NO_VERSION = ("environment {env} has no version yet: deploy one with `mlgate deploy --env {env} --strategy "
              "blue-green --version V`")
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


class Reply(NamedTuple):
    """A prediction endpoint's answer, ready to send; version is the model that answered.

    ``answered`` is what a successful prediction still has to count and log, done by
    ``Server.finish`` once the answer has been sent, so the client does not wait for it.
    """

    status: int
    headers: RawHeaders
    body: bytes
    request_id: str
    version: str
    answered: tuple[Any, ...] | None = None


class Server:
    """The state one worker holds: model, keys, limiter, metrics, logs."""

    def __init__(self, settings: ServeSettings, model: ServedModel | None) -> None:
        self.settings = settings
        # None: an --env server whose environment has no version yet (/ready and predictions: 503)
        self.model: ServedModel | None = model
        self.keys = KeyStore(settings.key_hashes)
        capacity, rate = parse_rate(settings.rate_limit)
        self.limiter = RateLimiter(capacity, rate)
        self.metrics = ServerMetrics(model.version if model else "none", settings.slot)
        self.batcher = MicroBatcher(model, self.metrics) if model else None
        # the slots (stable, canary, shadow, candidate, previous); Deployment replaces it on a switch
        self.routing = Routing(0, Lane("stable", model, self.batcher, self.metrics) if model and self.batcher
                               else None)
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

    async def handle(self, headers: dict[str, str], client: str, receive: Receive, endpoint: str,
                     slot: Lane | None = None) -> Reply:
        """Answer /predict or /invocations; every refusal is a 4xx with the reason.

        ``headers`` are the request's (lower-case names), ``client`` its address, ``receive``
        the ASGI channel its body comes on and ``slot`` the lane a ``/_slot/`` path named.
        """
        started = time.perf_counter()
        rid = _request_id(headers)
        mlflow_style = endpoint == "invocations"
        routing, lane = self.routing, None
        wait = 0.0
        try:
            presented = presented_key(headers)
            valid = self.keys.check(presented)
            wait = self.limiter.acquire(f"key:{valid[:16]}" if valid else f"addr:{client}")
            if wait > 0:
                raise InputError(429, f"rate limit of {self.settings.rate_limit} exceeded for this "
                                 f"client; retry in {retry_after(wait)} s", reason="rate_limited")
            if self.keys.required and valid is None:
                what = "a wrong API key" if presented else "no API key"
                raise InputError(401, f"{what}: send 'Authorization: Bearer KEY' or 'X-API-Key: KEY'",
                                 reason="unauthorized")
            csv_body = mlflow_style and _content_type(headers) == CSV
            raw = await read_body(receive, headers, self.settings.max_body_bytes)
            lane = slot or routing.pick(headers)
            if lane is None:
                raise InputError(503, NO_VERSION.format(env=self.settings.env), reason="no_version")
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
            answering = lane or slot or routing.stable
            version = answering.model.version if answering is not None else ""
            return self._error(exc, rid, mlflow_style, wait if exc.status == 429 else 0.0, version)
        elapsed = time.perf_counter() - started
        reply_headers = [(b"x-request-id", rid.encode())]
        if ignored:
            shown = ", ".join(ignored[:20]) + (", ..." if len(ignored) > 20 else "")
            reply_headers.append((IGNORED_HEADER.encode(), shown.encode("latin-1", "replace")))
        body = _render(out, batch, mlflow_style, lane.model, rid)
        # time.time() now; the log line's text is made later (isoformat costs 3 us a request)
        return Reply(200, reply_headers, body, rid, lane.model.version,
                     (routing, lane, endpoint, n, elapsed, len(ignored), out, columns, time.time()))

    def finish(self, reply: Reply) -> None:
        """Count and log a sent answer: metrics, the canary's observations, the prediction log.

        Done after the answer is on its way (the front door calls it once the reply is sent),
        so a lone request does not wait for its bookkeeping; nothing else runs in between, so a
        request that follows sees the counts.
        """
        if reply.answered is None:
            return
        routing, lane, endpoint, n, elapsed, ignored, out, columns, stamp = reply.answered
        lane.metrics.answered(endpoint, n, elapsed)
        if ignored:
            lane.metrics.ignored_columns.inc(ignored)
        if routing.recorder is not None:
            self.deployment.observe(routing, lane, elapsed, out, columns, n)
        if self.prediction_log is not None:
            self.prediction_log.put((reply.request_id, endpoint, stamp, columns, out,
                                     lane.model.version, lane.role), n)

    def _error(self, exc: InputError, rid: str, mlflow_style: bool, wait: float, version: str) -> Reply:
        headers = [(b"x-request-id", rid.encode())]
        if exc.status == 401:
            headers.append((b"www-authenticate", b'Bearer realm="mlgate"'))
        if exc.status == 429:
            headers.append((b"retry-after", retry_after(wait).encode()))
        if mlflow_style and exc.status == 400:
            body: dict[str, Any] = {"error_code": "BAD_REQUEST", "message": exc.message}
        else:
            body = {"error": exc.reason, "message": exc.message, "request_id": rid}
        if exc.field:
            body["field"] = exc.field
        return Reply(exc.status, headers, _dumps(body), rid, version)

    def _prediction_records(self, item: Any) -> list[dict[str, Any]]:
        rid, endpoint, stamp, columns, out, version, slot = item
        when = datetime.fromtimestamp(stamp, UTC).isoformat()
        names = list(columns)
        values = [columns[k].tolist() for k in names]  # NaN is written as null by the writer
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
        return _dumps({"predictions": out.labels})
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
    return _dumps(body)


def _dumps(body: dict[str, Any]) -> bytes:
    """A JSON answer: orjson (under 1 us, json's encoder took 3), or json for what orjson refuses
    (an integer label beyond 64 bits). Both write the shortest text that reads back as the same float."""
    try:
        return orjson.dumps(body)
    except TypeError:
        return json.dumps(body).encode()


def _request_id(headers: dict[str, str]) -> str:
    given = headers.get("x-request-id")
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


def _content_type(headers: dict[str, str]) -> str:
    """The MIME type of an /invocations body: JSON or CSV, as MLflow's server takes; else 415."""
    mime = headers.get("content-type", JSON).split(";")[0].strip().lower()
    if mime not in (JSON, CSV):
        raise InputError(415, f"/invocations takes {JSON} or {CSV} (got {mime!r})",
                         reason="unsupported_media_type")
    return mime


def create_app(settings: ServeSettings, model: ServedModel | None = None) -> Any:
    """The ASGI application for one worker; loads the model from ``settings`` unless given.

    It is the FastAPI app wrapped in two plain ASGI layers (prediction hot path, access
    log); ``.app`` is the FastAPI app and ``.state.server`` the worker state.
    """
    _limit_threads(settings.model_threads)
    if model is None and settings.model_path:
        model = ServedModel.load(settings.model_path, version=settings.model_version,
                                 source=settings.model_source, expected_sha256=settings.model_sha256)
    server = Server(settings, model)
    server.deployment = Deployment(server, settings)
    server.deployment.start(model)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        watcher = asyncio.ensure_future(server.deployment.watcher.run())
        follower = asyncio.ensure_future(follow(server, settings.converge_interval_s)) if settings.env else None
        yield
        watcher.cancel()
        if follower is not None:
            follower.cancel()
        server.deployment.close()
        server.close()

    app = FastAPI(title="mlgate model server", version=__version__, lifespan=lifespan,
                  description=f"Serves {model.source} (version {model.version})." if model else
                  f"Serves environment {settings.env}.")
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
        if server.model is None and request.scope.get("mlgate.lane") is None:
            return Response(json.dumps({"status": "not ready", "model_version": None,
                                        "message": NO_VERSION.format(env=settings.env)}), status_code=503,
                            media_type=JSON)
        model = _slot_model(request, server)
        return Response(json.dumps({"status": "ready", "model_version": model.version}),
                        media_type=JSON)

    @app.get("/model-info", tags=["model"])
    async def model_info(request: Request) -> Response:
        """Name, registry version, type, features, metrics, commit, training time, an example row.

        Without a valid API key (or when the server has no keys) the answer holds no local path
        and no training row: a ``source`` that is a path is left out (a registry URI stays) and
        ``input_example`` is built from the schema's kinds (0.0, 0, false, "").
        """
        model = _slot_model(request, server)
        body = model.describe()
        headers = {k.lower(): v for k, v in request.headers.items()}
        if not (server.keys.required and server.keys.check(presented_key(headers)) is not None):
            if not str(body.get("source", "")).startswith(("models:/", "runs:/")):
                body.pop("source", None)  # a local path says where the model (and maybe more) lives
            body["input_example"] = _schema_example(model.schema)
        return Response(json.dumps(body, default=str), media_type=JSON)

    # The front door (serve.front) answers these two before FastAPI sees them; they are
    # registered for the OpenAPI docs and for callers of the bare FastAPI app (``.app``).
    @app.post("/predict", tags=["predict"], openapi_extra=_PREDICT_DOC)
    async def predict(request: Request) -> Response:
        """Predict one row or a batch; needs an API key when keys are configured."""
        return await _answer(server, request, "predict")

    @app.post("/invocations", tags=["mlflow"], openapi_extra=_INVOCATIONS_DOC)
    async def invocations(request: Request) -> Response:
        """MLflow's scoring protocol: answers {"predictions": [...]} as `mlflow models serve` does."""
        return await _answer(server, request, "invocations")

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
    return front_door(app, server)


_PLACEHOLDERS: dict[str, Any] = {"number": 0.0, "integer": 0, "boolean": False, "string": ""}


def _schema_example(schema: Any) -> dict[str, Any]:
    """An input row made from the schema's kinds only (no training data in it)."""
    return {f.name: _PLACEHOLDERS.get(f.kind) for f in schema.features}


async def _answer(server: Server, request: Request, endpoint: str) -> Response:
    client = request.client.host if request.client else "?"
    try:
        reply = await server.handle(dict(request.headers), client, request.receive, endpoint,
                                    request.scope.get("mlgate.lane"))
    except Disconnected:
        return Response(status_code=499)
    server.finish(reply)  # this path is not the hot one: before the answer is fine
    return Response(reply.body, status_code=reply.status, media_type=JSON,
                    headers={k.decode(): v.decode("latin-1") for k, v in reply.headers})


def _slot_model(request: Request, server: Server) -> ServedModel:
    """The model of the slot a ``/_slot/<role>/...`` request names, else the stable one."""
    lane = request.scope.get("mlgate.lane")
    if lane is not None:
        return lane.model
    if server.model is None:
        from fastapi import HTTPException

        raise HTTPException(503, NO_VERSION.format(env=server.settings.env))
    return server.model


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
    settings = ServeSettings.from_env()
    die_with_parent(settings.parent_pid)
    app = create_app(settings)
    freeze_start_up_heap()
    return app


def freeze_start_up_heap() -> None:
    """Move every object alive after start-up out of the garbage collector's sight.

    A worker holds about 200,000 tracked objects once FastAPI, pydantic, numpy, scikit-learn
    and the model are loaded, and a full collection walks them all: 110-120 ms of CPU with
    the event loop stopped, so every request in flight at the time waited that long. Under
    load full collections come every few seconds (log records and in-flight requests live
    long enough to be promoted), which made the p99 at concurrency 32 (BENCHMARKS.md, issue
    25). Collected once, then frozen, those objects stay alive (they would anyway: modules,
    the model) and a full collection walks only what was allocated since.
    """
    gc.collect()
    gc.freeze()
