"""A worker's deployment state: the loaded models, its routing, its watcher and observations.

``Deployment`` turns a plan into lanes (loading, warming up and self-testing models it has
not loaded yet), swaps them into the server in one assignment, and after each answered
request records the observation canary analysis needs and sends the shadow its copy.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgate.errors import ModelLoadError
from mlgate.roles import BASELINE, PREVIOUS, ROLES, SIDE_ROLES, STABLE
from mlgate.serve.batcher import MicroBatcher
from mlgate.serve.converge import LIST_ORDER, StateDir, Watcher
from mlgate.serve.lanes import Lane, Recorder, Routing
from mlgate.serve.model import ServedModel
from mlgate.serve.plan import ModelRef, Plan, initial_plan

if TYPE_CHECKING:
    import numpy as np

    from mlgate.serve.app import Server
    from mlgate.serve.model import Predictions
    from mlgate.serve.settings import ServeSettings

WARM_UP_CALLS = 20


def self_test(model: ServedModel, stable: ServedModel | None) -> None:
    """Raise ModelLoadError unless ``model`` predicts its own input example and takes stable's features.

    A version that fails here is never given traffic. The example calls also warm it up
    (first calls pay for lazy imports and caches).
    """
    if not model.example:
        raise ModelLoadError(f"version {model.version} failed its self-test: it cannot predict any row of "
                             f"its own input example ({_example_origin(model)})")
    if stable is not None and model.schema.list_names != stable.schema.list_names:
        if set(model.schema.names) != set(stable.schema.list_names):
            raise ModelLoadError(f"version {model.version} failed its self-test: "
                                 f"{_feature_difference(model, stable)}")
        # the same features in another order: list-form requests keep the served order, and the
        # schema reorders them by name for this model, as it does object-form requests
        model.schema = model.schema.with_list_order(stable.schema.list_names)
    columns = model.schema.columns([model.example], "self-test", False, 1)
    for _ in range(WARM_UP_CALLS):
        out = model.predict(columns)
    if not out.labels:
        raise ModelLoadError(f"version {model.version} failed its self-test: no prediction for its example")


def _example_origin(model: ServedModel) -> str:
    """Where the example the self-test predicts came from, and what to do when there was none."""
    source = model.info.get("input_example_source")
    if source and source != "none given" and (Path(model.path) / "input_example.json").exists():
        return f"rows taken from {source} at registration"
    if (Path(model.path) / "input_example.json").exists():
        return "the input_example.json saved with the model"
    why = f" ({source})" if source and source != "none given" else ""
    return (f"the model has no input example{why}, so a row of zeros and empty strings was tried; "
            "register it with --data TRAIN.csv, or from a project whose data.train has its features")


def _feature_difference(model: ServedModel, stable: ServedModel) -> str:
    """Which features are missing or extra (the same features in another order are taken: the
    schema reorders list-form requests)."""
    new, old = model.schema.names, stable.schema.list_names
    missing, extra = sorted(set(old) - set(new)), sorted(set(new) - set(old))
    return (f"its features differ from version {stable.version}'s (missing {missing}, extra {extra}), "
            "so clients' requests would be refused; register a model fitted on version "
            f"{stable.version}'s features ({', '.join(old)})")


class Deployment:
    """The slots of one worker and the machinery that keeps them equal to the plan."""

    def __init__(self, server: Server, settings: ServeSettings) -> None:
        self.server = server
        self.settings = settings
        # an app built in-process without a runner (tests, embedding) gets a folder of its own
        self._own_folder = not settings.state_dir
        folder = settings.state_dir or tempfile.mkdtemp(prefix="mlgate-state-")
        self.state = StateDir(folder)
        self.workers = settings.workers
        self.cache: dict[tuple[str, str], ServedModel] = {}
        self.recorder = Recorder(Path(folder))
        self.watcher = Watcher(self.state, self._load, self._swap, self.recorder.flush)
        self.plan: Plan | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    def start(self, model: ServedModel | None) -> None:
        """Serve the committed plan (writing a first plan of ``model`` when there is none)."""
        if model is None:  # an environment with no version yet: the plan is empty
            self.watcher.start_sync()
            return
        self.cache[(model.path, model.version)] = model
        if self.state.committed() == 0:
            self.state.start(initial_plan(ModelRef(model.version, model.path, model.source,
                                                   self.settings.model_sha256)))
        self.watcher.start_sync()

    # -- plan -> lanes ----------------------------------------------------------------

    def _get(self, ref: ModelRef) -> tuple[ServedModel, bool]:
        key = (ref.path, ref.version)
        if key in self.cache:
            return self.cache[key], False
        model = ServedModel.load(ref.path, version=ref.version, source=ref.source or ref.path,
                                 expected_sha256=ref.sha256)
        self.cache[key] = model
        return model, True

    def _load(self, plan: Plan) -> dict[str, ServedModel]:
        stable = None if plan.empty else self._get(plan.stable)[0]
        if stable is not None:
            self._keep_list_order(stable)
        models = {STABLE.name: stable} if stable is not None else {}
        kept = {(r.path, r.version) for r in plan.refs()}
        for role in (r for r in ROLES.values() if r is not STABLE):
            ref = plan.slot(role.name)
            if ref is None or (ref.path, ref.version) not in kept:
                continue
            model, new = self._get(ref)
            if new and role is not PREVIOUS:  # the previous model passed its self-test when it went live
                try:
                    self_test(model, stable)
                except ModelLoadError:
                    self.cache.pop((ref.path, ref.version), None)
                    raise
            models[role.name] = model
        return models

    def _keep_list_order(self, stable: ServedModel) -> None:
        """List-form rows keep the order clients were given, across versions and restarts.

        A version fitted on the stable version's features in another order takes the stable
        order for list rows (``self_test``); once it is stable itself, a restarted server would
        otherwise take its own order, and clients' lists would reach the wrong columns. The order
        is kept in the state folder for the same features; other features start a new order.
        """
        file = self.state.folder / LIST_ORDER
        try:
            saved = json.loads(file.read_text(encoding="utf-8"))["features"]
        except (OSError, ValueError, KeyError, TypeError):
            saved = None
        schema = stable.schema
        if isinstance(saved, list) and saved != schema.list_names and sorted(map(str, saved)) == sorted(schema.names):
            stable.schema = schema.with_list_order([str(n) for n in saved])
        if saved != stable.schema.list_names:
            tmp = file.with_name(f".{LIST_ORDER}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps({"features": stable.schema.list_names}), encoding="utf-8")
            os.replace(tmp, file)  # workers write the same order; readers see a whole file

    def _swap(self, plan: Plan, models: dict[str, ServedModel]) -> None:
        base = self.server.metrics
        lanes = {}
        for role, model in models.items():
            metrics = base.bound(model.version, role)
            lanes[role] = Lane(role, model, MicroBatcher(model, metrics), metrics)
        sides = plan.sides()
        observe = any(ROLES[name].logged for name in sides)
        weighted = next((r.name for r in SIDE_ROLES if r.routing == "weight" and r.name in sides), None)
        copied = next((r.name for r in SIDE_ROLES if r.routing == "copy" and r.name in sides), None)
        baseline = None
        if weighted is not None and STABLE.name in models:  # the stable model in a lane of the weighted one's size
            stable = models[STABLE.name]
            metrics = base.bound(stable.version, BASELINE)
            baseline = Lane(BASELINE, stable, MicroBatcher(stable, metrics), metrics)
        routing = Routing(plan.generation, lanes.get(STABLE.name),
                          lanes.get(weighted) if weighted else None, plan.share(weighted) if weighted else 0.0,
                          baseline, lanes.get(copied) if copied else None, plan.share(copied) if copied else 0.0,
                          {r.name: lanes[r.name] for r in ROLES.values() if r.routing == "admin" and r.name in lanes},
                          self.recorder if observe else None)
        server = self.server
        # one assignment each; the event loop runs no request between them
        server.routing = routing
        if routing.stable is not None:
            server.model = routing.stable.model
            server.batcher = routing.stable.batcher
            server.metrics = routing.stable.metrics
        self.plan = plan
        keep = {(m.path, m.version) for m in models.values()}
        for key in [k for k in self.cache if k not in keep]:
            del self.cache[key]

    # -- per request ------------------------------------------------------------------

    def observe(self, routing: Routing, lane: Lane, elapsed: float, out: Predictions | None,
                columns: dict[str, np.ndarray] | None, n: int) -> None:
        """Record one request of ``lane`` and send the shadow its copy (never affects the answer)."""
        recorder = routing.recorder
        if recorder is None:
            return
        recorder.record(lane.role, lane.model.version, elapsed, out is not None,
                        out.labels if out is not None else [])
        if out is None or columns is None or lane is not routing.stable:
            return
        shadow = routing.shadow_lane()
        if shadow is not None:
            task = asyncio.ensure_future(self._shadow(recorder, shadow, columns, n, out.labels))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _shadow(self, recorder: Recorder, lane: Lane, columns: dict[str, np.ndarray], n: int,
                      stable_labels: list[Any]) -> None:
        started = time.perf_counter()
        try:
            out = await lane.batcher.submit(columns, n)
        except Exception:  # a shadow failure is recorded, never seen by a client
            recorder.record(lane.role, lane.model.version, time.perf_counter() - started, False, [])
            return
        agree = sum(a == b for a, b in zip(out.labels, stable_labels, strict=False))
        lane.metrics.answered("predict", n, time.perf_counter() - started)
        recorder.record(lane.role, lane.model.version, time.perf_counter() - started, True, out.labels, agree)

    def close(self) -> None:
        self.recorder.close()
        if self._own_folder:
            self.state.close(remove=True)
