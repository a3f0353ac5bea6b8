"""Run records and the pipeline's state on disk, under the project's ``.mlgate/``.

    state.json                 each stage's last passing key and output folder, and the
                               no-op stamp of the last complete passing run
    hashes.json                file hash memo (size, mtime -> SHA-256)
    runs/<run-id>/run.json     the run record: which stages ran, were cached, passed, failed
    runs/<run-id>/<stage>/     a stage's outputs and reports
    runs/<run-id>/junit.xml    all stages' JUnit files merged
    runs/latest -> <run-id>     the newest run that did not stop on bad config or input (LATEST too)

Paths in state.json are relative to the project, so a CI job that receives ``.mlgate/`` as
an artifact in another checkout folder still finds the outputs.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path

from mlgate import __version__
from mlgate._paths import write_text

# The no-op `mlgate run` replays through this module before anything else loads, so it imports
# neither typing nor dataclasses (with inspect, a sixth of the replay's CPU time), nor secrets,
# shutil, html or xml unless a step needs them (benchmarks/startup.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any, Literal

    Status = Literal["ran", "cached", "failed", "blocked", "error", "skipped"]
else:
    Status = str

REPORT_FILES = ("report.json", "junit.xml", "summary.md", "report.html")


class _Record:
    """Equality, repr and ``to_dict`` over ``__slots__``: what ``@dataclass`` gave, without its import."""

    __slots__: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self.to_dict() == other.to_dict()  # type: ignore[attr-defined]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.to_dict().items())})"


class StageRecord(_Record):
    """What happened to one stage in one run."""

    __slots__ = ("name", "status", "passed", "key", "out_dir", "duration_s", "key_figure", "message")

    def __init__(self, name: str, status: Status, passed: bool | None = None, key: str = "", out_dir: str = "",
                 duration_s: float = 0.0, key_figure: str = "", message: str = "") -> None:
        self.name, self.status, self.passed, self.key = name, status, passed, key
        self.out_dir, self.duration_s, self.key_figure, self.message = out_dir, duration_s, key_figure, message


class RunRecord(_Record):
    """The run record written to ``runs/<run-id>/run.json``."""

    __slots__ = ("run_id", "run_dir", "started", "finished", "mlgate_version", "stages")

    def __init__(self, run_id: str, run_dir: str, started: str, finished: str = "",
                 mlgate_version: str = __version__, stages: list[StageRecord] | None = None) -> None:
        self.run_id, self.run_dir, self.started, self.finished = run_id, run_dir, started, finished
        self.mlgate_version = mlgate_version
        self.stages: list[StageRecord] = stages if stages is not None else []

    @property
    def passed(self) -> bool:
        return all(s.status in ("ran", "cached", "skipped") for s in self.stages)

    @property
    def exit_code(self) -> int:
        codes = [2 if s.status == "error" else 1 for s in self.stages if s.status in ("failed", "error")]
        return max(codes, default=0)

    def to_dict(self) -> dict[str, Any]:
        body = super().to_dict()
        body["stages"] = [s.to_dict() for s in self.stages]
        body["passed"] = self.passed
        return body


class RunStore:
    """Reads and writes the state and run folders of one project."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.state_dir = root / ".mlgate"

    def rel(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)

    def abs(self, path: str) -> Path:
        return self.root / path if path else Path("/nonexistent")

    def read_state(self) -> dict[str, Any]:
        return read_json(self.state_dir / "state.json")

    def write_state(self, state: dict[str, Any]) -> None:
        write_json(self.state_dir / "state.json", state)

    def stage_dirs(self) -> dict[str, Path]:
        """The output folder of each stage's last passing run."""
        return {name: self.abs(s["out_dir"]) for name, s in self.read_state().items()
                if isinstance(s, dict) and "out_dir" in s}

    def new_run(self) -> RunRecord:
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        run_id = f"{stamp}-{os.urandom(2).hex()}"  # not secrets.token_hex: the same bytes, 2 ms less import
        run_dir = self.state_dir / "runs" / run_id
        run_dir.mkdir(parents=True)
        return RunRecord(run_id=run_id, run_dir=str(run_dir), started=now())

    def reuse(self, name: str, cached: dict[str, Any], run_dir: Path, key: str) -> StageRecord:
        """Copy a cached stage's small report files into this run; point at its outputs."""
        source = self.abs(cached["out_dir"])
        out_dir = run_dir / name
        out_dir.mkdir(parents=True, exist_ok=True)
        for report in REPORT_FILES:
            if (source / report).exists():
                _link_or_copy(source / report, out_dir / report)
        (out_dir / "cached.json").write_text(json.dumps({"outputs": str(source), "key": key}) + "\n")
        return StageRecord(name, "cached", True, key, str(source), 0.0, cached.get("key_figure", ""),
                           message=f"unchanged since run {cached.get('run_id', '?')}")

    def finish(self, record: RunRecord, state: dict[str, Any]) -> None:
        """Write the run record, the merged JUnit file, the state and the `latest` link."""
        record.finished = now()
        write_pages(record)
        self.write_state(state)
        if record.exit_code == 2:  # stopped on bad config or input: `latest` keeps the last run that ran
            return
        write_text(self.state_dir / "runs" / "LATEST", record.run_id + "\n")
        latest = self.state_dir / "runs" / "latest"
        if latest.is_symlink() or not latest.exists():
            latest.unlink(missing_ok=True)
            latest.symlink_to(record.run_id, target_is_directory=True)

    # ---- the no-op stamp ----------------------------------------------------------------
    # A complete passing run leaves a stamp: the config file's hash and the size and mtime of
    # every input. While all of them are unchanged, every stage key is unchanged too (keys
    # depend only on the version, the config, the inputs' bytes and each other), so
    # `mlgate run` can replay the cached verdicts without importing pydantic or hashing.
    # Markers of state outside the project (the production alias) are re-read too.

    def stamp(self, state: dict[str, Any], config_file: Path, inputs: list[Path], stages: list[str],
              markers: list[dict[str, Any]] | None = None) -> None:
        state["noop"] = {
            "markers": markers or [],
            "version": __version__,
            "config": self.rel(config_file),
            "config_sha256": _sha256(config_file),
            "inputs": {self.rel(p): _stat(p) for p in inputs},
            "stages": stages,
        }

    def replay_if_unchanged(self, config_file: Path) -> RunRecord | None:
        """A run record of all-cached stages if nothing changed since the stamp, else None."""
        state = self.read_state()
        stamp = state.get("noop")
        if not stamp or stamp.get("version") != __version__ or not config_file.exists():
            return None
        if stamp.get("config") != self.rel(config_file) or stamp.get("config_sha256") != _sha256(config_file):
            return None
        if any(_stat(self.abs(p)) != list(v) for p, v in stamp.get("inputs", {}).items()):
            return None
        from mlgate.registry.peek import marker_unchanged

        if not all(marker_unchanged(m, self.root) for m in stamp.get("markers", [])):
            return None
        names = stamp.get("stages", [])
        if not all(n in state and self.abs(state[n].get("out_dir", "")).is_dir() for n in names):
            return None
        record = self.new_run()
        record.stages = [self.reuse(n, state[n], Path(record.run_dir), state[n]["key"]) for n in names]
        self.finish(record, state)
        return record


def write_pages(record: RunRecord) -> None:
    """The run's run.json, index.html and merged junit.xml, over every stage of the record."""
    run_dir = Path(record.run_dir)
    junits = [run_dir / s.name / "junit.xml" for s in record.stages
              if (run_dir / s.name / "junit.xml").exists()]
    if junits:
        merge_junit(junits, run_dir / "junit.xml")
    write_json(run_dir / "run.json", record.to_dict())
    write_text(run_dir / "index.html", run_index_html(record))


def add_stage(record: RunRecord, stage: StageRecord) -> None:
    """Add a stage run after the pipeline (the demo's smoke tests) to the run's pages."""
    record.stages = [s for s in record.stages if s.name != stage.name] + [stage]
    record.finished = now()
    write_pages(record)


_COLOURS = {"ran": "#1a7f37", "cached": "#0969da", "failed": "#cf222e", "error": "#cf222e",
            "blocked": "#9a6700", "skipped": "#57606a"}


# html.escape's table (quote=True); the html package imports its 2,000 named entities
_HTML_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;"})


def _escape_html(text: str) -> str:
    return text.translate(_HTML_ESCAPES)


def run_index_html(record: RunRecord) -> str:
    """``runs/<run-id>/index.html``: the run's verdict and a link to each stage's report."""
    escape = _escape_html
    rows = []
    for s in record.stages:
        link = f'<a href="{escape(s.name)}/report.html">report</a>' if s.status in ("ran", "cached", "failed") else ""
        rows.append(f'<tr><td>{escape(s.name)}</td><td style="color:{_COLOURS[s.status]}">{escape(s.status)}</td>'
                    f"<td>{escape(s.key_figure or s.message)}</td><td>{s.duration_s:.1f} s</td><td>{link}</td></tr>")
    verdict = "passed" if record.passed else "failed"
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>mlgate run {record.run_id}</title>'
            "<style>body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:900px}"
            "td,th{padding:.3rem .6rem;border-bottom:1px solid #ddd;text-align:left}</style></head><body>"
            f"<h1>mlgate run {escape(record.run_id)}: {verdict}</h1>"
            f"<p>{escape(record.started)} to {escape(record.finished)} · mlgate {escape(record.mlgate_version)}"
            ' · <a href="junit.xml">junit.xml</a> · <a href="run.json">run.json</a></p>'
            "<table><tr><th>stage</th><th>status</th><th>key figure</th><th>duration</th><th></th></tr>"
            + "".join(rows) + "</table></body></html>\n")


def iter_runs(state_dir: Path) -> Iterator[dict[str, Any]]:
    """Run records, newest first."""
    runs = state_dir / "runs"
    if not runs.is_dir():
        return
    for folder in sorted((p for p in runs.iterdir() if p.is_dir() and not p.is_symlink()), reverse=True):
        if (folder / "run.json").exists():
            yield read_json(folder / "run.json")


def _stat(path: Path) -> list[int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def merge_junit(files: list[Path], path: Path) -> None:
    """Merge the stages' junit.xml files into one <testsuites> document.

    Here rather than in ``mlgate.reports``: the no-op replay writes it, and importing the
    report models (pydantic) would cost more than the whole replay.
    """
    import xml.etree.ElementTree as ET

    root = ET.Element("testsuites")
    tests = failures = 0
    for file in files:
        suite = ET.parse(file).getroot()
        suites = [suite] if suite.tag == "testsuite" else list(suite)
        for s in suites:
            tests += int(s.get("tests", 0))
            failures += int(s.get("failures", 0))
            root.append(s)
    root.set("tests", str(tests))
    root.set("failures", str(failures))
    tree = ET.ElementTree(root)
    ET.indent(tree)
    tree.write(path, encoding="utf-8", xml_declaration=True)


def _link_or_copy(source: Path, target: Path) -> None:
    """A hard link where the file system allows (the no-op replay then writes no report bytes:
    a report.html with plots is megabytes), else a copy. Reports are replaced atomically, never
    rewritten in place, so a link never sees a later run's content."""
    try:
        os.link(source, target)
    except OSError:
        import shutil

        shutil.copy2(source, target)


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]
    except (OSError, ValueError):
        return {}


def write_json(path: Path, body: Any) -> None:
    write_text(path, json.dumps(body, indent=2, default=str) + "\n")
