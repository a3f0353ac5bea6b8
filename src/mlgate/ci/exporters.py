"""GitLab CI and GitHub Actions exporters, one job per stage.

Each job runs ``mlgate run --until STAGE`` on the ``.mlgate/`` folder that the previous job
passed on as an artifact, so the stages before it are skipped as cached and only STAGE
runs. JUnit reports go to the platform's test report; ``summary.md`` to the job summary.
Outputs use ``$GITHUB_OUTPUT`` (the seed's ``::set-output`` is deprecated and disabled).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import yaml

if TYPE_CHECKING:
    from mlgate.config import Config

PYTHON = "3.11"
INSTALL = "pip install mlgate"


def _stages(config: Config) -> list[str]:
    from mlgate.pipeline import select_stages

    return [s.name for s in select_stages(config)]


class CiExporter:
    """Renders a CI file for one platform."""

    name: ClassVar[str]
    default_path: ClassVar[str]

    def render(self, config: Config) -> str:
        raise NotImplementedError


class GitLabExporter(CiExporter):
    """``.gitlab-ci.yml``: stages in order, `.mlgate/` passed on as artifacts."""

    name = "gitlab"
    default_path = ".gitlab-ci.yml"

    def render(self, config: Config) -> str:
        stages = _stages(config)
        doc: dict[str, object] = {
            "stages": [*stages, "smoke"],
            "default": {"image": f"python:{PYTHON}", "before_script": [INSTALL]},
            "variables": {"PIP_CACHE_DIR": "$CI_PROJECT_DIR/.cache/pip"},
            "cache": {"paths": [".cache/pip"]},
        }
        for name in stages:
            job: dict[str, object] = {
                "stage": name,
                "script": [f"mlgate run --until {name}"],
                "artifacts": {
                    "when": "always",
                    "paths": [".mlgate/"],
                    "reports": {"junit": f".mlgate/runs/latest/{name}/junit.xml"},
                    "expire_in": "1 week",
                },
            }
            if name == "register":
                job["rules"] = [{"if": '$CI_COMMIT_BRANCH == "main"'}]
                job["resource_group"] = "registry"
            doc[name] = job
        staging = config.environments.get("staging")
        url = staging.url if staging else "$MLGATE_STAGING_URL"
        doc["smoke-staging"] = {
            "stage": "smoke",
            "script": [f"mlgate smoke --url {url} --api-key \"$MLGATE_API_KEY\" --output mlgate-reports/smoke"],
            "environment": {"name": "staging"},
            "rules": [{"if": '$CI_COMMIT_BRANCH == "main"'}],
            "artifacts": {"when": "always", "reports": {"junit": "mlgate-reports/smoke/junit.xml"}},
        }
        return _dump(doc, "GitLab CI")


class GitHubExporter(CiExporter):
    """``.github/workflows/mlgate.yml``: one job per stage chained with `needs`."""

    name = "github"
    default_path = ".github/workflows/mlgate.yml"

    def render(self, config: Config) -> str:
        stages = _stages(config)
        jobs: dict[str, object] = {}
        previous: str | None = None
        for name in stages:
            steps: list[dict[str, object]] = [
                {"uses": "actions/checkout@v4"},
                {"uses": "actions/setup-python@v5", "with": {"python-version": PYTHON, "cache": "pip"}},
                {"run": INSTALL},
            ]
            if previous:
                steps.append({"uses": "actions/download-artifact@v4",
                              "with": {"name": f"mlgate-{previous}", "path": ".mlgate"}})
            steps += [
                {"id": "gate", "run": f"mlgate run --until {name}"},
                {"if": "always()", "run": f'cat .mlgate/runs/latest/{name}/summary.md >> "$GITHUB_STEP_SUMMARY"'},
                {"if": "always()", "id": "figures",
                 "run": ("python -c \"import json;r=json.load(open('.mlgate/runs/latest/"
                         f"{name}/report.json'));print('passed='+str(r['passed']).lower());"
                         "print('score='+str(r.get('score')))\" >> \"$GITHUB_OUTPUT\"")},
                {"if": "always()", "uses": "actions/upload-artifact@v4",
                 "with": {"name": f"mlgate-{name}", "path": ".mlgate/", "include-hidden-files": True}},
            ]
            job: dict[str, object] = {
                "runs-on": "ubuntu-latest",
                "outputs": {"passed": "${{ steps.figures.outputs.passed }}",
                            "score": "${{ steps.figures.outputs.score }}"},
                "steps": steps,
            }
            if previous:
                job["needs"] = previous
            if name == "register":
                job["if"] = "github.ref == 'refs/heads/main'"
                job["concurrency"] = {"group": "mlgate-registry"}
            jobs[name] = job
            previous = name
        doc: dict[str, object] = {
            "name": f"mlgate {config.project}",
            "on": {"push": {"branches": ["main"]}, "pull_request": {"branches": ["main"]},
                   "workflow_dispatch": {}},
            "permissions": {"contents": "read"},
            "jobs": jobs,
        }
        return _dump(doc, "GitHub Actions")


def _dump(doc: dict[str, object], platform: str) -> str:
    head = (f"# {platform} pipeline generated by `mlgate ci`. Regenerate after changing mlgate.yaml.\n"
            "# Set MLFLOW_TRACKING_URI (a CI variable or secret) to share the registry between jobs.\n")
    return head + yaml.safe_dump(doc, sort_keys=False, width=120)


CI_EXPORTERS: dict[str, CiExporter] = {e.name: e for e in (GitLabExporter(), GitHubExporter())}


def render(platform: str, config: Config) -> tuple[str, str]:
    """The CI file text for ``platform`` and its default path."""
    from mlgate.errors import UsageError

    exporter = CI_EXPORTERS.get(platform)
    if exporter is None:
        raise UsageError(f"unknown CI platform {platform!r}; choose from {', '.join(CI_EXPORTERS)}")
    return exporter.render(config), exporter.default_path
