"""Every worker of a server serves the same plan: a two-phase switch through a state folder.

uvicorn's workers are separate processes and an admin request reaches only one of them, so
that worker coordinates through files in the server's state folder:

1. it writes ``gen-<g>.json`` (the new plan) and ``prepare`` (= g); each worker's watcher,
   polling every 20 ms, loads the plan's models in a thread (requests keep being answered
   from the current slots), warms them up, self-tests them and writes ``ready-<pid>``;
2. once every worker is ready it writes ``commit`` (= g); each watcher swaps its routing
   in one assignment and writes ``live-<pid>``; the admin request returns only when every
   worker is live on g. So once a switch has returned, no worker answers from the old slots.

A worker that fails to load aborts the switch before anything is committed. A worker that
starts later (uvicorn restarts a dead one) loads the committed plan at start.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import shutil
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from mlgate.errors import MlgateError, ModelLoadError, ServeError
from mlgate.serve.plan import Plan

POLL_S = 0.02
SETTLED_NS = 1_000_000_000  # a state folder unchanged this long is skipped by the watchers' polls
LAST_PLAN = "last-plan.json"
OBS_PREFIX = "obs-"  # as mlgate.serve.lanes names the observation files
# the order clients send list-form rows in (mlgate.serve.deployment): kept when a server restarts
LIST_ORDER = "list-order.json"


class StateDir:
    """The files of one server's plan and its workers' acknowledgements."""

    def __init__(self, folder: Path | str) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    def _write(self, name: str, text: str) -> None:
        tmp = self.folder / f".{name}.{os.getpid()}.tmp"
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, self.folder / name)  # readers see the old file or the new one

    def stamp(self) -> int:
        """The folder's modification time in ns. Every plan, prepare, commit and ack file is
        written by a rename into the folder, which changes it: a watcher whose stamp has not
        moved has nothing to read (one ``stat`` instead of opening two files every poll)."""
        try:
            return os.stat(self.folder).st_mtime_ns
        except OSError:
            return 0

    def _read_int(self, name: str) -> int:
        try:
            return int((self.folder / name).read_text(encoding="utf-8").split()[0])
        except (OSError, ValueError, IndexError):
            return 0

    def write_plan(self, plan: Plan) -> None:
        self._write(f"gen-{plan.generation}.json", json.dumps(plan.to_dict()))

    def read_plan(self, generation: int) -> Plan:
        raw = json.loads((self.folder / f"gen-{generation}.json").read_text(encoding="utf-8"))
        return Plan.from_dict(raw)

    def prepared(self) -> int:
        return self._read_int("prepare")

    def committed(self) -> int:
        return self._read_int("commit")

    def set_prepare(self, generation: int) -> None:
        self._write("prepare", str(generation))

    def set_commit(self, generation: int) -> None:
        self._write("commit", str(generation))

    def current(self) -> Plan:
        return self.read_plan(self.committed())

    def ack(self, kind: str, generation: int, status: str = "ok") -> None:
        self._write(f"{kind}-{os.getpid()}", f"{generation} {status}")

    def acks(self, kind: str, generation: int) -> list[str]:
        """Statuses of the workers that acknowledged ``generation`` in phase ``kind``."""
        out = []
        for file in self.folder.glob(f"{kind}-*"):
            try:
                gen, _, status = file.read_text(encoding="utf-8").partition(" ")
            except OSError:
                continue
            if gen.strip() == str(generation):
                out.append(status)
        return out

    def start(self, plan: Plan) -> None:
        """Write the first plan, prepared and committed, before any worker starts."""
        self.write_plan(plan)
        self.set_prepare(plan.generation)
        self.set_commit(plan.generation)

    def last_plan(self) -> Plan | None:
        """The plan a previous server on this folder served last (read before :meth:`reset`)."""
        try:
            return Plan.from_dict(json.loads((self.folder / LAST_PLAN).read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError):
            try:
                return self.current()
            except (OSError, ValueError, KeyError, TypeError):
                return None

    def reset(self, keep_observations: bool) -> None:
        """Remove what a previous server left (plans, acknowledgements, metrics); its canary
        observations stay when ``keep_observations`` (the same canary at the same weight)."""
        for path in self.folder.iterdir():
            if (path.name.startswith(OBS_PREFIX) and keep_observations) or path.name in ("server.lock", LIST_ORDER):
                continue
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)

    def close(self, remove: bool) -> None:
        """At the server's exit: remove the folder (``remove``), else keep only the canary
        observations and the last committed plan, so a restarted server picks up the analysis."""
        if remove:
            shutil.rmtree(self.folder, ignore_errors=True)
            return
        try:
            last = self.current()
        except (OSError, ValueError, KeyError, TypeError):
            last = None
        self.reset(keep_observations=last is not None and (last.canary is not None or last.shadow is not None))
        if last is not None:
            self._write(LAST_PLAN, json.dumps(last.to_dict()))

    @contextlib.asynccontextmanager
    async def locked(self, timeout: float = 120.0) -> AsyncIterator[None]:
        """One admin operation at a time across all workers (an advisory file lock)."""
        with (self.folder / "lock").open("a") as fh:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise ServeError("another deploy action holds this server's lock") from None
                    await asyncio.sleep(POLL_S)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)


class Watcher:
    """A worker's side: load prepared plans, swap to committed ones, acknowledge both."""

    def __init__(self, state: StateDir, load: Callable[[Plan], Any], swap: Callable[[Plan, Any], None],
                 tick: Callable[[], None] = lambda: None) -> None:
        self.state = state
        self.load = load    # Plan -> loaded lanes (runs in a thread)
        self.swap = swap    # (Plan, loaded) -> None (runs on the event loop)
        self.tick = tick
        self.live = 0
        self._prepared: tuple[int, Any] | None = None

    def start_sync(self) -> None:
        """Load and go live on the committed plan (at worker start)."""
        generation = self.state.committed()
        plan = self.state.read_plan(generation)
        self.swap(plan, self.load(plan))
        self.live = generation
        self.state.ack("ready", generation)
        self.state.ack("live", generation)

    async def run(self) -> None:
        seen = None
        while True:
            await asyncio.sleep(POLL_S)
            stamp = self.state.stamp()
            # The stamp ticks with the kernel's coarse clock, so two writes a few ms apart can
            # share one: a folder changed in the last second is read in full on every poll.
            if stamp != seen or time.time_ns() - stamp < SETTLED_NS:
                seen = stamp
                try:
                    await self.step()
                except Exception as exc:  # a watcher must never die: it is the only way to switch
                    seen = None
                    print(f"mlgate serve: watcher error: {type(exc).__name__}: {exc}", flush=True)
            self.tick()

    async def step(self) -> None:
        prepare = self.state.prepared()
        if prepare > self.live and (self._prepared is None or self._prepared[0] != prepare):
            plan = self.state.read_plan(prepare)
            try:
                loaded = await asyncio.to_thread(self.load, plan)
            except MlgateError as exc:
                self._prepared = (prepare, None)
                self.state.ack("ready", prepare, f"error {exc}")
            else:
                self._prepared = (prepare, loaded)
                self.state.ack("ready", prepare)
        commit = self.state.committed()
        if commit > self.live:
            if self._prepared is not None and self._prepared[0] == commit and self._prepared[1] is not None:
                loaded = self._prepared[1]
            else:  # committed before this worker saw the prepare (it just started)
                loaded = await asyncio.to_thread(self.load, self.state.read_plan(commit))
            self.swap(self.state.read_plan(commit), loaded)
            self.live = commit
            self._prepared = None
            self.state.ack("live", commit)


async def commit_plan(state: StateDir, plan: Plan, workers: int, timeout: float = 120.0) -> Plan:
    """Prepare ``plan`` on every worker, then commit it; return when all serve it.

    Call it inside ``state.locked()``. A load or self-test failure on any worker raises
    ModelLoadError and leaves the committed plan as it was.
    """
    generation = max(state.prepared(), state.committed()) + 1
    plan = replace(plan, generation=generation)
    state.write_plan(plan)
    state.set_prepare(generation)
    deadline = time.monotonic() + timeout
    while True:
        statuses = state.acks("ready", generation)
        errors = [s.removeprefix("error ").strip() for s in statuses if s.startswith("error")]
        if errors:
            raise ModelLoadError(f"not switched: {errors[0]}")
        if len(statuses) >= workers:
            break
        if time.monotonic() > deadline:
            raise ServeError(f"not switched: {len(statuses)} of {workers} workers loaded the new "
                             f"slots within {timeout:.0f} s")
        await asyncio.sleep(POLL_S)
    state.set_commit(generation)
    while len(state.acks("live", generation)) < workers:
        if time.monotonic() > deadline:
            raise ServeError(f"switch committed but only {len(state.acks('live', generation))} of "
                             f"{workers} workers confirmed it within {timeout:.0f} s")
        await asyncio.sleep(POLL_S)
    return plan
