# ruff: noqa: UP006, UP035, I001, F401, B007  (the seed class below is kept verbatim)
"""The deployment test suites against a real `mlgate serve` of a registry model.

The server serves ``models:/churn@staging`` (registry version "1") from a real SQLite MLflow
store with API keys configured. First the seed's ModelDeploymentTest, copied verbatim at the
end of this file and run unchanged: its prediction test sends no key (and five values), so
it is expected to fail; health, model version, rate limiting, authentication and monitoring
must pass. Then mlgate's own suite, `run_smoke` and `mlgate smoke`, on other keys.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Dict  # noqa: UP035  (the seed's own imports)

import pytest

from _support.serve import shared_model

from mlgate.serve.process import ServerProcess, free_port  # noqa: E402
from mlgate.smoke import SMOKE_CHECKS, run_smoke  # noqa: E402

pytestmark = pytest.mark.integration
KEY = "seed-test-key"
SMOKE_KEYS = ["smoke-a", "smoke-b", "smoke-docs", "smoke-env"]


def register(folder: Path, store: Path) -> str:
    """Register the model folder as churn version 1 with alias staging; return the tracking URI."""
    import mlflow
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{store / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)  # an earlier test in this process may have set another one
    experiment = mlflow.create_experiment("serve-test", artifact_location=(store / "artifacts").as_uri())
    with mlflow.start_run(experiment_id=experiment) as run:
        mlflow.log_artifacts(str(folder), "model")
    client = MlflowClient(uri, registry_uri=uri)
    client.create_registered_model("churn")
    version = client.create_model_version("churn", f"runs:/{run.info.run_id}/model", run.info.run_id)
    # the pin `mlgate register` records: serve refuses a registry model without one
    from mlgate.security.folders import PIN_TAG, model_file
    from mlgate.security.loader import sha256_of

    client.set_model_version_tag("churn", version.version, PIN_TAG, sha256_of(model_file(folder).path.read_bytes()))
    client.set_registered_model_alias("churn", "staging", version.version)
    return uri


@pytest.fixture(scope="module")
def registry_server(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("seed")
    uri = register(shared_model(tmp_path_factory.getbasetemp()), tmp)
    env = {"MLFLOW_TRACKING_URI": uri}
    with ServerProcess("models:/churn@staging", api_keys=[KEY, *SMOKE_KEYS], env=env,
                       extra_args=["--prediction-log", str(tmp / "predictions")]) as server:
        yield server


def test_seed_deployment_tests_pass_against_mlgate_serve(registry_server) -> None:  # type: ignore[no-untyped-def]
    suite = ModelDeploymentTest(api_url=registry_server.url, model_version="1")
    results = suite.run_deployment_tests()["tests"]
    assert results["test_api_health"]["passed"], results
    assert results["test_model_version"]["passed"], results
    assert results["test_rate_limiting"]["passed"], results
    assert results["test_rate_limiting"]["rate_limited_count"] > 0
    assert results["test_monitoring_integration"]["passed"], results
    assert results["test_monitoring_integration"]["has_predictions_total"]
    assert results["test_monitoring_integration"]["has_prediction_latency"]
    # The seed's predict test sends no key: with a key configured it must be refused.
    assert results["test_prediction_endpoint"]["status_code"] == 401
    # Right after its 110-request burst the bucket is empty (429); the bucket refills
    # continuously, so a rerun a moment later answers 401, never 429 forever.
    time.sleep(1.0)
    auth = suite.test_authentication()
    assert auth == {"passed": True, "status_code": 401, "authentication_required": True}


def test_registry_version_and_model_info(registry_server) -> None:  # type: ignore[no-untyped-def]
    import httpx

    info = httpx.get(f"{registry_server.url}/model-info").json()
    assert info["version"] == "1" and info["source"] == "models:/churn@staging"
    assert info["name"] == "churn" and info["git_commit"] == "0123abc"
    assert info["trained_at"] and info["metrics"] and info["model_type"]
    body = httpx.post(f"{registry_server.url}/predict", json={"features": info["input_example"]},
                      headers={"X-API-Key": KEY}).json()
    assert body["model_version"] == "1"




def test_run_smoke_passes_every_check(registry_server) -> None:  # type: ignore[no-untyped-def]
    report = run_smoke(registry_server.url, api_key=SMOKE_KEYS[0], expect_version="1", n_requests=30)
    assert [c.name for c in report.checks] == list(SMOKE_CHECKS)
    assert report.passed, [c.message for c in report.failures]
    assert report.metrics["requests"] == 30 and report.metrics["latency_p95_ms"] > 0
    assert report.extras["model_version"] == "1"


def test_cli_smoke_writes_reports_and_exits_1_on_a_version_mismatch(registry_server, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                                   mlgate_bin: list[str]) -> None:
    out = tmp_path / "smoke"
    result = subprocess.run([*mlgate_bin, "smoke", "--url", registry_server.url, "--api-key", SMOKE_KEYS[1],
                             "--expect-version", "3", "--requests", "10", "--output", str(out)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "model_version" in result.stdout
    body = json.loads((out / "report.json").read_text())
    assert body["stage"] == "smoke" and body["passed"] is False
    failed = [c["name"] for c in body["checks"] if not c["passed"]]
    assert failed == ["model_version"]
    assert (out / "junit.xml").read_text().count("<testcase") == len(SMOKE_CHECKS)


def test_cli_smoke_takes_the_api_key_from_mlgate_api_key(registry_server, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                        mlgate_bin: list[str]) -> None:
    import os

    args = [*mlgate_bin, "smoke", "--url", registry_server.url, "--expect-version", "1", "--requests", "10"]
    env = {k: v for k, v in os.environ.items() if k != "MLGATE_API_KEY"}
    keyed = subprocess.run([*args, "--output", str(tmp_path / "a")], capture_output=True, text=True, timeout=120,
                           env={**env, "MLGATE_API_KEY": SMOKE_KEYS[3]})
    assert keyed.returncode == 0, keyed.stdout + keyed.stderr
    bare = subprocess.run([*args, "--output", str(tmp_path / "b")], capture_output=True, text=True, timeout=120,
                          env=env)
    assert bare.returncode == 1
    assert "(pass --api-key or set MLGATE_API_KEY)" in bare.stdout, bare.stdout


def test_cli_smoke_against_nothing_exits_1(tmp_path: Path, mlgate_bin: list[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = subprocess.run([*mlgate_bin, "smoke", "--url", url, "--output", str(tmp_path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "cannot reach" in result.stdout


def test_docs_example_runs(registry_server) -> None:  # type: ignore[no-untyped-def]
    text = (Path(__file__).parents[2] / "docs" / "smoke.md").read_text()
    code = text.split("```python\n", 1)[1].split("```", 1)[0]
    exec(compile(code, "docs/smoke.md", "exec"), {"url": registry_server.url, "key": SMOKE_KEYS[2],
                                                   "version": "1"})


# ---- copied verbatim from seed/cicd-for-ml.md ----------------------------------------
class ModelDeploymentTest:
    """Integration tests for model deployment"""

    def __init__(self, api_url: str, model_version: str):
        self.api_url = api_url
        self.model_version = model_version
        self.test_results = {}

    def run_deployment_tests(self) -> Dict[str, Any]:
        """Run all deployment tests"""
        tests = [
            self.test_api_health,
            self.test_prediction_endpoint,
            self.test_model_version,
            self.test_rate_limiting,
            self.test_authentication,
            self.test_monitoring_integration
        ]

        results = {
            'timestamp': datetime.now().isoformat(),
            'api_url': self.api_url,
            'model_version': self.model_version,
            'tests': {}
        }

        for test in tests:
            test_name = test.__name__
            try:
                result = test()
                results['tests'][test_name] = result
            except Exception as e:
                results['tests'][test_name] = {
                    'passed': False,
                    'error': str(e)
                }

        return results

    def test_api_health(self) -> Dict[str, Any]:
        """Test API health endpoint"""
        import requests

        try:
            response = requests.get(f"{self.api_url}/health", timeout=5)
            return {
                'passed': response.status_code == 200,
                'status_code': response.status_code,
                'response_time': response.elapsed.total_seconds()
            }
        except Exception as e:
            return {
                'passed': False,
                'error': str(e)
            }

    def test_prediction_endpoint(self) -> Dict[str, Any]:
        """Test prediction endpoint"""
        import requests
        import json

        # Test data
        test_input = {
            "features": [0.5, 0.3, 0.8, 0.1, 0.9]
        }

        try:
            response = requests.post(
                f"{self.api_url}/predict",
                json=test_input,
                timeout=10
            )

            if response.status_code == 200:
                result = response.json()
                return {
                    'passed': True,
                    'status_code': response.status_code,
                    'response_time': response.elapsed.total_seconds(),
                    'has_prediction': 'prediction' in result,
                    'has_probability': 'probability' in result
                }
            else:
                return {
                    'passed': False,
                    'status_code': response.status_code,
                    'error': response.text
                }
        except Exception as e:
            return {
                'passed': False,
                'error': str(e)
            }

    def test_model_version(self) -> Dict[str, Any]:
        """Test model version endpoint"""
        import requests

        try:
            response = requests.get(f"{self.api_url}/model-info", timeout=5)

            if response.status_code == 200:
                info = response.json()
                return {
                    'passed': info.get('version') == self.model_version,
                    'model_version': info.get('version'),
                    'expected_version': self.model_version
                }
            else:
                return {
                    'passed': False,
                    'status_code': response.status_code
                }
        except Exception as e:
            return {
                'passed': False,
                'error': str(e)
            }

    def test_rate_limiting(self) -> Dict[str, Any]:
        """Test rate limiting"""
        import requests
        import time

        requests_sent = 0
        rate_limited = 0

        start_time = time.time()
        for i in range(110):  # Send more than rate limit
            try:
                response = requests.post(
                    f"{self.api_url}/predict",
                    json={"features": [0.5, 0.3, 0.8, 0.1, 0.9]},
                    timeout=5
                )
                requests_sent += 1

                if response.status_code == 429:
                    rate_limited += 1

            except Exception:
                pass

        elapsed_time = time.time() - start_time

        return {
            'passed': rate_limited > 0,
            'requests_sent': requests_sent,
            'rate_limited_count': rate_limited,
            'elapsed_time': elapsed_time
        }

    def test_authentication(self) -> Dict[str, Any]:
        """Test authentication requirements"""
        import requests

        # Test without authentication
        try:
            response = requests.post(
                f"{self.api_url}/predict",
                json={"features": [0.5, 0.3, 0.8, 0.1, 0.9]},
                timeout=5
            )

            # Should be unauthorized (401) or forbidden (403)
            auth_required = response.status_code in [401, 403]

            return {
                'passed': auth_required,
                'status_code': response.status_code,
                'authentication_required': auth_required
            }
        except Exception as e:
            return {
                'passed': False,
                'error': str(e)
            }

    def test_monitoring_integration(self) -> Dict[str, Any]:
        """Test monitoring and metrics integration"""
        import requests

        # Test metrics endpoint
        try:
            response = requests.get(f"{self.api_url}/metrics", timeout=5)

            if response.status_code == 200:
                metrics = response.text
                return {
                    'passed': True,
                    'has_predictions_total': 'ml_predictions_total' in metrics,
                    'has_prediction_latency': 'ml_prediction_latency' in metrics
                }
            else:
                return {
                    'passed': False,
                    'status_code': response.status_code
                }
        except Exception as e:
            return {
                'passed': False,
                'error': str(e)
            }
