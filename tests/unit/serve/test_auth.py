"""API keys: hashed at rest, constant-time checks, both header styles."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlgate.errors import ConfigError
from mlgate.serve.auth import KeyStore, add_key, hash_key, key_hashes_from_env, presented_key, read_keys_file


def test_keys_file_holds_only_hashes(tmp_path: Path) -> None:
    file = tmp_path / "keys"
    key = add_key(file, "ci")
    text = file.read_text()
    assert key not in text and hash_key(key) in text and "# ci" in text
    assert read_keys_file(file) == [hash_key(key)]
    assert (file.stat().st_mode & 0o777) == 0o600


def test_plain_key_in_keys_file_is_refused(tmp_path: Path) -> None:
    file = tmp_path / "keys"
    file.write_text("# keys\nsecret-plain-key\n")
    with pytest.raises(ConfigError, match=r"line 2: expected a hex SHA-256"):
        read_keys_file(file)


def test_missing_keys_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the API keys file"):
        read_keys_file(tmp_path / "absent")


def test_key_store() -> None:
    store = KeyStore(key_hashes_from_env({"MLGATE_API_KEYS": "alpha, beta,"}))
    assert store.required
    assert store.check("alpha") == hash_key("alpha")
    assert store.check("beta") == hash_key("beta")
    assert store.check("gamma") is None
    assert store.check("") is None and store.check(None) is None
    assert not KeyStore([]).required


@pytest.mark.parametrize(("headers", "key"), [
    ({"authorization": "Bearer abc"}, "abc"), ({"authorization": "bearer  abc "}, "abc"),
    ({"x-api-key": "abc"}, "abc"), ({"authorization": "Basic abc"}, None), ({}, None),
])
def test_presented_key(headers: dict[str, str], key: str | None) -> None:
    assert presented_key(headers) == key
