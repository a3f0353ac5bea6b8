"""`mlgate smoke` against a real server: the suite passes, writes reports, exits 1 on failure."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "unit" / "serve"))

from support import shared_model  # noqa: E402

from mlgate.serve.process import ServerProcess, free_port  # noqa: E402
from mlgate.smoke import SMOKE_CHECKS, run_smoke  # noqa: E402

pytestmark = pytest.mark.integration
KEYS = ["smoke-a", "smoke-b", "smoke-docs"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    model = shared_model(tmp_path_factory.getbasetemp())
    with ServerProcess(str(model), api_keys=KEYS,
                       extra_args=["--model-version", "2", "--no-prediction-log"]) as srv:
        yield srv


def test_run_smoke_passes_every_check(server) -> None:  # type: ignore[no-untyped-def]
    report = run_smoke(server.url, api_key=KEYS[0], expect_version="2", n_requests=30)
    assert [c.name for c in report.checks] == list(SMOKE_CHECKS)
    assert report.passed, [c.message for c in report.failures]
    assert report.metrics["requests"] == 30 and report.metrics["latency_p95_ms"] > 0
    assert report.extras["model_version"] == "2"


def test_cli_smoke_writes_reports_and_exits_1_on_a_version_mismatch(server, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                                   mlgate_bin: list[str]) -> None:
    out = tmp_path / "smoke"
    result = subprocess.run([*mlgate_bin, "smoke", "--url", server.url, "--api-key", KEYS[1],
                             "--expect-version", "3", "--requests", "10", "--output", str(out)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "model_version" in result.stdout
    body = json.loads((out / "report.json").read_text())
    assert body["stage"] == "smoke" and body["passed"] is False
    failed = [c["name"] for c in body["checks"] if not c["passed"]]
    assert failed == ["model_version"]
    assert (out / "junit.xml").read_text().count("<testcase") == len(SMOKE_CHECKS)


def test_cli_smoke_against_nothing_exits_1(tmp_path: Path, mlgate_bin: list[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = subprocess.run([*mlgate_bin, "smoke", "--url", url, "--output", str(tmp_path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "cannot reach" in result.stdout


def test_docs_example_runs(server) -> None:  # type: ignore[no-untyped-def]
    text = (Path(__file__).parents[2] / "docs" / "smoke.md").read_text()
    code = text.split("```python\n", 1)[1].split("```", 1)[0]
    exec(compile(code, "docs/smoke.md", "exec"), {"url": server.url, "key": KEYS[2], "version": "2"})
