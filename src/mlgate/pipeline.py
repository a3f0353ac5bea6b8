"""The stage graph and the content-hash cache of ``mlgate run``.

A stage's cache key is a SHA-256 over exactly its inputs: the mlgate version, the config
sections it reads, the bytes of the data files it reads (by role: tune and train read the
train table, evaluate and compare the test table, test and validate both) and the keys of the
upstream stages whose outputs it reads. Changing only the test file re-runs validate, test,
evaluate, compare and register, never tune or train; a change to ``gates.evaluate`` re-runs
evaluate and what reads its output. With ``data.path`` and a split, both tables come from
the one file, so it is an input of every data stage. File hashes are
remembered by (size, mtime) as DVC does, so a no-op run reads no data; DVC-tracked data is
keyed by DVC's recorded MD5 (no download while it is absent) and objects in a bucket by their
ETag (a HEAD request), see ``mlgate.locations.refs``. A stage that runs pulls its absent DVC-tracked
inputs first. Run records and the state on disk are in ``mlgate.runs``.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgate import __version__
from mlgate.context import StageContext
from mlgate.errors import DataError, MlgateError, UsageError
from mlgate.locations.dvc import tracked
from mlgate.locations.refs import check, fetch, fingerprints, local_inputs
from mlgate.registry.peek import alias_version, baseline_marker, marker_unchanged, registered_marker
from mlgate.reports import write_report
from mlgate.runs import RunRecord, RunStore, StageRecord, Status, iter_runs, read_json, write_json

if TYPE_CHECKING:
    from mlgate.config import Config
    from mlgate.context import ProgressHook
    from mlgate.locations.refs import DataRef
    from mlgate.reports.model import Report

__all__ = ["STAGES", "STAGE_NAMES", "Pipeline", "RunRecord", "StageRecord", "StageSpec", "iter_runs",
           "select_stages"]


@dataclass(frozen=True)
class StageSpec:
    """One stage: its name, the stages it needs, the config it depends on, and its entry."""

    name: str
    entry: str | Callable[..., Report]  # "module:function", imported only when the stage runs
    needs: tuple[str, ...] = ()  # run after these, and not when one of them failed
    config_keys: tuple[tuple[str, ...], ...] = ()
    reads_data: bool = True
    data_roles: tuple[str, ...] = ("train", "test")  # which tables it reads: train, test, schema
    # upstream stages whose outputs it reads (their keys are part of its key); None: needs
    inputs: tuple[str, ...] | None = None
    enabled: Callable[[Config], bool] = lambda config: True
    summary: str = ""
    # state outside the project that the stage depends on (e.g. the production alias)
    external: Callable[[Config], dict[str, Any] | None] | None = None
    # state outside the project that the stage itself sets (register's alias), read after it ran:
    # a cached stage whose marker no longer holds (the alias moved since) is replayed with a note
    sets_external: Callable[[Config], dict[str, Any] | None] | None = None
    # "module:function" that checks the stage's config before any stage runs (config errors
    # first, without config importing the domain packages)
    preflight: str | None = None
    # pull absent DVC-tracked inputs before the entry runs; False for an entry that reads no data
    # although the stage's key holds it (CI's pick-best assembles train from candidates' outputs)
    fetch_data: bool = True

    @property
    def input_stages(self) -> tuple[str, ...]:
        return self.needs if self.inputs is None else self.inputs

    def load(self) -> Callable[..., Report]:
        if callable(self.entry):
            return self.entry
        return _imported(self.entry)  # type: ignore[no-any-return]

    def check(self, config: Config) -> None:
        """Run the stage's preflight check of the config, if it has one."""
        if self.preflight:
            _imported(self.preflight)(config)


def _imported(target: str) -> Any:
    module, _, func = target.partition(":")
    return getattr(importlib.import_module(module), func)


def _monitor_inputs(config: Config) -> dict[str, Any] | None:
    from mlgate.monitor.stage import input_marker  # numpy and the drift methods: monitor stages only

    return input_marker(config)


# The data keys every reader of a table depends on; the paths themselves are in the key as
# the hashes of the files each stage reads.
_TABLE = (("data", "target"), ("data", "id_columns"), ("data", "split"))
_MODEL = (*_TABLE, ("task",), ("seed",), ("models",))
_TRAIN, _TEST = ("train",), ("test",)

STAGES: tuple[StageSpec, ...] = (
    StageSpec("validate", "mlgate.data.stage:run_validate", (),
              (("data",), ("gates", "validate")), data_roles=("train", "test", "schema"),
              summary="data schema and quality gate", preflight="mlgate.data.validator:check_config"),
    StageSpec("tune", "mlgate.train.stage:run_tune", ("validate",), (*_MODEL, ("tune",)), data_roles=_TRAIN,
              inputs=(), enabled=lambda c: c.tune.enabled, summary="Optuna search for one model type",
              preflight="mlgate.train.zoo:check_models"),
    StageSpec("train", "mlgate.train.stage:run_train", ("validate", "tune"), _MODEL, data_roles=_TRAIN,
              inputs=("tune",), summary="train every candidate, pick the best",
              preflight="mlgate.train.zoo:check_models"),
    # test reads the train table too: the reference of data_distribution and reproducibility
    StageSpec("test", "mlgate.modeltests.stage:run_test", ("train",),
              (*_TABLE, ("data", "protected"), ("task",), ("seed",), ("gates", "test")),
              summary="the model test framework", preflight="mlgate.modeltests.runner:check_config"),
    StageSpec("evaluate", "mlgate.evaluation.stage:run_evaluate", ("train",),
              (*_TABLE, ("data", "protected"), ("task",), ("seed",), ("gates", "evaluate"), ("business",)),
              data_roles=_TEST, summary="metrics with confidence intervals"),
    StageSpec("compare", "mlgate.evaluation.stage:run_compare", ("train", "evaluate"),
              (*_TABLE, ("task",), ("seed",), ("gates", "compare"), ("registry",), ("business",)), data_roles=_TEST,
              inputs=("train",), summary="candidate versus production", external=baseline_marker),
    StageSpec("register", "mlgate.registration.stage:run_register",
              ("validate", "train", "test", "evaluate", "compare"), (("registry",),), reads_data=False,
              summary="registry version with tags and alias", sets_external=registered_marker),
    StageSpec("monitor", "mlgate.monitor.stage:run_monitor", (), (("monitor",), ("registry",), ("data", "target")),
              reads_data=False, enabled=lambda c: c.monitor.enabled, summary="drift and live performance",
              external=_monitor_inputs),
)
STAGE_NAMES = tuple(s.name for s in STAGES)


def _one_openmp_thread() -> Any:
    """Limit OpenMP to one thread while a stage runs.

    Measured on this 2-core machine: gradient boosting spawns OpenMP threads on every predict
    call (early stopping predicts each iteration), and on a busy machine the threads spin
    against each other: a 6-trial search took 66 s of wall time for 20 s of CPU. Parallelism
    that pays comes from processes (Optuna workers, CI jobs) instead.
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="openmp")


def select_stages(config: Config, *, only: str | None = None, until: str | None = None,
                  stages: tuple[StageSpec, ...] = STAGES) -> list[StageSpec]:
    """The enabled stages in order, cut by ``--only`` or ``--until``."""
    names = [s.name for s in stages]
    for flag, value in (("--only", only), ("--until", until)):
        if value is not None and value not in names:
            raise UsageError(f"{flag} {value!r} is not a stage; stages: {', '.join(names)}")
    if only and until:
        raise UsageError("give --only or --until, not both")
    if only and not any(s.name == only and s.enabled(config) for s in stages):
        raise UsageError(f"stage {only!r} is disabled in the config")
    last = names.index(until) if until else len(names) - 1
    return [s for i, s in enumerate(stages)
            if s.enabled(config) and i <= last and (only is None or s.name == only)]


class Pipeline:
    """Runs stages in order, skipping those whose cache key matches the last passing run."""

    def __init__(self, config: Config, *, on_event: Callable[[str, StageSpec, Any], None] | None = None,
                 stages: tuple[StageSpec, ...] = STAGES) -> None:
        self.config = config
        self.stages = stages
        self.store = RunStore(config.root)
        self._on_event = on_event or (lambda kind, stage, payload: None)
        self._hashes: dict[str, Any] | None = None
        self._objects: dict[str, dict[str, str]] = {}  # object URI -> its fingerprints, for one run
        self._markers: list[dict[str, Any]] = []

    def run(self, *, only: str | None = None, until: str | None = None,
            force: bool = False, progress_for: Callable[[StageSpec], ProgressHook] | None = None) -> RunRecord:
        """Run the selected stages; return the run record (also written to disk)."""
        stages = select_stages(self.config, only=only, until=until, stages=self.stages)
        state = self.store.read_state()
        state.pop("noop", None)  # any run may change a stage's outputs: re-stamp at the end
        self._markers = []
        self._objects = {}
        record = self.store.new_run()
        keys: dict[str, str] = {}
        blocked_by: str | None = None
        try:
            for spec in stages:
                stage = self._stage(spec, keys, state, Path(record.run_dir), force, blocked_by, progress_for)
                record.stages.append(stage)
                self._on_event("done", spec, stage)
                if stage.status in ("failed", "error"):
                    blocked_by = spec.name
            complete = only is None and until is None and self.config.source is not None
            inputs = self._input_paths() if complete and record.passed else None
            if inputs is not None:  # None also when data is in a bucket: only a HEAD request tells a change
                assert self.config.source is not None
                markers = self._markers + [state[s.name]["sets_external"] for s in stages
                                           if state.get(s.name, {}).get("sets_external")]
                self.store.stamp(state, self.config.source, inputs, [s.name for s in stages], markers)
        finally:
            if self._hashes is not None:
                write_json(self.store.state_dir / "hashes.json", self._hashes)
            self.store.finish(record, state)
        return record

    def check_inputs(self, *, only: str | None = None, until: str | None = None) -> None:
        """Config and data errors before anything runs: each selected stage's preflight, then
        a DataError naming the config key of a data path that does not exist."""
        selected = select_stages(self.config, only=only, until=until, stages=self.stages)
        for spec in selected:
            spec.check(self.config)
        self._data_refs()  # every local path exists or is DVC-tracked
        roles = tuple({role for spec in selected if spec.reads_data for role in spec.data_roles})
        for key, ref in self._data_refs(roles) if roles else []:
            # before anything runs: a bucket that is missing, refused or unreachable; DVC-tracked data
            # that is absent with no DVC or no remote to pull it from
            check(ref, f"data.{key} in {self._config_name}")

    def stage_dirs(self) -> dict[str, Path]:
        """The output folder of each stage's last passing run."""
        return self.store.stage_dirs()

    # ---- keys ---------------------------------------------------------------------------

    def _stage_key(self, spec: StageSpec, keys: dict[str, str], state: dict[str, Any]) -> str:
        parts: dict[str, Any] = {
            "mlgate": __version__,
            "stage": spec.name,
            "config": {".".join(k): self.config.section(*k) for k in spec.config_keys},
            "needs": {n: keys.get(n) or state.get(n, {}).get("key", "") for n in spec.input_stages
                      if n in keys or n in state},
        }
        if spec.reads_data:
            parts["data"] = self._fingerprints(spec.data_roles)
        if spec.external is not None:
            marker = spec.external(self.config)
            parts["external"] = marker
            if marker is not None:
                self._markers.append(marker)
        blob = json.dumps(parts, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()

    @property
    def _config_name(self) -> str:
        return self.config.source.name if self.config.source else "the config"

    def _data_refs(self, roles: tuple[str, ...] = ("train", "test", "schema")) -> list[tuple[str, DataRef]]:
        """The config keys and data references the roles read; a local path that neither exists
        nor is tracked by DVC is an error naming its key."""
        data = self.config.data
        # one file split in two (data.path, or data.train without data.test) is both tables
        test_key = "test" if data.test else ("path" if data.path else "train")
        wanted = {"schema"} & set(roles) | {"path" if data.path else "train" for r in roles if r == "train"}
        wanted |= {test_key for r in roles if r == "test"}
        refs: list[tuple[str, DataRef]] = []
        for key, rel in (("path", data.path), ("train", data.train), ("test", data.test), ("schema", data.schema_file)):
            if not rel or key not in wanted:
                continue
            ref = self.config.data_ref(rel)
            if isinstance(ref, Path) and not ref.exists() and tracked(ref) is None:
                raise DataError(f"data.{key} in {self._config_name} is {rel!r}, but {ref} does not exist; "
                                f"put the file there (or track it with DVC) or change data.{key}")
            refs.append((key, ref))
        return refs

    def _data_paths(self, roles: tuple[str, ...] = ("train", "test", "schema")) -> list[DataRef]:
        return [ref for _, ref in self._data_refs(roles)]

    def _fingerprints(self, roles: tuple[str, ...]) -> dict[str, str]:
        """Content fingerprints of the roles' data, reading none that need not be read (see locations.refs)."""
        if self._hashes is None:
            self._hashes = read_json(self.store.state_dir / "hashes.json")
        refs = self._data_paths(roles)
        out = fingerprints([r for r in refs if not isinstance(r, str)], self._hashes, self.store.rel)
        for uri in (r for r in refs if isinstance(r, str)):  # an object's HEAD requests once per run
            if uri not in self._objects:
                self._objects[uri] = fingerprints([uri], {}, self.store.rel)
            out.update(self._objects[uri])
        return out

    def _input_paths(self) -> list[Path] | None:
        """Every file whose change can change a key (data files, folders for added files, DVC
        records); None when the data is in a bucket, which no file's mtime describes."""
        return local_inputs(self._data_paths())

    # ---- stages -------------------------------------------------------------------------

    def _stage(self, spec: StageSpec, keys: dict[str, str], state: dict[str, Any], run_dir: Path,
               force: bool, blocked_by: str | None,
               progress_for: Callable[[StageSpec], ProgressHook] | None) -> StageRecord:
        key = self._stage_key(spec, keys, state)
        keys[spec.name] = key
        if blocked_by:
            return StageRecord(spec.name, "blocked", message=f"not run: '{blocked_by}' did not pass")
        cached = state.get(spec.name, {})
        if not force and cached.get("key") == key and self.store.abs(cached.get("out_dir", "")).is_dir():
            record = self.store.reuse(spec.name, cached, run_dir, key)
            moved = self._moved_since(cached)
            if moved:
                record.message = moved
            return record
        return self._execute(spec, key, run_dir, state, progress_for(spec) if progress_for else None)

    def _moved_since(self, cached: dict[str, Any]) -> str:
        """What a cached stage set outside the project (register's alias) and no longer holds, in
        words; "" while it holds. Such a stage is still replayed, not run again: the alias was moved
        on purpose (a deploy or rollback), and registering the same model anew would undo that."""
        marker = cached.get("sets_external")
        if marker is None:
            return ""
        if not {"store", "name", "alias", "version"} <= set(marker):  # not an alias: ask the generic check
            return "" if marker_unchanged(marker, self.config.root) else (
                f"what run {cached.get('run_id', '?')} set outside the project has changed since")
        now = alias_version(self.config.root / marker["store"], marker["name"], marker["alias"])  # one read
        if now == marker["version"]:
            return ""
        return (f"registered v{marker['version']} in run {cached.get('run_id', '?')}; alias "
                f"'{marker['alias']}' now names {f'v{now}' if now else 'no version'} (moved since: "
                "`mlgate run --force --only register` registers this model again)")

    def _execute(self, spec: StageSpec, key: str, run_dir: Path, state: dict[str, Any],
                 hook: ProgressHook | None) -> StageRecord:
        out_dir = run_dir / spec.name
        if spec.reads_data and spec.fetch_data:
            try:  # before the stage's folder exists: a failed pull leaves nothing half-made
                fetch(self._data_paths(spec.data_roles), f"stage '{spec.name}'")
            except MlgateError as exc:
                return StageRecord(spec.name, "error", False, key, "", 0.0, message=str(exc))
        out_dir.mkdir(parents=True, exist_ok=True)
        upstream = {n: self.store.abs(state[n]["out_dir"]) for n in spec.needs if n in state}
        ctx = StageContext(config=self.config, out_dir=out_dir, run_id=run_dir.name, upstream=upstream)
        if hook:
            ctx.progress = hook
        self._on_event("start", spec, None)
        t0 = time.perf_counter()
        try:
            with _one_openmp_thread():
                report = spec.load()(ctx)
        except MlgateError as exc:
            return StageRecord(spec.name, "error" if exc.exit_code == 2 else "failed", False, key,
                               str(out_dir), round(time.perf_counter() - t0, 3), message=str(exc))
        except Exception as exc:  # a bug: keep the run record, then let the CLI report it
            exc.add_note(f"in stage '{spec.name}' of run {run_dir.name}")
            raise
        report.duration_s = report.duration_s or round(time.perf_counter() - t0, 3)
        write_report(report, out_dir)
        status: Status = "ran" if report.passed else "failed"
        if report.passed:
            state[spec.name] = {"key": key, "out_dir": self.store.rel(out_dir), "key_figure": report.key_figure,
                                "run_id": run_dir.name}
            if spec.sets_external is not None and (marker := spec.sets_external(self.config)) is not None:
                state[spec.name]["sets_external"] = marker
        else:
            state.pop(spec.name, None)
        self.store.write_state(state)
        return StageRecord(spec.name, status, report.passed, key, str(out_dir), report.duration_s,
                           report.key_figure)
