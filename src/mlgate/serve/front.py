"""The front door of a worker: one plain ASGI callable in front of the FastAPI app.

Every HTTP request passes here once. ``/_slot/<role>/<path>`` (admin key required) picks
a slot; ``POST /predict`` and ``POST /invocations`` are answered right here from the raw
ASGI messages, with no Starlette Request or Response objects (those, FastAPI's routing
and two more ASGI layers cost about as much as a logistic regression's prediction);
everything else goes to the FastAPI app, which keeps the prediction routes registered
for the OpenAPI docs. The access log is written here too: one tuple per request, turned
into a JSON line by the writer thread.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from mlgate.serve.admin import SLOT_PREFIX, admin_denied
from mlgate.serve.plan import ROLES
from mlgate.serve.schema import InputError

if TYPE_CHECKING:
    from mlgate.serve.app import Server
    from mlgate.serve.lanes import Lane

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
RawHeaders = list[tuple[bytes, bytes]]
JSON = b"application/json"
_HOT = {"/predict": "predict", "/invocations": "invocations"}


class Disconnected(Exception):
    """The client left before its body was read: there is nobody to answer."""


def headers_of(scope: Scope) -> dict[str, str]:
    """The request headers as ``{lower-case name: value}``; the first of repeated names wins,
    as Starlette's ``Headers.get`` answers."""
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in reversed(scope["headers"])}


async def read_body(receive: Receive, headers: dict[str, str], limit: int) -> bytes:
    """The whole body; InputError 413 as soon as it is over ``limit`` bytes (declared or streamed)."""
    declared = headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise InputError(413, f"body of {int(declared)} bytes is over the limit of {limit} bytes",
                         reason="body_too_large")
    chunks = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise Disconnected
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise InputError(413, f"body is over the limit of {limit} bytes", reason="body_too_large")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def send_reply(send: Send, status: int, headers: RawHeaders, body: bytes) -> None:
    """Answer with a JSON body (the headers as Starlette's Response would send them)."""
    await send({"type": "http.response.start", "status": status,
                "headers": [*headers, (b"content-length", str(len(body)).encode()), (b"content-type", JSON)]})
    await send({"type": "http.response.body", "body": body})


def front_door(app: Any, server: Server) -> Any:
    """The worker's ASGI application: slots, the prediction hot path, the access log, then ``app``."""

    async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan: FastAPI's start-up and shut-down
            await app(scope, receive, send)
            return
        started = time.perf_counter()
        # status, request id, model version
        outcome = [500, "", server.model.version if server.model is not None else ""]
        try:
            await _dispatch(app, server, scope, receive, send, outcome)
        finally:
            writer = server.access_log
            if writer is not None:  # a tuple; the writer thread builds the line (_access_record)
                writer.put((time.time(), scope["method"], scope["path"], outcome[0],
                            time.perf_counter() - started, scope.get("client"), outcome[1], outcome[2]))

    asgi.state = app.state  # type: ignore[attr-defined]
    asgi.app = app  # type: ignore[attr-defined]
    return asgi


async def _dispatch(app: Any, server: Server, scope: Scope, receive: Receive, send: Send,
                    outcome: list[Any]) -> None:
    lane = None
    if scope["path"].startswith(SLOT_PREFIX):
        lane, scope = await _slot(server, scope, send, outcome)
        if lane is None:
            return
        outcome[2] = lane.model.version
    endpoint = _HOT.get(scope["path"])
    if endpoint is not None and scope["method"] == "POST":
        headers = headers_of(scope)
        client = scope.get("client")
        try:
            reply = await server.handle(headers, client[0] if client else "?", receive, endpoint, lane)
        except Disconnected:
            return
        outcome[0], outcome[1], outcome[2] = reply.status, reply.request_id, reply.version
        try:
            await send_reply(send, reply.status, reply.headers, reply.body)
        finally:  # counted and logged even when the client left before the answer was sent
            server.finish(reply)
        return

    async def capture(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            outcome[0] = message["status"]
            for k, v in message.get("headers", ()):
                if k == b"x-request-id":
                    outcome[1] = v.decode()
        await send(message)

    await app(scope, receive, capture)


async def _slot(server: Server, scope: Scope, send: Send, outcome: list[Any]) -> tuple[Lane | None, Scope]:
    """The lane a ``/_slot/<role>/...`` request names and the scope of the inner path, or
    (None, scope) after answering 401/403/404."""
    role, _, rest = scope["path"][len(SLOT_PREFIX):].partition("/")
    denied = admin_denied(headers_of(scope), server.settings.admin_key_hash)
    lane = server.routing.lane(role) if role in ROLES else None
    if denied or lane is None:
        status, message = denied or (404, f"no {role!r} slot on this server (slots: "
                                     f"{', '.join(server.deployment.state.current().versions())})")
        outcome[0] = status
        await send_reply(send, status, [], json.dumps({"error": "slot", "message": message}).encode())
        return None, scope
    inner = dict(scope, path="/" + rest, raw_path=("/" + rest).encode())
    inner["mlgate.lane"] = lane
    return lane, inner
