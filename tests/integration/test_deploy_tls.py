"""TLS: `mlgate serve --ssl-certfile/--ssl-keyfile` with a certificate this test makes (its own CA);
smoke and admin clients verify it with --ca-file; a plain-HTTP non-loopback bind warns."""

from __future__ import annotations

import datetime
import ipaddress
import json
import subprocess
from pathlib import Path

import pytest

from _support.serve import shared_model
from mlgate.deploy.client import AdminClient, tls_verify  # noqa: E402
from mlgate.errors import ServeError  # noqa: E402
from mlgate.serve.process import ServerProcess  # noqa: E402

pytestmark = pytest.mark.integration
ADMIN = "tls-admin-key"


def make_certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate it signs for 127.0.0.1 and localhost."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mlgate test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")])
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(san, critical=False).sign(ca_key, hashes.SHA256()))
    paths = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


def test_https_server_verified_by_smoke_and_admin_clients(tmp_path: Path, mlgate_bin: list[str]) -> None:
    ca, cert, key = make_certificates(tmp_path)
    model = shared_model(tmp_path.parent)
    args = ["--ssl-certfile", str(cert), "--ssl-keyfile", str(key), "--no-prediction-log"]
    with ServerProcess(str(model), admin_key=ADMIN, extra_args=args, ca_file=str(ca)) as server:
        assert server.url.startswith("https://")
        with AdminClient(server.url, ADMIN, tls_verify(ca)) as admin:
            assert admin.state()["slots"] == {"stable": "local"}
        with AdminClient(server.url, ADMIN) as untrusting, pytest.raises(ServeError, match="CERTIFICATE_VERIFY"):
            untrusting.state()  # the system CAs do not know this certificate
        smoke = subprocess.run([*mlgate_bin, "smoke", "--url", server.url, "--ca-file", str(ca), "--requests", "5",
                                "--output", str(tmp_path / "smoke")], capture_output=True, text=True, timeout=120)
        report = json.loads((tmp_path / "smoke" / "report.json").read_text())
        checks = {c["name"]: c["passed"] for c in report["checks"]}
        assert checks["health"] and checks["prediction"] and checks["latency_p95"], (checks, smoke.stdout)
        bad = subprocess.run([*mlgate_bin, "smoke", "--url", server.url, "--requests", "5", "--output",
                              str(tmp_path / "smoke2")], capture_output=True, text=True, timeout=120)
        assert bad.returncode == 1 and "CERTIFICATE_VERIFY_FAILED" in bad.stdout, bad.stdout + bad.stderr


def test_half_a_tls_setup_is_refused(tmp_path: Path, mlgate_bin: list[str]) -> None:
    _, cert, _ = make_certificates(tmp_path)
    result = subprocess.run([*mlgate_bin, "serve", "--model", str(shared_model(tmp_path.parent)), "--ssl-certfile",
                             str(cert)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "--ssl-keyfile" in result.stderr, result.stderr


def test_plain_http_on_a_non_loopback_address_warns(tmp_path: Path) -> None:
    with ServerProcess(str(shared_model(tmp_path.parent)), host="0.0.0.0", extra_args=["--insecure",
                                                                                     "--no-prediction-log"]) as s:
        assert "over plain HTTP" in s.stderr_tail(50)
