"""``mlgate scan``: the security job of the validate stage, as one gate with one report.

Four parts, each a set of checks in ``report.json``/``junit.xml``:

- ``bandit_<severity>``: bandit over the source folders; SARIF in ``bandit.sarif`` for
  code-scanning uploads.
- ``model_file[PATH]``: every model file under the model folders through the loader's checks
  (allow-list, unreadable streams), without loading any of them; picklescan's verdict beside.
- ``dependency_audit``: pip-audit against PyPI's vulnerability data; when the service cannot
  be reached the check is a warning saying "offline", never a silent pass.
- ``sbom``: a CycloneDX JSON SBOM of the environment in ``sbom.cdx.json``, checked to list
  mlgate's direct dependencies with versions.

A check fails the gate when its severity is at or above ``fail_on`` (default ``high``);
refused model files and known-vulnerable dependencies count as high.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mlgate.config import ScanConfig
from mlgate.errors import ModelLoadError, UsageError
from mlgate.reports.model import Check, Report
from mlgate.security.folders import inside_links_only, model_file
from mlgate.security.loader import file_format, inspect_file
from mlgate.security.tools import (
    SEVERITIES,
    Finding,
    direct_dependencies,
    missing_from_sbom,
    run_bandit,
    run_pip_audit,
    run_sbom,
)

if TYPE_CHECKING:
    from mlgate.config import Config
    from mlgate.security.allowlist import TrustPolicy

MODEL_SUFFIXES = (".pkl", ".pickle", ".joblib", ".skops")
SARIF_FILE = "bandit.sarif"
SBOM_FILE = "sbom.cdx.json"


@dataclass
class ScanRequest:
    """What to scan; paths are absolute."""

    src: list[Path] = field(default_factory=list)
    models: list[Path] = field(default_factory=list)
    fail_on: str = "high"
    audit: bool = True
    audit_timeout_s: float = 300.0
    sbom: bool = True
    pyproject: Path | None = None


def run_scan(request: ScanRequest, out_dir: Path, policy: TrustPolicy) -> Report:
    """Run every part of the scan and return the gate's report (the caller writes it)."""
    if request.fail_on not in SEVERITIES:
        raise UsageError(f"--fail-on must be one of {', '.join(SEVERITIES)} (got {request.fail_on!r})")
    for path in [*request.src, *request.models]:
        if not path.exists():
            raise UsageError(f"{path} does not exist; --src and --models take existing folders or files")
    t0 = time.perf_counter()
    report = Report(stage="scan")
    out_dir.mkdir(parents=True, exist_ok=True)
    if request.src:
        _bandit(report, request, out_dir)
    _models(report, request, policy)
    if request.audit:
        _audit(report, request)
    if request.sbom:
        _sbom(report, request, out_dir)
    blocking = len(report.failures)
    report.key_figure = f"{blocking} blocking finding(s) at or above {request.fail_on}"
    report.duration_s = round(time.perf_counter() - t0, 3)
    return report


def _blocks(severity: str, fail_on: str) -> bool:
    return SEVERITIES.index(severity) >= SEVERITIES.index(fail_on)


def _severity(severity: str, fail_on: str) -> str:
    """The report severity of a finding: error when it fails the gate, else warning."""
    return "error" if _blocks(severity, fail_on) else "warning"


def _bandit(report: Report, request: ScanRequest, out_dir: Path) -> None:
    findings = run_bandit(request.src, out_dir / SARIF_FILE)
    report.extras["bandit"] = [vars(f) for f in findings]
    for level in reversed(SEVERITIES):
        found = [f for f in findings if f.severity == level]
        where = ", ".join(_where(f) for f in found[:5]) + (" ..." if len(found) > 5 else "")
        report.add(Check(name=f"bandit_{level}", passed=not found, severity=_severity(level, request.fail_on),
                         observed=len(found), expected=0, details={"findings": [vars(f) for f in found]},
                         message=f"bandit: {len(found)} {level}-severity finding(s)" + (f": {where}" if found else "")
                         + _gate_note(level, request.fail_on)))
    report.metrics["bandit_findings"] = len(findings)


def _gate_note(level: str, fail_on: str) -> str:
    return f" ({'fails' if _blocks(level, fail_on) else 'below'} --fail-on {fail_on})"


def _where(f: Finding) -> str:
    return f"{f.rule} {f.file}:{f.line}"


@dataclass(frozen=True)
class ModelTarget:
    """One file a loader would open and how it reads it, or why a loader would refuse it first."""

    path: Path
    format: str | None = None
    problem: str | None = None


def model_targets(roots: list[Path]) -> list[ModelTarget]:
    """Every file under ``roots`` that a model loader would open, read as that loader reads it.

    In an MLflow model folder the ``MLmodel`` file names the serialized file and its format
    (``pickled_model: model.bin`` is scanned although its name says nothing); elsewhere
    ``.pkl``/``.pickle``/``.joblib``/``.skops`` files are. A symbolic link that leaves its root,
    or an ``MLmodel`` the loader would refuse, is a problem of its own.
    """
    targets: list[ModelTarget] = []
    for root in roots:
        if root.is_file():
            targets.append(ModelTarget(root, file_format(root)))
            continue
        named: set[Path] = set()
        try:
            inside_links_only(root)
        except ModelLoadError as exc:
            targets.append(ModelTarget(root, problem=str(exc)))
            continue
        files = sorted(Path(d) / f for d, _dirs, names in os.walk(root) for f in names)
        for mlmodel in (f for f in files if f.name == "MLmodel"):
            try:
                found = model_file(inside_links_only(mlmodel.parent))
            except ModelLoadError as exc:
                targets.append(ModelTarget(mlmodel, problem=str(exc)))
                continue
            if not found.path.is_file():
                missing = f"{mlmodel} names {found.path.name}, which does not exist"
                targets.append(ModelTarget(found.path, problem=missing))
            else:
                targets.append(ModelTarget(found.path, found.format))
            named.add(found.path.resolve())
        targets += [ModelTarget(p, file_format(p)) for p in files
                    if p.suffix.lower() in MODEL_SUFFIXES and p.resolve() not in named]
    return targets


def model_files(roots: list[Path]) -> list[Path]:
    """The paths of :func:`model_targets`."""
    return [t.path for t in model_targets(roots)]


def _models(report: Report, request: ScanRequest, policy: TrustPolicy) -> None:
    targets = model_targets(request.models)
    report.metrics["model_files"] = len(targets)
    if not request.models:
        report.add(Check(name="model_files", passed=True, severity="info", observed=0,
                         message="no model folders given (--models DIR); no model file scanned"))
        return
    refused = 0
    for target in targets:
        path = target.path
        if target.problem is not None:
            refused += 1
            report.add(Check(name="model_file", column=str(path), passed=False,
                             severity=_severity("high", request.fail_on), observed=target.problem, expected=[],
                             message=f"{path}: {target.problem}", details={"format": None}))
            continue
        found = inspect_file(path, policy, target.format)
        refused += not found.safe
        message = (f"{path}: {len(found.globals)} global(s), all on the allow-list" if found.safe
                   else str(found.refusal()))
        report.add(Check(name="model_file", column=str(path), passed=found.safe,
                         severity=_severity("high", request.fail_on), observed=found.refused or found.error,
                         expected=[], message=message,
                         details={"format": found.format, "sha256": found.sha256, "globals": found.globals,
                                  "picklescan_dangerous": found.second_opinion}))
    report.metrics["model_files_refused"] = refused
    if not targets:
        report.add(Check(name="model_files", passed=True, severity="info", observed=0,
                         message=f"no model files (MLmodel folders, {', '.join(MODEL_SUFFIXES)}) under "
                                 f"{', '.join(map(str, request.models))}"))


def _audit(report: Report, request: ScanRequest) -> None:
    audit = run_pip_audit(request.audit_timeout_s)
    if audit.offline:
        report.add(Check(name="dependency_audit", passed=False, severity="warning", observed="offline",
                         details={"skipped": True, "reason": audit.reason},
                         message=f"dependency audit SKIPPED (offline): {audit.reason}; no vulnerability data "
                                 "was checked, so this is not a pass"))
        return
    report.metrics["audited_packages"] = audit.packages
    report.add(Check(name="dependency_audit", passed=True, severity="info", observed=audit.packages,
                     message=f"pip-audit checked {audit.packages} installed package(s)"))
    for dep in audit.vulnerable:
        ids = ", ".join(str(v["id"]) for v in dep["vulns"])
        fixes = sorted({f for v in dep["vulns"] for f in v["fix_versions"]})
        report.add(Check(name="vulnerable_dependency", column=dep["name"], passed=False,
                         severity=_severity("high", request.fail_on), observed=dep["version"], expected=fixes,
                         details={"vulns": dep["vulns"]},
                         message=f"{dep['name']} {dep['version']}: {ids}"
                                 + (f" (fixed in {', '.join(fixes)})" if fixes else " (no fix released)")))


def _sbom(report: Report, request: ScanRequest, out_dir: Path) -> None:
    sbom = run_sbom(out_dir / SBOM_FILE, request.pyproject)
    components = sbom.get("components", [])
    missing = missing_from_sbom(sbom, direct_dependencies())
    report.metrics["sbom_components"] = len(components)
    report.add(Check(name="sbom", passed=not missing, severity="warning", observed=missing, expected=[],
                     message=f"CycloneDX SBOM {out_dir / SBOM_FILE}: {len(components)} component(s)"
                             + (f"; missing direct dependencies: {', '.join(missing)}" if missing
                                else ", every direct dependency of mlgate with its version")))


def scan_request(config: Config | None, root: Path, *, src: list[Path] | None = None,
                 models: list[Path] | None = None, fail_on: str | None = None,
                 audit: bool = True, sbom: bool = True) -> ScanRequest:
    """Flags over ``security.scan`` in the config over the defaults (``./src`` when it exists)."""
    section = config.security.scan if config is not None else ScanConfig()
    base = config.root if config is not None else root
    sources = [p.resolve() for p in src] if src else [base / s for s in section.src if (base / s).exists()]
    folders = [p.resolve() for p in models] if models else [base / m for m in section.models]
    pyproject = base / "pyproject.toml"
    return ScanRequest(src=sources, models=folders, fail_on=fail_on or section.fail_on,
                       audit=audit and section.audit, audit_timeout_s=section.audit_timeout_s,
                       sbom=sbom and section.sbom, pyproject=pyproject if pyproject.exists() else None)
