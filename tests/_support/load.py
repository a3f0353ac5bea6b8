"""Steady, bounded client load on a server: threads that each send one request at a time."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Answer:
    sent: float
    done: float
    status: int
    version: str | None
    client: str
    error: str = ""


@dataclass
class Load:
    """``with Load(url, body, threads=4) as load: ...``; ``load.answers`` afterwards."""

    url: str
    bodies: list[dict[str, Any]]
    threads: int = 4
    pause_s: float = 0.005
    headers: dict[str, str] = field(default_factory=dict)
    verify: Any = True
    answers: list[Answer] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _workers: list[threading.Thread] = field(default_factory=list)

    def _run(self, index: int) -> None:
        import httpx

        with httpx.Client(timeout=10, verify=self.verify) as client:
            n = 0
            while not self._stop.is_set():
                cid = f"client-{index}-{n % 25}"  # 25 sticky client ids per thread
                n += 1
                sent = time.time()
                try:
                    r = client.post(f"{self.url}/predict", json=self.bodies[(n * 7 + index) % len(self.bodies)],
                                    headers={**self.headers, "X-Client-Id": cid})
                    version = r.json().get("model_version") if r.status_code == 200 else None
                    answer = Answer(sent, time.time(), r.status_code, version, cid, "" if r.status_code == 200
                                    else r.text[:200])
                except Exception as exc:  # a failed request is what the tests count
                    answer = Answer(sent, time.time(), 0, None, cid, f"{type(exc).__name__}: {exc}")
                with self._lock:
                    self.answers.append(answer)
                time.sleep(self.pause_s)

    def __enter__(self) -> Load:
        self._workers = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(self.threads)]
        for worker in self._workers:
            worker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(15)

    def wait_for(self, n: int, timeout: float = 60.0) -> None:
        """Block until ``n`` more answers arrived."""
        target = len(self.answers) + n
        deadline = time.monotonic() + timeout
        while len(self.answers) < target and time.monotonic() < deadline:
            time.sleep(0.02)

    @property
    def failed(self) -> list[Answer]:
        return [a for a in self.answers if a.status != 200]
