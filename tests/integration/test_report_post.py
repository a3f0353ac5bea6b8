"""`mlgate report --post` against a recording HTTP server on loopback, for GitLab and GitHub.

The server speaks the part of each REST API that --post uses (list, create and update
merge-request notes / issue comments) and records every request, so the tests see what a
platform would: one comment created, then the same one updated on the next push.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from mlgate.reports import Check, Report, write_report

pytestmark = pytest.mark.integration
TOKEN = "tok-s3cret-123"


class Recorder(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.requests: list[dict[str, Any]] = []
        self.comments: dict[int, str] = {7: "an earlier human comment"}  # a comment that is not ours

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(BaseHTTPRequestHandler):
    server: Recorder

    def log_message(self, *args: object) -> None:  # keep pytest's output clean
        return None

    def _record(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        entry = {"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body}
        self.server.requests.append(entry)
        return entry

    def _answer(self, status: int, doc: Any) -> None:
        data = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _authorized(self, entry: dict[str, Any]) -> bool:
        headers = {k.lower(): v for k, v in entry["headers"].items()}
        return TOKEN in (headers.get("private-token", ""), headers.get("authorization", "").removeprefix("Bearer "))

    def _comment(self, cid: int) -> dict[str, Any]:
        return {"id": cid, "body": self.server.comments[cid], "html_url": f"{self.server.url}/c/{cid}"}

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        entry = self._record()
        if not self._authorized(entry):
            return self._answer(401, {"message": "401 Unauthorized"})
        page = int(entry["path"].split("page=")[-1]) if "page=" in entry["path"] else 1
        items = [self._comment(c) for c in sorted(self.server.comments)] if page == 1 else []
        self._answer(200, items)

    def do_POST(self) -> None:  # noqa: N802
        entry = self._record()
        cid = max(self.server.comments) + 1
        self.server.comments[cid] = entry["body"]["body"]
        self._answer(201, self._comment(cid))

    def _update(self) -> None:
        entry = self._record()
        cid = int(entry["path"].rstrip("/").split("/")[-1])
        self.server.comments[cid] = entry["body"]["body"]
        self._answer(200, self._comment(cid))

    do_PUT = _update  # noqa: N815 - GitLab updates a note with PUT
    do_PATCH = _update  # noqa: N815 - GitHub updates a comment with PATCH


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    server = Recorder()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _reports(folder: Path, *, test_passes: bool, auc: float) -> Path:
    """Stage reports as the gates write them (through the real writer)."""
    validate = Report(stage="validate", score=0.98, key_figure="quality score 0.980 (min 0.9)")
    validate.add(Check(name="schema", passed=True, message="12 columns as in the schema"))
    test = Report(stage="test", key_figure="10 families")
    test.add(Check(name="performance:roc_auc", passed=test_passes, observed=auc, expected=0.75,
                   message=f"roc_auc {auc:.3f} (min 0.750)"))
    compare = Report(stage="compare", key_figure=f"roc_auc {auc:.4f} vs 0.8000")
    compare.add(Check(name="not_worse", passed=True, message="no significant difference"))
    compare.extras = {"comparison": {"roc_auc": {"candidate": auc, "baseline": 0.8, "delta": auc - 0.8,
                                                 "greater_is_better": True}}}
    for report in (validate, test, compare):
        write_report(report, folder / report.stage)
    return folder


def _env(tmp_path: Path, platform: str, server: Recorder) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("CI_", "GITHUB_", "GITLAB"))}
    if platform == "gitlab":
        return {**base, "GITLAB_CI": "true", "CI_API_V4_URL": f"{server.url}/api/v4", "CI_PROJECT_ID": "group/churn",
                "CI_MERGE_REQUEST_IID": "42", "MLGATE_GITLAB_TOKEN": TOKEN,
                "CI_JOB_URL": "https://gitlab.example/group/churn/-/jobs/99"}
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"action": "synchronize", "number": 42, "pull_request": {"number": 42}}))
    return {**base, "GITHUB_ACTIONS": "true", "GITHUB_API_URL": server.url, "GITHUB_REPOSITORY": "acme/churn",
            "GITHUB_EVENT_PATH": str(event), "GITHUB_TOKEN": TOKEN, "GITHUB_RUN_ID": "1234",
            "GITHUB_SERVER_URL": "https://github.example"}


def _report(mlgate_bin: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*mlgate_bin, "report", "mlgate-reports", "--output", "merged-report", "--post"],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(("platform", "update", "path"), [
    ("gitlab", "PUT", "/api/v4/projects/group%2Fchurn/merge_requests/42/notes"),
    ("github", "PATCH", "/repos/acme/churn/issues/42/comments"),
])
def test_post_creates_one_comment_then_updates_it(platform: str, update: str, path: str, tmp_path: Path,
                                                  recorder: Recorder, mlgate_bin: list[str]) -> None:
    env = _env(tmp_path, platform, recorder)
    _reports(tmp_path / "mlgate-reports", test_passes=False, auc=0.7)
    first = _report(mlgate_bin, tmp_path, env)
    assert first.returncode == 0, first.stderr
    assert [(r["method"], r["path"].split("?")[0]) for r in recorder.requests] == [("GET", path), ("POST", path)]
    assert "created" in first.stdout
    ours = [c for c, body in recorder.comments.items() if "<!-- mlgate-report:" in body]
    assert len(ours) == 1
    body = recorder.comments[ours[0]]
    assert "❌ mlgate" in body and "test failed" in body and "| roc_auc | 0.7000 | 0.8000 | -0.1000 🔴 |" in body
    assert "`performance:roc_auc`: roc_auc 0.700 (min 0.750)" in body

    # the next push: the test passes now, and the same comment is edited
    _reports(tmp_path / "mlgate-reports", test_passes=True, auc=0.83)
    recorder.requests.clear()
    second = _report(mlgate_bin, tmp_path, env)
    assert second.returncode == 0, second.stderr
    methods = [r["method"] for r in recorder.requests]
    assert methods == ["GET", update]
    assert recorder.requests[-1]["path"].endswith(f"/{ours[0]}")
    assert [c for c, b in recorder.comments.items() if "<!-- mlgate-report:" in b] == ours
    assert "✅ mlgate" in recorder.comments[ours[0]] and "+0.0300 🟢" in recorder.comments[ours[0]]
    assert recorder.comments[7] == "an earlier human comment"
    for out in (first, second):  # the token travels in a header only
        assert TOKEN not in out.stdout + out.stderr
    assert (tmp_path / "merged-report" / "report.html").exists()


def test_post_without_the_ci_variables_names_them_and_writes_nothing(tmp_path: Path, recorder: Recorder,
                                                                     mlgate_bin: list[str]) -> None:
    env = _env(tmp_path, "gitlab", recorder)
    del env["CI_MERGE_REQUEST_IID"], env["MLGATE_GITLAB_TOKEN"]
    _reports(tmp_path / "mlgate-reports", test_passes=True, auc=0.8)
    out = _report(mlgate_bin, tmp_path, env)
    assert out.returncode == 2
    assert "needs CI_MERGE_REQUEST_IID, MLGATE_GITLAB_TOKEN or GITLAB_TOKEN" in out.stderr
    assert "Traceback" not in out.stderr and recorder.requests == []
    assert not (tmp_path / "merged-report").exists()
    bare = {k: v for k, v in env.items() if not k.startswith(("CI_", "GITLAB"))}
    out = _report(mlgate_bin, tmp_path, bare)
    assert out.returncode == 2 and "none of them is set" in out.stderr


def test_a_refused_token_is_exit_2_with_the_status(tmp_path: Path, recorder: Recorder, mlgate_bin: list[str]) -> None:
    env = {**_env(tmp_path, "github", recorder), "GITHUB_TOKEN": "wrong"}
    _reports(tmp_path / "mlgate-reports", test_passes=True, auc=0.8)
    out = _report(mlgate_bin, tmp_path, env)
    assert out.returncode == 2
    assert "github refused the token (401)" in out.stderr and "wrong" not in out.stderr
