"""Model files that would run code are refused by every command, and no payload ever runs.

Each test first proves its payload fires when loaded the unchecked way (the control), then
runs the real console script (or pytest with the plugin) on it and asserts exit 2, a message
naming the file and the refused global, and that the marker file was never created. The last
tests pin and sign registered versions on a real SQLite store and serve one on a real port.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import joblib
import pytest

from _support.lifecycle import churn, fit, project, save

pytestmark = pytest.mark.integration


def _payloads() -> ModuleType:
    path = Path(__file__).resolve().parents[1] / "unit" / "security" / "payloads.py"
    spec = importlib.util.spec_from_file_location("security_payloads", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


payloads = _payloads()


@pytest.fixture(scope="module")
def frame() -> Any:
    return churn(600)


@pytest.fixture
def proj(tmp_path: Path, frame: Any, mlflow_template: Path) -> Path:
    (tmp_path / ".mlgate").mkdir()
    shutil.copy(mlflow_template, tmp_path / ".mlgate" / "mlflow.db")
    project(tmp_path, frame, gates={"evaluate": {"bootstrap": 0}, "compare": {"bootstrap": 200}})
    return tmp_path


def _evil(kind: str, folder: Path, **kwargs: Any) -> tuple[Path, Path]:
    """The payload file and its marker, after the control showed the payload really fires."""
    marker = folder / f"{kind}.marker"
    control = payloads.PAYLOADS[kind](folder / f"control-{kind}.joblib", marker, **kwargs)
    payloads.fire(control)
    assert marker.exists(), f"control: the {kind} payload must run when loaded unchecked"
    marker.unlink()
    control.unlink()
    return payloads.PAYLOADS[kind](folder / f"evil-{kind}.joblib", marker, **kwargs), marker


def _run(cmd: list[str], cwd: Path, timeout: float = 240, env: dict[str, str] | None = None,
         ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})}, check=False)


def _refused(done: subprocess.CompletedProcess[str], file: Path, marker: Path, global_name: str) -> None:
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    err = " ".join(done.stderr.split())  # rich wraps long lines
    assert file.name in err and "was refused" in err and global_name in err, err
    assert "Traceback" not in done.stderr
    assert not marker.exists()


def test_scan_refuses_every_payload(tmp_path: Path, mlgate_bin: list[str]) -> None:
    models = tmp_path / "models"
    models.mkdir()
    markers = [_evil(kind, models)[1] for kind in sorted(payloads.PAYLOADS)]
    done = _run([*mlgate_bin, "scan", "--models", str(models), "--no-audit", "--no-sbom", "-o", "out"], tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    text = " ".join(done.stdout.split())
    for kind in payloads.PAYLOADS:
        assert f"evil-{kind}.joblib was refused" in text, kind
    assert not any(m.exists() for m in markers)
    for name in ("report.json", "junit.xml", "summary.md", "report.html"):
        assert (tmp_path / "out" / name).exists()


def test_test_command_refuses_os_system(proj: Path, mlgate_bin: list[str]) -> None:
    evil, marker = _evil("os_system", proj)
    done = _run([*mlgate_bin, "test", "--model", str(evil), "--data", "data/test.csv", "--target", "target"], proj)
    _refused(done, evil, marker, "posix.system")


def test_evaluate_refuses_exec(proj: Path, mlgate_bin: list[str]) -> None:
    evil, marker = _evil("exec", proj)
    done = _run([*mlgate_bin, "evaluate", "--model", str(evil)], proj)
    _refused(done, evil, marker, "builtins.exec")


def test_compare_refuses_a_payload_next_to_a_real_model(proj: Path, frame: Any, mlgate_bin: list[str]) -> None:
    good = fit(frame, rows=slice(0, 300))
    save(good, proj / "candidate", frame)
    evil, marker = _evil("nested_dict", proj, model=good)
    done = _run([*mlgate_bin, "compare", "--model", "candidate", "--baseline", str(evil)], proj)
    _refused(done, evil, marker, "posix.system")


def test_register_refuses_read_pickle_bypass_and_a_folder_with_a_payload(proj: Path, frame: Any,
                                                                          mlgate_bin: list[str]) -> None:
    evil, marker = _evil("read_pickle", proj)
    done = _run([*mlgate_bin, "register", "--model", str(evil)], proj)
    _refused(done, evil, marker, "read_pickle")  # pandas.read_pickle, or pandas.io.pickle.read_pickle (pandas 2.1)
    # an MLflow folder whose cloudpickle model file is the payload: registered before, refused now
    folder = proj / "mlflow-model"
    folder.mkdir()
    (folder / "MLmodel").write_text("flavors:\n  sklearn:\n    pickled_model: model.pkl\n"
                                    "    serialization_format: cloudpickle\n")
    shutil.copy(_evil("os_system", proj)[0], folder / "model.pkl")
    done = _run([*mlgate_bin, "register", "--model", str(folder)], proj)
    _refused(done, folder / "model.pkl", marker, "posix.system")
    assert "registered" not in done.stdout


def test_serve_refuses_savetxt_bypass_before_starting(proj: Path, mlgate_bin: list[str]) -> None:
    evil, marker = _evil("savetxt", proj)
    done = _run([*mlgate_bin, "serve", "--model", str(evil), "--port", "0", "--no-prediction-log"], proj, timeout=120)
    _refused(done, evil, marker, "numpy.savetxt")


def test_pytest_plugin_refuses_object_array_payload(proj: Path) -> None:
    evil, marker = _evil("object_array", proj)
    done = _run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--mlgate-model", str(evil),
                 "--mlgate-data", "data/test.csv", "--mlgate-target", "target", "--mlgate-checks", "performance"],
                proj)
    assert done.returncode == 1, done.stdout + done.stderr
    text = " ".join(done.stdout.split())
    assert "evil-object_array.joblib was refused" in text and "posix.system" in text
    assert not marker.exists()


def test_desync_payload_is_refused_by_test_register_and_serve(proj: Path, frame: Any, mlgate_bin: list[str]) -> None:
    """The file of issue 21 (a byte wrapper hiding a call inside a nested stream, then a real model)."""
    evil, marker = _evil("desync", proj, model=fit(frame, rows=slice(0, 300)))
    for cmd in (["test", "--model", str(evil), "--data", "data/test.csv", "--target", "target"],
                ["register", "--model", str(evil)],
                ["serve", "--model", str(evil), "--port", "0", "--no-prediction-log"]):
        _refused(_run([*mlgate_bin, *cmd], proj, timeout=120), evil, marker, "NumpyArrayWrapper")


@pytest.mark.skipif(find_spec("model_signing") is None, reason="model-signing not installed (lower-bounds job)")
def test_pytest_plugin_reads_mlgate_yaml_and_refuses_an_unsigned_model(proj: Path, frame: Any) -> None:
    from mlgate.security.signing import create_key_pair

    create_key_pair(proj / "keys/mine.pem", proj / "keys/mine.pub.pem")
    _with_keys(proj, None, proj / "keys/mine.pub.pem")  # security.public_key in ./mlgate.yaml, no flag
    joblib.dump(fit(frame, rows=slice(0, 300)), proj / "unsigned.joblib")
    done = _run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--mlgate-model", "unsigned.joblib",
                 "--mlgate-data", "data/test.csv", "--mlgate-target", "target", "--mlgate-checks", "performance"],
                proj)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "is not signed" in " ".join(done.stdout.split()), done.stdout


# ---- pinned hashes and signatures on a real registry ---------------------------------------


def _registered_file(proj: Path, version: str) -> Path:
    """The serialized model file inside the version's artifact folder in the store."""
    from urllib.parse import unquote, urlparse

    from mlflow.tracking import MlflowClient

    from mlgate.security.folders import model_file

    client = MlflowClient(f"sqlite:///{proj / '.mlgate' / 'mlflow.db'}")
    run = client.get_run(client.get_model_version("churn", version).run_id)
    folder = Path(unquote(urlparse(run.info.artifact_uri).path)) / "model"
    return model_file(folder).path


def _register(proj: Path, model: Path, alias: str = "staging") -> str:
    """Register in-process (the register command itself is tested above); the version number."""
    from mlgate.config import load_config
    from mlgate.context import standalone_context
    from mlgate.registration import run_register

    ctx = standalone_context("register", load_config(proj / "mlgate.yaml"), model=str(model),
                             settings={"registry.alias": alias})
    report = run_register(ctx)
    return str(report.metrics["version"])


def test_one_byte_change_is_refused_by_serve_and_test(proj: Path, frame: Any, mlgate_bin: list[str]) -> None:
    from mlgate.config import load_config
    from mlgate.models import load_model

    joblib.dump(fit(frame, rows=slice(0, 300)), proj / "good.joblib")
    version = _register(proj, proj / "good.joblib")
    assert load_model("models:/churn@staging", load_config(proj / "mlgate.yaml")).version == version
    stored = _registered_file(proj, version)
    data = bytearray(stored.read_bytes())
    data[len(data) // 2] ^= 0x01
    stored.write_bytes(bytes(data))
    for cmd in (["test", "--model", "models:/churn@staging", "--data", "data/test.csv"],
                ["serve", "--model", f"models:/churn/{version}", "--port", "0", "--no-prediction-log"]):
        done = _run([*mlgate_bin, *cmd], proj, timeout=120)
        err = " ".join(done.stderr.split())
        assert done.returncode == 2, (cmd, done.stdout, done.stderr)
        assert "expected sha256" in err and "actual" in err and "pinned at registration" in err, err


def test_a_replaced_artifact_is_refused_through_every_uri_form(proj: Path, frame: Any,
                                                                mlgate_bin: list[str]) -> None:
    """latest, a stage name and the run's own runs:/ URI resolve to the version and check its pin."""
    from mlflow.tracking import MlflowClient

    from mlgate.config import load_config
    from mlgate.models import load_model
    from mlgate.security.loader import ModelRefused
    from mlgate.tracking import setup_mlflow

    config = load_config(proj / "mlgate.yaml")
    joblib.dump(fit(frame, rows=slice(0, 300)), proj / "good.joblib")
    version = _register(proj, proj / "good.joblib")
    setup_mlflow(config)
    client = MlflowClient()
    run_id = client.get_model_version("churn", version).run_id
    uris = ["models:/churn/latest", f"runs:/{run_id}/model"]
    with contextlib.suppress(Exception):  # stages are deprecated; test them where MLflow still has them
        client.transition_model_version_stage("churn", version, "Production")
        uris.append("models:/churn/Production")
    for uri in uris:
        assert load_model(uri, config).version == version, uri
    stored = _registered_file(proj, version)
    data = bytearray(stored.read_bytes())
    data[len(data) // 2] ^= 0x01
    stored.write_bytes(bytes(data))
    for uri in uris:
        with pytest.raises(ModelRefused, match="pinned at registration"):
            load_model(uri, config)
    done = _run([*mlgate_bin, "serve", "--model", "models:/churn/latest", "--port", "0", "--no-prediction-log"],
                proj, timeout=120)
    assert done.returncode == 2 and "pinned at registration" in " ".join(done.stderr.split()), done.stderr


def test_a_version_without_a_recorded_hash_is_served_only_with_trust(proj: Path, frame: Any) -> None:
    from mlflow.tracking import MlflowClient

    from mlgate.config import load_config
    from mlgate.models import load_model
    from mlgate.security.folders import PIN_TAG
    from mlgate.security.loader import ModelRefused
    from mlgate.serve.loading import resolve_model
    from mlgate.tracking import setup_mlflow

    config = load_config(proj / "mlgate.yaml")
    joblib.dump(fit(frame, rows=slice(0, 300)), proj / "good.joblib")
    version = _register(proj, proj / "good.joblib")
    setup_mlflow(config)
    MlflowClient().delete_model_version_tag("churn", version, PIN_TAG)
    with pytest.raises(ModelRefused, match="no recorded hash"):
        resolve_model("models:/churn/latest", config)
    assert resolve_model("models:/churn/latest", config, trust=True).version == version
    assert load_model("models:/churn/latest", config).version == version  # elsewhere: a warning


def test_register_and_render_refuse_a_link_out_of_the_model_folder(proj: Path, frame: Any,
                                                                    mlgate_bin: list[str]) -> None:
    secret = proj.parent / f"{proj.name}-credentials"
    secret.write_text("[default]\naws_secret_access_key = not-for-the-registry\n")
    save(fit(frame, rows=slice(0, 300)), proj / "linked", frame)
    (proj / "linked" / "notes.txt").symlink_to(secret)
    done = _run([*mlgate_bin, "register", "--model", "linked"], proj)
    err = " ".join(done.stderr.split())
    assert done.returncode == 2 and "notes.txt is a symbolic link" in err and "outside the model folder" in err, err
    assert "registered" not in done.stdout
    from mlgate.config import load_config
    from mlgate.deploy.kubernetes import render
    from mlgate.security.loader import ModelRefused

    with pytest.raises(ModelRefused, match="notes.txt is a symbolic link"):
        render(load_config(proj / "mlgate.yaml"), proj / "k8s", model_uri=str(proj / "linked"))
    assert not (proj / "k8s" / "model" / "notes.txt").exists()


def _with_keys(proj: Path, signing: Path | None, public: Path | None) -> None:
    import yaml

    raw = yaml.safe_load((proj / "mlgate.yaml").read_text())
    raw["security"] = {k: str(v) for k, v in (("signing_key", signing), ("public_key", public)) if v}
    (proj / "mlgate.yaml").write_text(yaml.safe_dump(raw))


@pytest.mark.skipif(find_spec("model_signing") is None, reason="model-signing not installed (lower-bounds job)")
def test_signed_model_round_trips_and_another_key_is_refused(proj: Path, frame: Any, mlgate_bin: list[str]) -> None:
    from mlgate.config import load_config
    from mlgate.models import load_model
    from mlgate.security.loader import ModelRefused
    from mlgate.security.signing import create_key_pair
    from mlgate.serve.process import ServerProcess

    done = _run([*mlgate_bin, "keys", "signing", "--private-key", "keys/mine.pem",
                 "--public-key", "keys/mine.pub.pem"], proj)
    assert done.returncode == 0 and (proj / "keys/mine.pem").exists(), done.stderr
    create_key_pair(proj / "keys/other.pem", proj / "keys/other.pub.pem")
    joblib.dump(fit(frame, rows=slice(0, 300)), proj / "good.joblib")
    _register(proj, proj / "good.joblib", alias="unsigned")
    _with_keys(proj, proj / "keys/mine.pem", None)
    _register(proj, proj / "good.joblib")
    _with_keys(proj, None, proj / "keys/mine.pub.pem")
    # `mlgate test` loads through this same call (its refusals run as a console script above)
    signed = load_model("models:/churn@staging", load_config(proj / "mlgate.yaml"))
    assert set(signed.estimator.predict(frame[signed.features].head(20))) <= {0, 1}
    with ServerProcess("models:/churn@staging", config_path=proj / "mlgate.yaml",
                       extra_args=["--no-prediction-log"]) as srv:
        assert httpx.get(f"{srv.url}/ready", timeout=10).status_code == 200
    with pytest.raises(ModelRefused, match="is not signed"):
        load_model("models:/churn@unsigned", load_config(proj / "mlgate.yaml"))
    _with_keys(proj, None, proj / "keys/other.pub.pem")
    with pytest.raises(ModelRefused, match="signed with another key"):
        load_model("models:/churn@staging", load_config(proj / "mlgate.yaml"))
    done = _run([*mlgate_bin, "serve", "--model", "models:/churn@staging", "--port", "0", "--no-prediction-log"],
                proj, timeout=120)
    assert done.returncode == 2 and "signed with another key" in " ".join(done.stderr.split()), done.stderr
