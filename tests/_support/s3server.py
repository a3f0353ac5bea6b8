"""A real S3-compatible server on 127.0.0.1 (moto's S3 app under werkzeug), counting its requests.

The count is how the tests prove that a no-op run reads no data: a GET of an object key is a
read of data; a HEAD (ETag and size) or a bucket listing is not.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "mlgate-test", "AWS_SECRET_ACCESS_KEY": "mlgate-test-secret",
               "AWS_DEFAULT_REGION": "us-east-1"}


@dataclass
class S3Server:
    """The running server: its endpoint, the environment a client needs, and the requests it saw."""

    endpoint: str
    requests: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def env(self) -> dict[str, str]:
        return {**CREDENTIALS, "AWS_ENDPOINT_URL": self.endpoint}

    def object_reads(self) -> list[str]:
        """Paths of every GET of an object (a data read); bucket listings are not reads."""
        with self._lock:
            return [path for (method, path, query), n in self.requests.items()
                    if method == "GET" and path.strip("/").count("/") >= 1 and "list-type" not in query
                    for _ in range(n)]

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()

    def filesystem(self) -> Any:
        """A pyarrow S3 filesystem on this server, allowed to create buckets (for the test's setup)."""
        from pyarrow import fs

        host = self.endpoint.removeprefix("http://")
        return fs.S3FileSystem(endpoint_override=host, scheme="http", region="us-east-1",
                               access_key=CREDENTIALS["AWS_ACCESS_KEY_ID"],
                               secret_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"], allow_bucket_creation=True)


@contextmanager
def s3_server() -> Iterator[S3Server]:
    """Start moto's S3 server on a free port of 127.0.0.1 in a thread; stop it afterwards."""
    import logging

    from moto.server import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access-log line per request

    app = DomainDispatcherApplication(create_backend_app)
    server_box: list[S3Server] = []

    def counting(environ: dict[str, Any], start_response: Any) -> Any:
        key = (environ["REQUEST_METHOD"], environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", ""))
        with server_box[0]._lock:
            server_box[0].requests[key] += 1
        return app(environ, start_response)

    httpd = make_server("127.0.0.1", 0, counting, threaded=True)
    server_box.append(S3Server(endpoint=f"http://127.0.0.1:{httpd.server_port}"))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server_box[0]
    finally:
        httpd.shutdown()
        thread.join(timeout=10)
