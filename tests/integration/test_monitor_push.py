"""--push: drift gauges reach a Pushgateway over real HTTP (a small server speaking its PUT API)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pandas as pd
import pytest

from mlgate.errors import UsageError
from mlgate.monitor.batches import frame_source, infer_spec, profile_source
from mlgate.monitor.drift import DriftSettings, column_drift
from mlgate.monitor.push import push_drift

pytestmark = pytest.mark.integration


class _Gateway(BaseHTTPRequestHandler):
    received: list[tuple[str, str, bytes]] = []

    def do_PUT(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        self.received.append((self.command, self.path, body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return None


def test_drift_gauges_are_pushed():
    rng = np.random.default_rng(0)
    ref = pd.DataFrame({"x": rng.normal(0, 1, 500), "c": rng.choice(list("ab"), 500)})
    cur = pd.DataFrame({"x": rng.normal(1, 1, 500), "c": rng.choice(list("ab"), 500)})
    spec = infer_spec(frame_source(ref))
    reference = profile_source(frame_source(ref), spec)
    reference.meta["model"] = "churn"
    result = column_drift(reference, profile_source(frame_source(cur), spec), DriftSettings())
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Gateway)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        sent = push_drift(f"http://127.0.0.1:{server.server_port}", result, None, reference)
    finally:
        server.shutdown()
        server.server_close()
    method, path, body = _Gateway.received[-1]
    text = body.decode()
    assert method == "PUT" and path == "/metrics/job/mlgate_monitor/model/churn"
    assert 'mlgate_drift_detected{column="x",method="ks",role="feature"} 1.0' in text
    assert 'mlgate_drift_detected{column="c",method="chi2",role="feature"} 0.0' in text
    assert "mlgate_dataset_drift_share 0.5" in text and sent["series"] == 10


def test_unreachable_gateway_is_a_usage_error():
    rng = np.random.default_rng(1)
    ref = pd.DataFrame({"x": rng.normal(0, 1, 100)})
    spec = infer_spec(frame_source(ref))
    reference = profile_source(frame_source(ref), spec)
    result = column_drift(reference, reference, DriftSettings())
    with pytest.raises(UsageError, match="--push http://127.0.0.1:9/: the Pushgateway did not take"):
        push_drift("http://127.0.0.1:9/", result, None, reference, timeout=2)
