"""OpenSSF model signatures: round trip, another key, an altered file, an unsigned folder."""

from __future__ import annotations

import stat
from importlib.util import find_spec
from pathlib import Path

import pytest

from mlgate.errors import UsageError
from mlgate.security.loader import ModelRefused
from mlgate.security.signing import SIGNATURE_NAME, create_key_pair, sign_model, verify_model

# model-signing is in the security and dev extras; only the lower-bounds job (.ci/lower-bounds)
# runs without it, because its sigstore stack needs a newer cryptography than the lowest mlflow allows
needs_model_signing = pytest.mark.skipif(find_spec("model_signing") is None, reason="model-signing not installed")


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    root = tmp_path_factory.mktemp("keys")
    return {name: create_key_pair(root / f"{name}.pem", root / f"{name}.pub.pem") for name in ("mine", "other")}


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "MLmodel").write_text("flavors: {}\n")
    (folder / "model.pkl").write_bytes(b"\x80\x05K\x01.")
    return folder


def test_key_pair_is_pem_and_private(keys: dict[str, tuple[Path, Path]]) -> None:
    private, public = keys["mine"]
    assert private.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert public.read_text().startswith("-----BEGIN PUBLIC KEY-----")
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    with pytest.raises(UsageError, match="already exists"):
        create_key_pair(private, public)


@needs_model_signing
def test_signed_folder_round_trips(tmp_path: Path, keys: dict[str, tuple[Path, Path]]) -> None:
    folder = _folder(tmp_path)
    assert sign_model(folder, keys["mine"][0]) == folder / SIGNATURE_NAME
    verify_model(folder, keys["mine"][1])


@needs_model_signing
def test_another_key_is_refused(tmp_path: Path, keys: dict[str, tuple[Path, Path]]) -> None:
    folder = _folder(tmp_path)
    sign_model(folder, keys["other"][0])
    with pytest.raises(ModelRefused, match="signed with another key"):
        verify_model(folder, keys["mine"][1])


@needs_model_signing
def test_altered_or_added_files_are_refused(tmp_path: Path, keys: dict[str, tuple[Path, Path]]) -> None:
    folder = _folder(tmp_path)
    sign_model(folder, keys["mine"][0])
    (folder / "model.pkl").write_bytes(b"\x80\x05K\x02.")
    with pytest.raises(ModelRefused, match=r"changed since signing: model\.pkl"):
        verify_model(folder, keys["mine"][1])
    (folder / "model.pkl").write_bytes(b"\x80\x05K\x01.")
    verify_model(folder, keys["mine"][1])
    (folder / "extra.py").write_text("import os\n")
    with pytest.raises(ModelRefused, match="extra.py"):
        verify_model(folder, keys["mine"][1])


@needs_model_signing
def test_unsigned_is_refused(tmp_path: Path, keys: dict[str, tuple[Path, Path]]) -> None:
    with pytest.raises(ModelRefused, match="is not signed"):
        verify_model(_folder(tmp_path), keys["mine"][1])


@needs_model_signing
def test_single_file_signature_sits_beside_it(tmp_path: Path, keys: dict[str, tuple[Path, Path]]) -> None:
    file = tmp_path / "m.joblib"
    file.write_bytes(b"\x80\x05K\x01.")
    assert sign_model(file, keys["mine"][0]) == tmp_path / "m.joblib.sig"
    verify_model(file, keys["mine"][1])
