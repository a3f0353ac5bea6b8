"""``mlgate report --post``: the summary as a merge-request note or pull-request comment.

Posted through each platform's REST API with the CI's own variables, and updated in place
on the next push: the comment carries a hidden marker, and a later post edits the comment
that holds it instead of adding another (as CML's ``--update`` does).

GitLab needs ``CI_API_V4_URL``, ``CI_PROJECT_ID``, ``CI_MERGE_REQUEST_IID`` (set in merge
request pipelines) and a token with the ``api`` scope in ``MLGATE_GITLAB_TOKEN`` (or
``GITLAB_TOKEN``): the job token cannot write notes. GitHub needs ``GITHUB_API_URL``,
``GITHUB_REPOSITORY``, ``GITHUB_EVENT_PATH`` (the pull request's number is in the event)
and ``GITHUB_TOKEN`` with ``pull-requests: write``. Tokens are read from the environment
only and never printed.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote

from mlgate.errors import PostError, UsageError

if TYPE_CHECKING:
    import httpx

MAX_BODY = 65_000  # GitHub refuses comments over 65,536 characters
PER_PAGE = 100


@dataclass(frozen=True)
class Posted:
    platform: str
    action: str  # "created" or "updated"
    url: str


class Poster:
    """Finds its own earlier comment by the marker and updates it, or creates one."""

    name: ClassVar[str]
    needs: ClassVar[tuple[str, ...]]
    detect: ClassVar[tuple[str, ...]]  # any of these variables set: running on this platform's CI

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    @classmethod
    def detected(cls, env: dict[str, str]) -> bool:
        return any(env.get(v) for v in cls.detect)

    def missing(self) -> list[str]:
        return [v for v in self.needs if not self.env.get(v)]

    def headers(self) -> dict[str, str]:
        raise NotImplementedError

    def comments_url(self) -> str:
        raise NotImplementedError

    def comment_url(self, comment_id: Any) -> str:
        raise NotImplementedError

    update_method: ClassVar[str]

    def post(self, body: str, marker: str, client: httpx.Client) -> Posted:
        body = _fit(body)
        existing = self._find(marker, client)
        if existing is None:
            response = _call(client, "POST", self.comments_url(), self.name, json={"body": body})
            return Posted(self.name, "created", _url(response))
        response = _call(client, self.update_method, self.comment_url(existing), self.name, json={"body": body})
        return Posted(self.name, "updated", _url(response))

    def _find(self, marker: str, client: httpx.Client) -> Any | None:
        page = 1
        while True:
            response = _call(client, "GET", self.comments_url(), self.name,
                             params={"per_page": PER_PAGE, "page": page})
            items = response.json()
            if not isinstance(items, list):
                raise PostError(f"{self.name}: listing comments returned {type(items).__name__}, not a list")
            for item in items:
                if marker in str(item.get("body", "")):
                    return item["id"]
            if len(items) < PER_PAGE:
                return None
            page += 1


class GitLabPoster(Poster):
    name = "gitlab"
    needs = ("CI_API_V4_URL", "CI_PROJECT_ID", "CI_MERGE_REQUEST_IID", "MLGATE_GITLAB_TOKEN or GITLAB_TOKEN")
    detect = ("GITLAB_CI", "CI_API_V4_URL")
    update_method = "PUT"

    def missing(self) -> list[str]:
        gone = [v for v in self.needs[:3] if not self.env.get(v)]
        return gone + ([] if self._token() else [self.needs[3]])

    def _token(self) -> str:
        return self.env.get("MLGATE_GITLAB_TOKEN") or self.env.get("GITLAB_TOKEN") or ""

    def headers(self) -> dict[str, str]:
        return {"PRIVATE-TOKEN": self._token()}

    def comments_url(self) -> str:
        api, project = self.env["CI_API_V4_URL"].rstrip("/"), quote(self.env["CI_PROJECT_ID"], safe="")
        return f"{api}/projects/{project}/merge_requests/{self.env['CI_MERGE_REQUEST_IID']}/notes"

    def comment_url(self, comment_id: Any) -> str:
        return f"{self.comments_url()}/{comment_id}"


class GitHubPoster(Poster):
    name = "github"
    needs = ("GITHUB_API_URL", "GITHUB_REPOSITORY", "GITHUB_EVENT_PATH", "GITHUB_TOKEN")
    detect = ("GITHUB_ACTIONS", "GITHUB_API_URL")
    update_method = "PATCH"

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.env['GITHUB_TOKEN']}", "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28"}

    def number(self) -> int:
        path = Path(self.env["GITHUB_EVENT_PATH"])
        try:
            event = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UsageError(f"GITHUB_EVENT_PATH {path} is not a readable JSON event: {exc}") from exc
        number = (event.get("pull_request") or {}).get("number") or event.get("number")
        if not isinstance(number, int):
            raise UsageError(f"the event in {path} is not a pull request (no pull_request.number): run "
                             "`mlgate report --post` in a job triggered by pull_request")
        return number

    def comments_url(self) -> str:
        api = self.env["GITHUB_API_URL"].rstrip("/")
        return f"{api}/repos/{self.env['GITHUB_REPOSITORY']}/issues/{self.number()}/comments"

    def comment_url(self, comment_id: Any) -> str:
        api = self.env["GITHUB_API_URL"].rstrip("/")
        return f"{api}/repos/{self.env['GITHUB_REPOSITORY']}/issues/comments/{comment_id}"


POSTERS: dict[str, type[Poster]] = {p.name: p for p in (GitLabPoster, GitHubPoster)}


def choose_poster(env: dict[str, str] | None = None, platform: str | None = None) -> Poster:
    """The poster of the CI this runs in (or ``platform``); a UsageError naming what is missing."""
    env = dict(os.environ) if env is None else env
    kinds = [POSTERS[platform]] if platform else [cls for cls in POSTERS.values() if cls.detected(env)]
    if not kinds:
        raise UsageError("--post needs a GitLab merge-request pipeline (CI_API_V4_URL, CI_PROJECT_ID, "
                         "CI_MERGE_REQUEST_IID, MLGATE_GITLAB_TOKEN) or a GitHub pull-request workflow "
                         "(GITHUB_API_URL, GITHUB_REPOSITORY, GITHUB_EVENT_PATH, GITHUB_TOKEN); none of them is set")
    poster = kinds[0](env)
    missing = poster.missing()
    if missing:
        raise UsageError(f"--post on {poster.name} needs {', '.join(missing)} in the environment "
                         f"(missing: {len(missing)} of {len(poster.needs)}); in a merge/pull request pipeline "
                         "the CI sets all but the token, which you add as a masked CI variable or secret")
    return poster


def why_not_posted(env: dict[str, str] | None = None) -> str | None:
    """Why ``--post`` cannot post here (no merge/pull request, no token), or None when it can."""
    try:
        choose_poster(env)
    except UsageError as exc:
        return exc.message
    return None


def post_summary(body: str, marker: str, *, env: dict[str, str] | None = None, platform: str | None = None,
                 timeout: float = 30.0) -> Posted:
    """Create or update the comment that carries ``marker``."""
    import httpx

    poster = choose_poster(env, platform)
    with httpx.Client(headers=poster.headers(), timeout=timeout) as client:
        return poster.post(body, marker, client)


def _call(client: httpx.Client, method: str, url: str, platform: str, **kwargs: Any) -> httpx.Response:
    import httpx

    try:
        response = client.request(method, url, **kwargs)
    except httpx.HTTPError as exc:
        raise PostError(f"{platform}: {method} {url} failed: {type(exc).__name__}: {exc}") from exc
    if response.status_code in (401, 403):
        raise PostError(f"{platform} refused the token ({response.status_code}) for {method} {url}: it needs "
                        "permission to write merge/pull request comments")
    if response.status_code >= 400:
        raise PostError(f"{platform}: {method} {url} answered {response.status_code}: {response.text[:300]}")
    return response


def _url(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    return str(body.get("html_url") or body.get("web_url") or body.get("url") or body.get("id", ""))


def _fit(body: str) -> str:
    if len(body) <= MAX_BODY:
        return body
    note = "\n\n_(cut to fit the comment limit; the full summary.md is in the job's artifacts)_\n"
    return body[: MAX_BODY - len(note)] + note
