"""The server follows the registry: it converges to its environment's aliases on reload and on its own.

Every ``serve.converge_interval_s`` each worker reads what the registry says the environment
should serve (stable, canary and weight, shadow and share: one SQL query on a SQLite store)
and compares it with what the committed plan gives clients. When they differ, it converges
under the state folder's lock, through the same two-phase commit as every admin change;
the other workers then find nothing left to do. So a deploy that wrote the registry and was
killed before it told the server, or a server that was down while the aliases moved, agrees
with the registry again within one interval plus the time to load the version.
"""

from __future__ import annotations

import asyncio
import gc
import sys
from typing import TYPE_CHECKING

from mlgate.errors import MlgateError
from mlgate.serve.converge import commit_plan
from mlgate.serve.desired import converge_plan, served_traffic, server_watch
from mlgate.tracking import import_mlflow

if TYPE_CHECKING:
    from mlgate.serve.app import Server
    from mlgate.serve.plan import Plan


async def converge(server: Server, *, tidy: bool = False, keep_s: float | None = None) -> tuple[Plan, Plan]:
    """Converge to the registry now; return the plans before and after (the same when nothing changed)."""
    dep = server.deployment
    async with dep.state.locked():
        before = dep.state.current()
        target = await asyncio.to_thread(converge_plan, server.settings, before, dep.plan, tidy=tidy,
                                         keep_s=keep_s)
        if target is before:
            return before, before
        # pinned: every worker loads a registered version checking the pin this one checked
        plan = await commit_plan(dep.state, target.pinned(), dep.workers)
    return before, plan


async def follow(server: Server, interval: float) -> None:
    """Converge whenever the registry's traffic differs from the committed plan's (never raises)."""
    watch = None
    said = ""
    while True:
        await asyncio.sleep(interval)
        try:
            if "mlflow.tracking" not in sys.modules:  # a worker process: `mlgate rollback` needs it fast
                await asyncio.to_thread(import_mlflow)
                gc.freeze()  # MLflow's objects, like the start-up heap's, stay out of full collections
            if watch is None:
                watch = await asyncio.to_thread(server_watch, server.settings)
                if watch is None:
                    return  # a --model server has no registry to follow
            wanted = await asyncio.to_thread(watch.traffic)
            if wanted is None or wanted == served_traffic(server.deployment.state.current()):
                continue
            before, after = await converge(server)
            if after is not before:
                print(f"mlgate serve: converged to the registry: {before.versions()} -> {after.versions()}",
                      file=sys.stderr, flush=True)
            said = ""
        except MlgateError as exc:
            if str(exc) != said:  # once per distinct problem, not every interval
                said = str(exc)
                print(f"mlgate serve: cannot converge to the registry: {exc}", file=sys.stderr, flush=True)
        except Exception as exc:  # the follower must never die: it is what heals a killed deploy
            print(f"mlgate serve: registry follower error: {type(exc).__name__}: {exc}", file=sys.stderr,
                  flush=True)
