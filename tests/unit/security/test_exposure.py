"""What a server, a scan and a loader give away or read: /model-info without a key, the
prediction log's mode, loopback, MLmodel-named files, and links out of a model folder."""

from __future__ import annotations

import asyncio
import json
import shutil
import stat
from pathlib import Path
from typing import Any

import httpx
import joblib
import pytest
from payloads import os_system

from mlgate.security.allowlist import TrustPolicy
from mlgate.security.folders import inside_links_only, load_folder
from mlgate.security.loader import ModelRefused
from mlgate.security.scan import ScanRequest, run_scan
from mlgate.serve.app import create_app
from mlgate.serve.auth import hash_key
from mlgate.serve.jsonlog import JsonLineWriter
from mlgate.serve.settings import ServeSettings, is_loopback

KEY = "exposure-key"


def _get(app: Any, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            return await client.get(path, headers=headers)
    return asyncio.run(go())


def _app(served: Any, folder: Path, keys: list[str]) -> Any:
    settings = ServeSettings(model_path=str(folder), model_source=str(folder), model_version="3",
                             key_hashes=[hash_key(k) for k in keys], access_log=False)
    return create_app(settings, served)


def test_model_info_without_a_key_has_no_path_and_no_training_row(served: Any, lr_model_dir: Path) -> None:
    training_row = served.example
    assert training_row and any(v not in (0, 0.0, "", False) for v in training_row.values())
    for keys, headers in (([KEY], None), ([KEY], {"X-API-Key": "wrong"}), ([], None)):
        info = _get(_app(served, lr_model_dir, keys), "/model-info", headers).json()
        assert "source" not in info and str(lr_model_dir) not in json.dumps(info)
        assert set(info["input_example"]) == set(served.schema.names)
        assert info["input_example"] != training_row
        assert set(info["input_example"].values()) <= {0, ""}
    keyed = _get(_app(served, lr_model_dir, [KEY]), "/model-info", {"Authorization": f"Bearer {KEY}"}).json()
    assert keyed["source"] == str(lr_model_dir) and keyed["input_example"] == training_row


@pytest.mark.parametrize(("host", "loopback"), [("127.0.0.1", True), ("127.255.0.9", True), ("::1", True),
                                                ("127.evil.example", False), ("127.", False), ("localhost", False),
                                                ("128.0.0.1", False), ("::ffff:10.0.0.1", False)])
def test_loopback_is_an_ip_address_in_127_8_or_ipv6_one(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_prediction_log_is_created_and_rotated_owner_only(tmp_path: Path) -> None:
    writer = JsonLineWriter(folder=tmp_path, max_bytes=200, backups=2)
    for i in range(20):
        writer.put({"i": i, "features": {"income": 1234.5}})
    writer.close()
    files = sorted(tmp_path.glob("predictions.*.jsonl*"))
    assert len(files) >= 2
    for file in files:
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, file


def _folder_with_link(tmp_path: Path, lr_model_dir: Path) -> tuple[Path, Path]:
    folder = tmp_path / "model"
    shutil.copytree(lr_model_dir, folder)
    secret = tmp_path / "credentials"
    secret.write_text("aws_secret_access_key = nope\n")
    (folder / "notes.txt").symlink_to(secret)
    return folder, secret


def test_a_link_out_of_the_folder_is_refused_by_load_and_scan(tmp_path: Path, lr_model_dir: Path) -> None:
    folder, _secret = _folder_with_link(tmp_path, lr_model_dir)
    with pytest.raises(ModelRefused, match=r"notes\.txt is a symbolic link to .*credentials, outside the model"):
        load_folder(folder, TrustPolicy())
    report = run_scan(ScanRequest(models=[tmp_path], audit=False, sbom=False), tmp_path / "out", TrustPolicy())
    assert not report.passed
    assert any("notes.txt is a symbolic link" in c.message for c in report.checks if not c.passed)
    (folder / "notes.txt").unlink()
    (folder / "inner.txt").symlink_to(folder / "MLmodel")  # a link inside the folder is fine
    assert inside_links_only(folder) == folder
    assert load_folder(folder, TrustPolicy()) is not None


def test_scan_reads_mlmodel_for_the_file_a_loader_opens(tmp_path: Path) -> None:
    """``pickled_model: model.bin`` is scanned (and read as MLflow's pickle.load reads it)."""
    folder = tmp_path / "models" / "m"
    folder.mkdir(parents=True)
    (folder / "MLmodel").write_text("flavors:\n  sklearn:\n    pickled_model: model.bin\n"
                                    "    serialization_format: cloudpickle\n")
    marker = tmp_path / "marker"
    os_system(folder / "model.bin", marker)
    report = run_scan(ScanRequest(models=[tmp_path / "models"], audit=False, sbom=False), tmp_path / "out",
                      TrustPolicy())
    (check,) = [c for c in report.checks if c.name == "model_file"]
    assert check.column == str(folder / "model.bin") and not check.passed
    assert "model.bin was refused" in check.message and "posix.system" in check.message
    assert check.details["format"] == "pickle" and not marker.exists()
    # an MLmodel a loader refuses (no sklearn flavor) fails the scan as well
    (folder / "MLmodel").write_text("flavors:\n  python_function:\n    loader_module: evil\n")
    report = run_scan(ScanRequest(models=[tmp_path / "models"], audit=False, sbom=False), tmp_path / "out",
                      TrustPolicy())
    assert not report.passed and any("has no sklearn flavor" in c.message for c in report.checks)


def test_a_good_mlflow_folder_scans_clean(tmp_path: Path, lr_model_dir: Path) -> None:
    shutil.copytree(lr_model_dir, tmp_path / "models" / "lr")
    joblib.dump({"not": "a model"}, tmp_path / "models" / "extra.joblib")
    report = run_scan(ScanRequest(models=[tmp_path / "models"], audit=False, sbom=False), tmp_path / "out",
                      TrustPolicy())
    checked = [c for c in report.checks if c.name == "model_file"]
    assert report.passed and len(checked) == 2 and all(c.passed for c in checked)
