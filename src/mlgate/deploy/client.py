"""The client side of a server's /admin endpoints, and the TLS settings every client shares."""

from __future__ import annotations

import json
import os
import ssl
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from mlgate.errors import ModelLoadError, RegistryError, ServeError, UsageError

ADMIN_KEY_ENV = "MLGATE_ADMIN_KEY"


def tls_verify(ca_file: str | Path | None) -> ssl.SSLContext | bool:
    """An SSL context trusting ``ca_file`` (a private CA), else the system's CAs."""
    if ca_file is None:
        return True
    path = Path(ca_file)
    if not path.is_file():
        raise UsageError(f"CA file {path} does not exist (--ca-file or serve -> tls -> ca_file)")
    try:
        return ssl.create_default_context(cafile=str(path))
    except ssl.SSLError as exc:
        raise UsageError(f"CA file {path} is not a PEM certificate: {exc}") from exc


def admin_key(env: dict[str, str] | None = None) -> str:
    key = (env if env is not None else os.environ).get(ADMIN_KEY_ENV, "")
    if not key:
        raise UsageError(f"set {ADMIN_KEY_ENV} to the admin key the server was started with; deploy actions "
                         "go through the server's /admin endpoints")
    return key


class AdminClient:
    """Calls one server's /admin endpoints; every failure is an MlgateError naming the URL.

    Plain ``urllib``: a rollback's time to the first old answer includes this client's
    import, and httpx costs about 0.1 s more to import than the whole call takes.
    """

    def __init__(self, url: str, key: str, verify: ssl.SSLContext | bool = True, timeout: float = 180.0) -> None:
        self.url = url.rstrip("/")
        self.key = key
        self.verify = verify
        self.timeout = timeout

    def close(self) -> None:
        """Nothing to close (one connection per call); kept for ``with``."""

    def __enter__(self) -> AdminClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(self, method: str, path: str, body: dict[str, Any] | None = None,
             params: dict[str, Any] | None = None) -> dict[str, Any]:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        data = json.dumps(body).encode() if body is not None else (b"" if method == "POST" else None)
        request = urllib.request.Request(f"{self.url}{path}{query}", data=data, method=method,
                                         headers={"X-Admin-Key": self.key, "Content-Type": "application/json"})
        context = self.verify if isinstance(self.verify, ssl.SSLContext) else None
        if self.verify is False:
            context = ssl._create_unverified_context()  # noqa: S323 (only when verification is turned off)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout, context=context) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ServeError(f"cannot reach the server at {self.url}: {reason}. Is `mlgate serve --env E` "
                             "running there? (environments -> E -> url, or --url)") from exc
        try:
            payload = json.loads(raw) if raw else {}
        except ValueError:
            payload = {"message": raw[:300].decode("utf-8", "replace")}
        if not isinstance(payload, dict):
            payload = {"message": str(payload)[:300]}
        if status == 200:
            return payload
        message = str(payload.get("message") or payload)
        if status in (401, 403):
            raise UsageError(f"the server at {self.url} refused the admin call: {message}")
        if status == 404 and path.startswith("/admin/") and "error" not in payload:
            raise ServeError(f"{self.url} has no {path} endpoint: is it an `mlgate serve` server?")
        error = {409: UsageError, 422: ModelLoadError, 404: RegistryError}.get(status, ServeError)
        raise error(f"{self.url}{path}: {message}")

    def state(self) -> dict[str, Any]:
        return self.call("GET", "/admin/state")

    def stage(self, version: str, role: str) -> dict[str, Any]:
        return self.call("POST", "/admin/stage", {"version": version, "role": role})

    def route(self, **percent: float | None) -> dict[str, Any]:
        """Set side roles' percent: ``route(canary=10)``."""
        return self.call("POST", "/admin/route", percent)

    def switch(self, keep_s: float | None = None) -> dict[str, Any]:
        return self.call("POST", "/admin/switch", {} if keep_s is None else {"keep_s": keep_s})

    def promote(self) -> dict[str, Any]:
        return self.call("POST", "/admin/promote")

    def discard(self, role: str) -> dict[str, Any]:
        return self.call("POST", "/admin/discard", {"role": role})

    def rollback(self) -> dict[str, Any]:
        return self.call("POST", "/admin/rollback")

    def reload(self, keep_s: float | None = None, tidy: bool = True) -> dict[str, Any]:
        """Converge the server to its registry aliases now (what every deploy action ends with)."""
        body: dict[str, Any] = {"tidy": tidy}
        if keep_s is not None:
            body["keep_s"] = keep_s
        return self.call("POST", "/admin/reload", body)

    def observations(self, since: float | None = None) -> dict[str, Any]:
        return self.call("GET", "/admin/observations", params={"since": since} if since is not None else None)
