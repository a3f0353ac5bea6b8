"""The admin endpoints ``mlgate deploy``, ``rollback`` and ``canary`` call, and per-slot access.

Every admin call needs the key in ``MLGATE_ADMIN_KEY`` (header ``X-Admin-Key``), checked
against its SHA-256 in constant time; the key is never logged (the access log records
method, path and status only). Without a configured key the admin endpoints answer 403.

    GET  /admin/state                     the plan: version per slot, weights, generation
    GET  /admin/observations?since=T      per-request observations for canary analysis
    POST /admin/stage    {version, role}  load a version as candidate, canary or shadow (0% traffic)
    POST /admin/route    {canary, shadow} set the canary weight and the shadow share, percent
    POST /admin/switch                    the candidate becomes live (blue-green switch)
    POST /admin/promote                   the canary (or shadow) becomes live
    POST /admin/discard  {role}           drop the candidate, canary or shadow
    POST /admin/rollback                  drop canary/shadow, else the previous version goes live
    POST /admin/reload                    converge to the environment's registry aliases

``/_slot/<role>/<path>`` (admin key required) sends a request to one slot, so the smoke
suite can test a staged candidate before it takes traffic.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import Response

from mlgate.deploy.rollback import start_rollback
from mlgate.errors import MlgateError, ModelLoadError, RegistryError, UsageError
from mlgate.roles import CANDIDATE, ROLES, SIDE_ROLES, STAGEABLE
from mlgate.serve.converge import commit_plan
from mlgate.serve.desired import resolve_for_server, server_config
from mlgate.serve.follow import converge
from mlgate.serve.lanes import clear_observations, read_observations
from mlgate.serve.plan import Plan

if TYPE_CHECKING:
    from mlgate.serve.app import Server
    from mlgate.serve.deployment import Deployment

ADMIN_HEADER = "x-admin-key"
SLOT_PREFIX = "/_slot/"
JSON = "application/json"
_STATUS = ((UsageError, 409), (ModelLoadError, 422), (RegistryError, 404))


def admin_denied(headers: Mapping[str, str], key_hash: str | None) -> tuple[int, str] | None:
    """None when the admin key is right, else (status, message); constant time in the key."""
    if not key_hash:
        return 403, "admin endpoints are disabled: start the server with MLGATE_ADMIN_KEY set"
    presented = headers.get(ADMIN_HEADER) or ""
    digest = hashlib.sha256(presented.encode("utf-8", "replace")).digest()
    if not presented or not hmac.compare_digest(digest, bytes.fromhex(key_hash)):
        return 401, f"{'a wrong' if presented else 'no'} admin key: send the key of MLGATE_ADMIN_KEY as X-Admin-Key"
    return None


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body, default=str), status_code=status, media_type=JSON)


def _error(exc: MlgateError) -> Response:
    status = next((code for cls, code in _STATUS if isinstance(exc, cls)), 503)
    return _json({"error": type(exc).__name__, "message": str(exc)}, status)


def describe(plan: Plan) -> dict[str, Any]:
    """The body of /admin/state."""
    return {"generation": plan.generation, "slots": plan.versions(), "live_colour": plan.live,
            **{str(r.share_field): plan.share(r.name) for r in SIDE_ROLES},
            "observe_since": plan.observe_since, "keep_previous_until": plan.keep_until}


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise UsageError(f"admin request body is not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise UsageError("admin request body must be a JSON object")
    return body


def install_admin(app: FastAPI, server: Server) -> None:
    """Register the /admin routes on the FastAPI app."""
    dep: Deployment = server.deployment
    key_hash = server.settings.admin_key_hash
    keep = server.settings.keep_previous_s

    async def apply(request: Request, change: Callable[[Plan, dict[str, Any]], Awaitable[Plan]]) -> Response:
        denied = admin_denied(request.headers, key_hash)
        if denied:
            return _json({"error": "unauthorized", "message": denied[1]}, denied[0])
        try:
            body = await _body(request)
            async with dep.state.locked():
                before = dep.state.current()
                # pinned: every worker loads a registered version checking the pin this one checked
                plan = await commit_plan(dep.state, (await change(before, body)).pinned(), dep.workers)
        except MlgateError as exc:
            return _error(exc)
        return _json({"before": before.versions(), **describe(plan)})

    async def resolve(version: Any) -> Any:
        if not isinstance(version, str | int) or not str(version):
            raise UsageError("give 'version': the registry version to load")
        return await asyncio.to_thread(resolve_for_server, server.settings, str(version), dep.plan)

    @app.get("/admin/state", tags=["admin"])
    async def state(request: Request) -> Response:
        """The slots this server serves (admin key required)."""
        denied = admin_denied(request.headers, key_hash)
        if denied:
            return _json({"error": "unauthorized", "message": denied[1]}, denied[0])
        return _json({**describe(dep.state.current()), "workers": dep.workers, "env": server.settings.env})

    @app.get("/admin/observations", tags=["admin"])
    async def observations(request: Request) -> Response:
        """Per-request observations since ``since`` (UNIX time; default: the plan's)."""
        denied = admin_denied(request.headers, key_hash)
        if denied:
            return _json({"error": "unauthorized", "message": denied[1]}, denied[0])
        plan = dep.state.current()
        try:
            since = float(request.query_params.get("since", plan.observe_since))
        except ValueError:
            return _json({"error": "bad_request", "message": "since must be a UNIX time"}, 400)
        await asyncio.sleep(0.3)  # every worker's watcher flushes its file within this time
        rows = await asyncio.to_thread(read_observations, dep.state.folder, since)
        return _json({**describe(plan), "since": since, "columns": ["time", "role", "version", "latency_ms",
                                                                    "ok", "labels", "agree"], "rows": rows})

    async def stage(plan: Plan, body: dict[str, Any]) -> Plan:
        role = str(body.get("role", CANDIDATE.name))
        ref = await resolve(body.get("version"))
        if role in ROLES and ROLES[role].logged:
            clear_observations(dep.state.folder)
        return plan.stage(ref, role)

    async def route(plan: Plan, body: dict[str, Any]) -> Plan:
        def percent(name: str) -> float | None:
            value = body.get(name)
            if value is not None and (not isinstance(value, int | float) or isinstance(value, bool)):
                raise UsageError(f"{name} must be a number of percent")
            return None if value is None else float(value)

        return plan.route(**{r.name: percent(r.name) for r in SIDE_ROLES})

    async def switch(plan: Plan, body: dict[str, Any]) -> Plan:
        keep_s = body.get("keep_s", keep)
        if not isinstance(keep_s, int | float) or isinstance(keep_s, bool) or keep_s < 0:
            raise UsageError(f"keep_s must be a number of seconds >= 0 (got {keep_s!r})")
        return plan.switch(float(keep_s))

    async def promote(plan: Plan, body: dict[str, Any]) -> Plan:
        return plan.promote(keep)

    async def discard(plan: Plan, body: dict[str, Any]) -> Plan:
        role = str(body.get("role", ""))
        if role not in STAGEABLE:
            raise UsageError(f"role must be one of {', '.join(STAGEABLE)} (got {role!r})")
        return plan.discard(role)

    async def rollback(plan: Plan, body: dict[str, Any]) -> Plan:
        return plan.rollback()

    @app.post("/admin/reload", tags=["admin"], summary="admin: reload (admin key required)")
    async def reload(request: Request) -> Response:
        """Converge to the environment's registry aliases now (``keep_s``: how long the old stable
        version stays loaded; ``tidy``: also drop canary and shadow slots the registry does not name)."""
        denied = admin_denied(request.headers, key_hash)
        if denied:
            return _json({"error": "unauthorized", "message": denied[1]}, denied[0])
        try:
            body = await _body(request)
            keep_s = body.get("keep_s")
            if keep_s is not None and (not isinstance(keep_s, int | float) or isinstance(keep_s, bool) or keep_s < 0):
                raise UsageError(f"keep_s must be a number of seconds >= 0 (got {keep_s!r})")
            before, plan = await converge(server, tidy=bool(body.get("tidy", True)), keep_s=keep_s)
        except MlgateError as exc:
            return _error(exc)
        return _json({"before": before.versions(), **describe(plan)})

    @app.post("/admin/env-rollback", tags=["admin"], summary="admin: env-rollback (admin key required)")
    async def env_rollback(request: Request) -> Response:
        """`mlgate rollback`'s registry part done here, where MLflow is loaded: the environment's lock
        for the command's process (``who``, ``host``, ``pid``), the record, the aliases; then converge."""
        denied = admin_denied(request.headers, key_hash)
        if denied:
            return _json({"error": "unauthorized", "message": denied[1]}, denied[0])
        try:
            body = await _body(request)
            if not server.settings.env:
                raise UsageError("only an `mlgate serve --env E` server rolls back through its registry")
            config = await asyncio.to_thread(server_config, server.settings)
            slots = dep.state.current().versions()
            started = await asyncio.to_thread(start_rollback, config, server.settings.env, slots,
                                              str(body.get("who", "")), str(body.get("host", "")),
                                              int(body.get("pid", 0) or 0))
            before, plan = await converge(server)
        except MlgateError as exc:
            return _error(exc)
        except (TypeError, ValueError) as exc:
            return _json({"error": "bad_request", "message": f"who, host and pid: {exc}"}, 400)
        return _json({"started": asdict(started), "before": before.versions(), **describe(plan)})

    for name, change in (("stage", stage), ("route", route), ("switch", switch), ("promote", promote),
                         ("discard", discard), ("rollback", rollback)):
        app.add_api_route(f"/admin/{name}", _endpoint(apply, change), methods=["POST"], tags=["admin"],
                          summary=f"admin: {name} (admin key required)")


def _endpoint(apply: Callable[..., Awaitable[Response]],
              change: Callable[[Plan, dict[str, Any]], Awaitable[Plan]]) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        return await apply(request, change)

    return endpoint
