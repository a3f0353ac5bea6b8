"""Start-up settings: keys, loopback rule, config-relative paths, rate-limit syntax."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlgate.config import config_from_dict
from mlgate.errors import ConfigError, ServeError
from mlgate.serve.auth import add_key, hash_key
from mlgate.serve.runner import ServeOptions, build_settings
from mlgate.serve.settings import ServeSettings, is_loopback


def config(root: Path, **serve: object):  # type: ignore[no-untyped-def]
    return config_from_dict({"data": {"train": "train.csv"}, "serve": serve}, root)


def test_config_paths_resolve_against_the_config_folder(tmp_path: Path, lr_model_dir: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLGATE_API_KEYS", raising=False)
    key = add_key(tmp_path / "keys")
    cfg = config(tmp_path, api_keys_file="keys", rate_limit="5/second", port=9001)
    settings, host, port, workers = build_settings(ServeOptions(model=str(lr_model_dir)), cfg)
    assert settings.key_hashes == [hash_key(key)]
    assert settings.prediction_log == str((tmp_path / ".mlgate" / "predictions").resolve())
    assert (host, port, workers) == ("127.0.0.1", 9001, 1)
    assert settings.rate_limit == "5/second" and settings.model_version == "local"
    assert ServeSettings.model_validate_json(settings.to_env()) == settings


def test_flags_win_over_the_config(tmp_path: Path, lr_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLGATE_API_KEYS", "a,b")
    options = ServeOptions(model=str(lr_model_dir), port=0, workers=3, model_version="12",
                           no_prediction_log=True)
    settings, _, port, workers = build_settings(options, config(tmp_path, port=9001))
    assert (port, workers, settings.model_version) == (0, 3, "12")
    assert settings.prediction_log is None and len(settings.key_hashes) == 2


def test_open_non_loopback_needs_insecure(tmp_path: Path, lr_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLGATE_API_KEYS", raising=False)
    with pytest.raises(ServeError, match="--insecure"):
        build_settings(ServeOptions(model=str(lr_model_dir), host="0.0.0.0"), None)
    settings, host, _, _ = build_settings(ServeOptions(model=str(lr_model_dir), host="0.0.0.0",
                                                       insecure=True, no_prediction_log=True), None)
    assert host == "0.0.0.0" and settings.key_hashes == []


def test_bad_rate_limit_is_a_config_error(tmp_path: Path, lr_model_dir: Path) -> None:
    with pytest.raises(ConfigError, match="rate_limit"):
        build_settings(ServeOptions(model=str(lr_model_dir)), config(tmp_path, rate_limit="lots"))


@pytest.mark.parametrize(("host", "loopback"), [("127.0.0.1", True), ("127.0.0.2", True), ("localhost", False),
                                                ("::1", True), ("0.0.0.0", False), ("10.0.0.5", False),
                                                ("127.example.com", False), ("127.", False), ("::", False)])
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
