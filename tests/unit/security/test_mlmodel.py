"""One reader of MLmodel files (mlgate.security.folders): serve, register, models and the scan ask it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mlgate.errors import ModelLoadError
from mlgate.models import load_model
from mlgate.registry.store import model_sha256
from mlgate.security.folders import model_file, read_mlmodel, signature_inputs
from mlgate.security.loader import ModelRefused
from mlgate.serve.loading import load_estimator


def _copy(src: Path, dest: Path, mlmodel: str | None) -> Path:
    shutil.copytree(src, dest)
    if mlmodel is None:
        (dest / "MLmodel").unlink()
    else:
        (dest / "MLmodel").write_text(mlmodel, encoding="utf-8")
    return dest


def test_a_saved_model_reads_the_same_everywhere(lr_model_dir: Path) -> None:
    spec = read_mlmodel(lr_model_dir)
    found = model_file(lr_model_dir)
    assert found.path.name == spec["flavors"]["sklearn"]["pickled_model"]
    assert found.format == ("skops" if spec["flavors"]["sklearn"].get("serialization_format") == "skops" else "pickle")
    assert [c["name"] for c in signature_inputs(lr_model_dir)] == load_model(lr_model_dir).features
    import hashlib

    assert model_sha256(lr_model_dir) == hashlib.sha256(found.path.read_bytes()).hexdigest()


@pytest.mark.parametrize("load", [load_model, lambda p: load_estimator(p), model_sha256, model_file],
                         ids=["models.load_model", "serve.load_estimator", "registry.model_sha256", "model_file"])
def test_a_folder_without_mlmodel_is_named_alike(lr_model_dir: Path, tmp_path: Path, load) -> None:  # type: ignore[no-untyped-def]
    folder = _copy(lr_model_dir, tmp_path / "m", None)
    with pytest.raises(ModelLoadError, match=r"is a folder without an MLmodel file, so not an MLflow model"):
        load(folder)


def test_an_mlmodel_that_is_no_mapping_is_refused_before_loading(lr_model_dir: Path, tmp_path: Path) -> None:
    folder = _copy(lr_model_dir, tmp_path / "m", "- just\n- a list\n")
    with pytest.raises(ModelLoadError, match="is not a YAML mapping"):
        load_estimator(folder)
    assert signature_inputs(folder) == []  # the server's schema falls back to mlgate.json


def test_serve_refuses_a_folder_without_the_sklearn_flavor(lr_model_dir: Path, tmp_path: Path) -> None:
    folder = _copy(lr_model_dir, tmp_path / "m", "flavors:\n  python_function:\n    loader_module: x\n")
    with pytest.raises(ModelRefused, match=r"has no sklearn flavor \(flavors: \['python_function'\]\)"):
        load_estimator(folder)
