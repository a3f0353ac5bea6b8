"""``mlgate scan``: bandit severities, model files without loading, offline audit, SBOM."""

from __future__ import annotations

import json
from pathlib import Path

import joblib
import pytest
from payloads import PAYLOADS

from mlgate.reports import write_report
from mlgate.security.allowlist import TrustPolicy
from mlgate.security.scan import SARIF_FILE, SBOM_FILE, ScanRequest, run_scan
from mlgate.security.tools import direct_dependencies

REPO = Path(__file__).resolve().parents[3]


def _checks(report: object, name: str) -> list[object]:
    return [c for c in report.checks if c.name == name]  # type: ignore[attr-defined]


def test_model_files_checked_without_loading(tmp_path: Path) -> None:
    from sklearn.linear_model import LogisticRegression

    models = tmp_path / "models"
    models.mkdir()
    joblib.dump(LogisticRegression().fit([[0.0], [1.0]], [0, 1]), models / "good.joblib")
    marker = tmp_path / "marker"
    for kind, build in PAYLOADS.items():
        build(models / f"{kind}.joblib", marker)
    report = run_scan(ScanRequest(models=[models], audit=False, sbom=False), tmp_path / "out", TrustPolicy())
    verdicts = {Path(str(c.column)).name: c.passed for c in _checks(report, "model_file")}
    assert verdicts.pop("good.joblib") is True
    # read_pickle's inner file is a plain pickle beside it: the scan finds and refuses it too
    assert verdicts and not any(verdicts.values()), verdicts
    assert {f"{k}.joblib" for k in PAYLOADS} <= set(verdicts)
    assert not report.passed and not marker.exists()


def test_picklescan_second_opinion_is_recorded(tmp_path: Path) -> None:
    PAYLOADS["os_system"](tmp_path / "evil.joblib", tmp_path / "marker")
    report = run_scan(ScanRequest(models=[tmp_path], audit=False, sbom=False), tmp_path / "out", TrustPolicy())
    (check,) = _checks(report, "model_file")
    assert "posix.system" in check.details["picklescan_dangerous"] or "os.system" in str(check.details)


def test_unreachable_audit_service_is_an_offline_warning_not_a_pass(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")  # nothing listens on the discard port
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    report = run_scan(ScanRequest(audit=True, sbom=False), tmp_path, TrustPolicy())
    (check,) = _checks(report, "dependency_audit")
    assert not check.passed and check.severity == "warning" and check.observed == "offline"
    assert "SKIPPED (offline)" in check.message and check.details["skipped"] is True
    write_report(report, tmp_path)
    junit = (tmp_path / "junit.xml").read_text()
    assert "offline" in junit and "offline" in (tmp_path / "summary.md").read_text()


def test_bandit_high_finding_fails_and_sarif_is_written(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "bad.py").write_text("import subprocess\n\n\ndef run(cmd):\n    return subprocess.call(cmd, shell=True)\n")
    report = run_scan(ScanRequest(src=[src], audit=False, sbom=False), tmp_path / "out", TrustPolicy())
    (high,) = _checks(report, "bandit_high")
    assert not high.passed and high.severity == "error" and "B602" in high.message
    sarif = json.loads((tmp_path / "out" / SARIF_FILE).read_text())
    assert sarif["version"] == "2.1.0" and sarif["runs"][0]["results"]
    medium_gate = run_scan(ScanRequest(src=[src], audit=False, sbom=False, fail_on="high"), tmp_path / "o2",
                           TrustPolicy())
    assert not medium_gate.passed


def test_own_source_has_no_high_severity_finding(tmp_path: Path) -> None:
    report = run_scan(ScanRequest(src=[REPO / "src"], audit=False, sbom=False), tmp_path, TrustPolicy())
    (high,) = _checks(report, "bandit_high")
    assert high.passed, high.message
    assert report.passed


def test_sbom_lists_direct_dependencies_with_versions(tmp_path: Path) -> None:
    from importlib.metadata import version

    report = run_scan(ScanRequest(audit=False, sbom=True, pyproject=REPO / "pyproject.toml"), tmp_path, TrustPolicy())
    (check,) = _checks(report, "sbom")
    assert check.passed, check.message
    doc = json.loads((tmp_path / SBOM_FILE).read_text())
    assert doc["bomFormat"] == "CycloneDX"
    components = {_norm(c["name"]): c.get("version") for c in doc["components"]}
    direct = direct_dependencies()
    assert len(direct) >= 15 and "scikit-learn" in direct and "mlflow" in direct
    for name in direct:
        assert components[_norm(name)] == version(name), name


def _norm(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")
