"""The scan job's external tools, each run as its own process: bandit, pip-audit, cyclonedx-py.

Each returns plain data (findings, vulnerabilities, components) for ``scan`` to judge; a
tool that is not installed raises ``MissingDependency`` naming the extra, and a service that
cannot be reached is reported as offline, never as "no findings".
"""

from __future__ import annotations

import json
import os
import subprocess  # nosec B404: runs the scan tools with fixed argument lists, never a shell
import sys
import urllib.request
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from mlgate._paths import shown_path
from mlgate.errors import MissingDependency, UsageError

SEVERITIES = ("low", "medium", "high")
AUDIT_SERVICE = "https://pypi.org/pypi/pip/json"  # pip-audit's default vulnerability source (PyPI)


@dataclass(frozen=True)
class Finding:
    """One bandit finding."""

    rule: str
    severity: str
    confidence: str
    file: str
    line: int
    message: str


@dataclass
class Audit:
    """pip-audit's answer: vulnerable packages, or why it could not ask."""

    offline: bool = False
    reason: str = ""
    vulnerable: list[dict[str, Any]] = field(default_factory=list)
    packages: int = 0


def run_bandit(sources: list[Path], sarif: Path) -> list[Finding]:
    """bandit over ``sources``, SARIF written to ``sarif``; the findings read back from it."""
    _need("bandit", "bandit[sarif]")
    sarif.parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "bandit", "-r", *map(str, sources), "-f", "sarif", "-o", str(sarif), "-q"]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)  # nosec B603: fixed argv
    if done.returncode not in (0, 1) or not sarif.exists():  # 1 means "findings", not failure
        raise UsageError(f"bandit could not scan {', '.join(map(str, sources))}: "
                         f"{(done.stderr or done.stdout).strip()[-500:]}")
    doc = json.loads(sarif.read_text(encoding="utf-8"))
    return [_finding(r) for run in doc.get("runs", []) for r in run.get("results", [])]


def _finding(result: dict[str, Any]) -> Finding:
    props = result.get("properties", {})
    loc = (result.get("locations") or [{}])[0].get("physicalLocation", {})
    return Finding(rule=str(result.get("ruleId", "?")), severity=str(props.get("issue_severity", "LOW")).lower(),
                   confidence=str(props.get("issue_confidence", "LOW")).lower(),
                   file=_relative(str(loc.get("artifactLocation", {}).get("uri", "?"))),
                   line=int(loc.get("region", {}).get("startLine", 0)),
                   message=str(result.get("message", {}).get("text", "")))


def _relative(uri: str) -> str:
    """A SARIF artifact URI as a path relative to the working folder when it is under it."""
    return shown_path(Path(uri.removeprefix("file://")))


def service_reachable(url: str = AUDIT_SERVICE, timeout: float = 5.0) -> str | None:
    """None when ``url`` answers, else why not (honours HTTPS_PROXY like pip-audit does)."""
    request = urllib.request.Request(url, method="HEAD")  # noqa: S310 - a fixed https URL
    try:
        with urllib.request.urlopen(request, timeout=timeout):  # nosec B310: fixed https URL
            return None
    except Exception as exc:  # DNS, refused, proxy, TLS: all mean "cannot ask the service"
        return f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"


def run_pip_audit(timeout_s: float) -> Audit:
    """pip-audit of this environment against PyPI's vulnerability data, or ``offline``."""
    _need("pip_audit", "pip-audit")
    why = service_reachable()
    if why is not None:
        return Audit(offline=True, reason=f"{AUDIT_SERVICE} unreachable ({why})")
    cmd = [sys.executable, "-m", "pip_audit", "--format", "json", "--progress-spinner", "off", "--skip-editable"]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s,  # nosec B603
                              check=False, env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    except subprocess.TimeoutExpired:
        return Audit(offline=True, reason=f"pip-audit did not finish within {timeout_s:.0f} s")
    try:
        doc = json.loads(done.stdout)
    except ValueError:
        return Audit(offline=True, reason=f"pip-audit failed: {(done.stderr or done.stdout).strip()[-300:]}")
    deps = doc.get("dependencies", [])
    vulnerable = [{"name": d["name"], "version": d.get("version"),
                   "vulns": [{"id": v.get("id"), "fix_versions": v.get("fix_versions", [])} for v in d["vulns"]]}
                  for d in deps if d.get("vulns")]
    return Audit(vulnerable=vulnerable, packages=len(deps))


def run_sbom(out: Path, pyproject: Path | None) -> dict[str, Any]:
    """A CycloneDX JSON SBOM of this Python environment, written to ``out`` and returned."""
    _need("cyclonedx_py", "cyclonedx-bom")
    out.parent.mkdir(parents=True, exist_ok=True)
    # schema validation costs ~20 s of CPU; completeness is checked by ``missing_from_sbom`` instead
    cmd = [sys.executable, "-m", "cyclonedx_py", "environment", sys.executable, "--of", "JSON",
           "-o", str(out), "--no-validate"]
    if pyproject is not None:
        cmd += ["--pyproject", str(pyproject)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)  # nosec B603: fixed argv
    if done.returncode != 0 or not out.exists():
        raise UsageError(f"cyclonedx-py could not write the SBOM: {done.stderr.strip()[-500:]}")
    return json.loads(out.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def direct_dependencies(dist: str = "mlgate") -> list[str]:
    """Names of ``dist``'s runtime requirements that apply here (no extras)."""
    from importlib.metadata import PackageNotFoundError, requires

    from packaging.requirements import Requirement

    try:
        reqs = [Requirement(r) for r in requires(dist) or []]
    except PackageNotFoundError:
        return []
    return [r.name for r in reqs if r.marker is None or r.marker.evaluate({"extra": ""})]


def missing_from_sbom(sbom: dict[str, Any], names: list[str]) -> list[str]:
    """The names that have no component with a version in the SBOM."""
    have = {_norm(c.get("name", "")) for c in sbom.get("components", []) if c.get("version")}
    return [n for n in names if _norm(n) not in have]


def _norm(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def _need(module: str, package: str) -> None:
    if find_spec(module) is None:
        raise MissingDependency(package, "security", "`mlgate scan`")
