"""Model signatures in the OpenSSF model signing format (the ``model-signing`` package).

``register`` signs a model folder with ``security.signing_key`` (an elliptic-curve private
key, offline: no Sigstore service is contacted); ``serve``, ``test`` and ``deploy`` verify
it with ``security.public_key`` before loading, and refuse an unsigned or altered model or
one signed with another key. The signature is a Sigstore bundle over a manifest of every
file's SHA-256; it lives in the folder as ``model.sig`` (excluded from the manifest), or
beside a single file as ``FILE.sig``. Users with signing certificates can sign with
``model_signing``'s own ``use_certificate_signer`` and verify the same way.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

from mlgate.errors import MissingDependency, UsageError
from mlgate.security.loader import ModelRefused

if TYPE_CHECKING:
    from mlgate.config import Config

SIGNATURE_NAME = "model.sig"


def signature_path(model: Path) -> Path:
    """Where the signature of a folder (inside it) or of a single file (beside it) lives."""
    return model / SIGNATURE_NAME if model.is_dir() else model.with_name(model.name + ".sig")


def create_key_pair(private_key: Path, public_key: Path, *, overwrite: bool = False) -> tuple[Path, Path]:
    """Write a new ECDSA P-256 key pair as PEM files; the private key is readable by its owner only."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    for path in (private_key, public_key):
        if path.exists() and not overwrite:
            raise UsageError(f"{path} already exists; pass --overwrite to replace it (models signed with "
                             "the old key will no longer verify)")
    key = ec.generate_private_key(ec.SECP256R1())
    private_key.parent.mkdir(parents=True, exist_ok=True)
    public_key.parent.mkdir(parents=True, exist_ok=True)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    fd = os.open(private_key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    public_key.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                         serialization.PublicFormat.SubjectPublicKeyInfo))
    return private_key, public_key


def sign_model(model: Path, private_key: Path) -> Path:
    """Sign a model folder or file with ``private_key``; return the signature's path."""
    hashing, signing, _ = _model_signing()
    _need_file(private_key, "security.signing_key")
    target = signature_path(model)
    # MLflow writes registered_model_meta into a registry download: not part of what was signed
    ignored = [SIGNATURE_NAME, "registered_model_meta"]
    config = hashing.Config().set_ignored_paths(paths=ignored) if model.is_dir() else hashing.Config()
    try:
        signing.Config().use_elliptic_key_signer(private_key=private_key).set_hashing_config(config).sign(
            model, target)
    except ValueError as exc:  # an unsupported or unreadable key
        raise UsageError(f"cannot sign with {private_key}: {exc}; create a key pair with "
                         "`mlgate keys signing`") from exc
    return target


def verify_model(model: Path, public_key: Path, *, source: str | None = None) -> None:
    """Refuse ``model`` unless its signature verifies with ``public_key`` and covers every file."""
    _, _, verifying = _model_signing()
    _need_file(public_key, "security.public_key")
    name = source or str(model)
    sig = signature_path(model)
    if not sig.is_file():
        raise ModelRefused(f"{name} is not signed (no {sig.name}), and security.public_key = {public_key} "
                           "requires a signature; sign it at registration with security.signing_key")
    try:
        verifying.Config().use_elliptic_key_verifier(public_key=public_key).verify(model, sig)
    except Exception as exc:  # model_signing raises ValueError and cryptography errors alike
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        changed = re.findall(r"Hash mismatch for '([^']+)'", reason)
        if changed:
            reason = f"changed since signing: {', '.join(changed)}"
        if type(exc).__name__ == "InvalidSignature" or "Key mismatch" in reason:
            reason = f"it was signed with another key than {public_key}"
        raise ModelRefused(f"{name} fails signature verification: {reason}; it was altered after signing "
                           "or signed by someone else, so it is not loaded") from exc


def _need_file(path: Path, key: str) -> None:
    if not path.is_file():
        raise UsageError(f"{key}: key file {path} does not exist; create a pair with `mlgate keys signing`")


def _model_signing() -> tuple[Any, Any, Any]:
    try:
        from model_signing import hashing, signing, verifying
    except ImportError as exc:
        raise MissingDependency("model-signing", "security", "signing and verifying models") from exc
    return hashing, signing, verifying


def sign_registration(config: Config, folder: Path, source: str, client: Any, run_id: str | None) -> str | None:
    """Sign what a new registry version will serve, when ``security.signing_key`` is set.

    ``source`` is the train run's model artifact when the version reuses it: a local one is
    signed in place, a remote one gets the signature of the identical local ``folder`` logged
    beside it. Otherwise ``folder`` itself is signed before it is logged. Returns the value of
    the ``mlgate.signature`` tag, or None when no key is configured.
    """
    key = config.security.signing_key
    if not key:
        return None

    private_key = config.resolve(key)
    if source.startswith("file:"):
        sign_model(Path(unquote(urlparse(source).path)), private_key)
    else:
        signature = sign_model(folder, private_key)
        if source and run_id:
            artifact_path = source.rstrip("/").rpartition("/")[2] or "model"
            client.log_artifact(run_id, str(signature), artifact_path)
    return f"{SIGNATURE_NAME} (OpenSSF model signing, ECDSA key {private_key.name})"
