from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mlgate.ci import CI_EXPORTERS, render
from mlgate.config import load_config
from mlgate.errors import UsageError
from mlgate.examples.churn import CONFIG_TEMPLATE


@pytest.mark.parametrize("platform", sorted(CI_EXPORTERS))
def test_every_exporter_renders_one_job_per_stage(platform: str) -> None:
    config = load_config(CONFIG_TEMPLATE)
    text, path = render(platform, config)
    doc = yaml.safe_load(text)
    jobs = doc["jobs"] if platform == "github" else doc
    for stage in ("validate", "tune", "train", "test", "evaluate", "compare", "register"):
        assert f"mlgate run --until {stage}" in yaml.safe_dump(jobs[stage])
    assert "set-output" not in text
    assert path


def test_github_chains_jobs_and_uses_github_output() -> None:
    doc = yaml.safe_load(render("github", load_config(CONFIG_TEMPLATE))[0])
    assert doc["jobs"]["train"]["needs"] == "tune"
    assert "$GITHUB_OUTPUT" in yaml.safe_dump(doc["jobs"]["validate"])


def test_unknown_platform_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="choose from gitlab, github"):
        render("circle", load_config(CONFIG_TEMPLATE))


def test_gitlab_smoke_job_uses_the_staging_environment(tmp_path: Path) -> None:
    doc = yaml.safe_load(render("gitlab", load_config(CONFIG_TEMPLATE))[0])
    assert "http://127.0.0.1:8001" in doc["smoke-staging"]["script"][0]


@pytest.mark.parametrize(("platform", "schema"), [("github", "vendor.github-workflows"),
                                                  ("gitlab", "vendor.gitlab-ci")])
def test_rendered_file_passes_the_platform_schema(platform: str, schema: str, tmp_path: Path) -> None:
    """Validated against the official schemas that check-jsonschema ships (no network)."""
    import shutil
    import subprocess
    import sys

    tool = Path(sys.executable).with_name("check-jsonschema")
    if not tool.exists() and shutil.which("check-jsonschema") is None:
        pytest.skip("check-jsonschema is not installed (pip install -e '.[dev]')")
    file = tmp_path / f"{platform}.yml"
    file.write_text(render(platform, load_config(CONFIG_TEMPLATE))[0])
    out = subprocess.run([str(tool) if tool.exists() else "check-jsonschema", "--builtin-schema", schema, str(file)],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
