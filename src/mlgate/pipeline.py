"""The stage graph, the content-hash cache and the run records of ``mlgate run``.

A stage's cache key is a SHA-256 over the mlgate version, the stage's config sections, the
bytes of the data files it reads and the keys of the stages it needs, so changing the test
file re-runs only the stages that read data or depend on one that did. File hashes are
remembered by (size, mtime) as DVC does, so a no-op run reads no data.

Layout under the project's ``.mlgate/``::

    state.json                 last passing key and output folder of each stage
    hashes.json                file hash memo
    runs/<run-id>/run.json     the run record: which stages ran, were cached, passed, failed
    runs/<run-id>/<stage>/     a stage's outputs and reports
    runs/<run-id>/junit.xml    all stages' JUnit files merged
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import secrets
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from mlgate import __version__
from mlgate.errors import MlgateError, UsageError

if TYPE_CHECKING:
    from mlgate.config import Config
    from mlgate.context import ProgressHook
    from mlgate.reports.model import Report

Status = Literal["ran", "cached", "failed", "blocked", "error", "skipped"]
REPORT_FILES = ("report.json", "junit.xml", "summary.md", "report.html")


@dataclass(frozen=True)
class StageSpec:
    """One stage: its name, the stages it needs, the config it depends on, and its entry."""

    name: str
    entry: str | Callable[..., Report]  # "module:function", imported only when the stage runs
    needs: tuple[str, ...] = ()
    config_keys: tuple[tuple[str, ...], ...] = ()
    reads_data: bool = True
    enabled: Callable[[Config], bool] = lambda config: True
    summary: str = ""

    def load(self) -> Callable[..., Report]:
        if callable(self.entry):
            return self.entry
        module, _, func = self.entry.partition(":")
        return getattr(importlib.import_module(module), func)  # type: ignore[no-any-return]


_DATA = ("data",)
_MODEL = (("data",), ("task",), ("seed",), ("models",))

STAGES: tuple[StageSpec, ...] = (
    StageSpec("validate", "mlgate.data.stage:run_validate", (),
              (_DATA, ("gates", "validate")), summary="data schema and quality gate"),
    StageSpec("tune", "mlgate.train.stage:run_tune", ("validate",), (*_MODEL, ("tune",)),
              enabled=lambda c: c.tune.enabled, summary="Optuna search for one model type"),
    StageSpec("train", "mlgate.train.stage:run_train", ("validate", "tune"), _MODEL,
              summary="train every candidate, pick the best"),
    StageSpec("test", "mlgate.modeltests.stage:run_test", ("train",),
              (_DATA, ("task",), ("gates", "test")), summary="the model test framework"),
    StageSpec("evaluate", "mlgate.evaluate:run_evaluate_stage", ("train",),
              (_DATA, ("task",), ("gates", "evaluate")), summary="metrics with confidence intervals"),
    StageSpec("compare", "mlgate.compare:run_compare_stage", ("train", "evaluate"),
              (_DATA, ("gates", "compare"), ("registry",)), summary="candidate versus production"),
    StageSpec("register", "mlgate.registry:run_register_stage", ("train", "test", "evaluate", "compare"),
              (("registry",),), reads_data=False, summary="registry version with tags and alias"),
)
STAGE_NAMES = tuple(s.name for s in STAGES)


@dataclass
class StageRecord:
    """What happened to one stage in one run."""

    name: str
    status: Status
    passed: bool | None = None
    key: str = ""
    out_dir: str = ""
    duration_s: float = 0.0
    key_figure: str = ""
    message: str = ""


@dataclass
class RunRecord:
    """The run record written to ``runs/<run-id>/run.json``."""

    run_id: str
    run_dir: str
    started: str
    finished: str = ""
    mlgate_version: str = __version__
    stages: list[StageRecord] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(s.status in ("ran", "cached", "skipped") for s in self.stages)

    @property
    def exit_code(self) -> int:
        codes = [2 if s.status == "error" else 1 for s in self.stages
                 if s.status in ("failed", "error")]
        return max(codes, default=0)

    def to_dict(self) -> dict[str, Any]:
        body = asdict(self)
        body["passed"] = self.passed
        return body


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
        self.state_dir = config.root / ".mlgate"
        self._on_event = on_event or (lambda kind, stage, payload: None)
        self._hashes: dict[str, Any] | None = None

    # ---- public -------------------------------------------------------------------------

    def run(self, *, only: str | None = None, until: str | None = None,
            force: bool = False, progress_for: Callable[[StageSpec], ProgressHook] | None = None) -> RunRecord:
        """Run the selected stages; return the run record (also written to disk)."""
        stages = select_stages(self.config, only=only, until=until, stages=self.stages)
        state = self._read_state()
        record = self._new_run()
        run_dir = Path(record.run_dir)
        keys: dict[str, str] = {}
        blocked_by: str | None = None
        try:
            for spec in stages:
                stage = self._stage(spec, keys, state, run_dir, force, blocked_by, progress_for)
                record.stages.append(stage)
                self._on_event("done", spec, stage)
                if stage.status in ("failed", "error"):
                    blocked_by = spec.name
        finally:
            record.finished = _now()
            self._finish(record, state)
        return record

    def _stage(self, spec: StageSpec, keys: dict[str, str], state: dict[str, Any], run_dir: Path,
               force: bool, blocked_by: str | None,
               progress_for: Callable[[StageSpec], ProgressHook] | None) -> StageRecord:
        key = self._stage_key(spec, keys, state)
        keys[spec.name] = key
        if blocked_by:
            return StageRecord(spec.name, "blocked", message=f"not run: '{blocked_by}' did not pass")
        cached = state.get(spec.name, {})
        if not force and cached.get("key") == key and self._abs(cached.get("out_dir", "")).is_dir():
            return self._reuse(spec, cached, run_dir, key)
        return self._execute(spec, key, run_dir, state, progress_for(spec) if progress_for else None)

    def stage_dirs(self) -> dict[str, Path]:
        """The output folder of each stage's last passing run."""
        return {name: self._abs(s["out_dir"]) for name, s in self._read_state().items()}

    # state.json keeps paths relative to the project, so a CI job that receives `.mlgate/`
    # as an artifact in another checkout folder still finds the outputs.
    def _rel(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.config.root))
        except ValueError:
            return str(path)

    def _abs(self, path: str) -> Path:
        return self.config.root / path if path else Path("/nonexistent")

    # ---- keys ---------------------------------------------------------------------------

    def _stage_key(self, spec: StageSpec, keys: dict[str, str], state: dict[str, Any]) -> str:
        parts: dict[str, Any] = {
            "mlgate": __version__,
            "stage": spec.name,
            "config": {".".join(k): self.config.section(*k) for k in spec.config_keys},
            "needs": {n: keys.get(n) or state.get(n, {}).get("key", "") for n in spec.needs
                      if n in keys or n in state},
        }
        if spec.reads_data:
            parts["data"] = {self._rel(p): self._file_hash(p) for p in self._data_files()}
        blob = json.dumps(parts, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()

    def _data_files(self) -> list[Path]:
        from mlgate.data.io import table_files

        data = self.config.data
        files: list[Path] = []
        for rel in (data.path, data.train, data.test, data.schema_file):
            if rel:
                files.extend(table_files(self.config.resolve(rel)))
        return files

    def _file_hash(self, path: Path) -> str:
        from mlgate.data.io import file_sha256

        if self._hashes is None:
            self._hashes = _read_json(self.state_dir / "hashes.json")
        stat = path.stat()
        memo = self._hashes.get(str(path))
        if memo and memo["size"] == stat.st_size and memo["mtime_ns"] == stat.st_mtime_ns:
            return str(memo["sha256"])
        digest = file_sha256(path)
        self._hashes[str(path)] = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": digest}
        return digest

    # ---- stages -------------------------------------------------------------------------

    def _execute(self, spec: StageSpec, key: str, run_dir: Path, state: dict[str, Any],
                 hook: ProgressHook | None) -> StageRecord:
        from mlgate.context import StageContext
        from mlgate.reports import write_report

        out_dir = run_dir / spec.name
        out_dir.mkdir(parents=True, exist_ok=True)
        upstream = {n: self._abs(state[n]["out_dir"]) for n in spec.needs if n in state}
        ctx = StageContext(config=self.config, out_dir=out_dir, run_id=run_dir.name, upstream=upstream)
        if hook:
            ctx.progress = hook
        self._on_event("start", spec, None)
        t0 = time.perf_counter()
        try:
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
            state[spec.name] = {"key": key, "out_dir": self._rel(out_dir), "key_figure": report.key_figure,
                                "run_id": run_dir.name}
        else:
            state.pop(spec.name, None)
        _write_json(self.state_dir / "state.json", state)
        return StageRecord(spec.name, status, report.passed, key, str(out_dir), report.duration_s,
                           report.key_figure)

    def _reuse(self, spec: StageSpec, cached: dict[str, Any], run_dir: Path, key: str) -> StageRecord:
        """Copy the cached stage's small report files into this run; point at its outputs."""
        source = self._abs(cached["out_dir"])
        out_dir = run_dir / spec.name
        out_dir.mkdir(parents=True, exist_ok=True)
        for name in REPORT_FILES:
            if (source / name).exists():
                shutil.copy2(source / name, out_dir / name)
        (out_dir / "cached.json").write_text(json.dumps({"outputs": str(source), "key": key}) + "\n")
        return StageRecord(spec.name, "cached", True, key, str(source), 0.0, cached.get("key_figure", ""),
                           message=f"unchanged since run {cached.get('run_id', '?')}")

    # ---- records ------------------------------------------------------------------------

    def _new_run(self) -> RunRecord:
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        run_id = f"{stamp}-{secrets.token_hex(2)}"
        run_dir = self.state_dir / "runs" / run_id
        run_dir.mkdir(parents=True)
        return RunRecord(run_id=run_id, run_dir=str(run_dir), started=_now())

    def _finish(self, record: RunRecord, state: dict[str, Any]) -> None:
        from mlgate.reports.junit import merge_junit

        run_dir = Path(record.run_dir)
        junits = [run_dir / s.name / "junit.xml" for s in record.stages
                  if (run_dir / s.name / "junit.xml").exists()]
        if junits:
            merge_junit(junits, run_dir / "junit.xml")
        _write_json(run_dir / "run.json", record.to_dict())
        _write_json(self.state_dir / "state.json", state)
        if self._hashes is not None:
            _write_json(self.state_dir / "hashes.json", self._hashes)
        latest = self.state_dir / "runs" / "latest"
        _write_text(self.state_dir / "runs" / "LATEST", record.run_id + "\n")
        if latest.is_symlink() or not latest.exists():
            latest.unlink(missing_ok=True)
            latest.symlink_to(record.run_id, target_is_directory=True)

    def _read_state(self) -> dict[str, Any]:
        return _read_json(self.state_dir / "state.json")


def iter_runs(state_dir: Path) -> Iterator[dict[str, Any]]:
    """Run records, newest first."""
    runs = state_dir / "runs"
    if not runs.is_dir():
        return
    for folder in sorted((p for p in runs.iterdir() if p.is_dir() and not p.is_symlink()), reverse=True):
        if (folder / "run.json").exists():
            yield _read_json(folder / "run.json")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]
    except (OSError, ValueError):
        return {}


def _write_json(path: Path, body: Any) -> None:
    _write_text(path, json.dumps(body, indent=2, default=str) + "\n")


def _write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
