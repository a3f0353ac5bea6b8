"""``mlgate ci gitlab|github``: write the pipeline as CI jobs, or check the committed file."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from mlgate.cli._common import ConfigOpt, console, load
from mlgate.cli.app import app


class Platform(StrEnum):
    gitlab = "gitlab"
    github = "github"


@app.command()
def ci(
    platform: Annotated[Platform, typer.Argument(help="gitlab or github.", show_default=False)],
    config: ConfigOpt = None,
    output: Annotated[Path | None, typer.Option("--output", "-o",
                      help="File to write (default: .gitlab-ci.yml or .github/workflows/mlgate.yml); "
                           "'-' prints it.")] = None,
    check: Annotated[bool, typer.Option("--check", help="Write nothing; exit 1 with a diff when the "
                                        "file differs from what mlgate.yaml generates.")] = False,
) -> int:
    """Write the pipeline as GitLab CI or GitHub Actions jobs, one job per stage.

    Validate (data gate, project tests, security scan), a train matrix with one job per
    candidate and a job that picks the best, manual tuning, test, evaluate, compare, a
    merge-request report, register, staging, a canary that holds until its analysis
    promotes or rolls back, production tests, and a scheduled monitor job when monitoring is
    configured. CI settings that could only fail in a job (an unknown extra in ci.install, a
    missing environment, a canary window too short) are refused with exit 2. See docs/ci.md.
    """
    from mlgate.ci import render, stale_diff

    cfg = load(config)
    text, default = render(platform.value, cfg)
    if str(output) == "-":
        console.print(text, markup=False, highlight=False, soft_wrap=True, end="")
        return 0
    path = output or cfg.root / default
    if check:
        diff = stale_diff(platform.value, cfg, path)
        if diff:
            console.print(diff, markup=False, highlight=False, soft_wrap=True, end="")
            console.print(f"{path} is stale: run `mlgate ci {platform.value}` and commit it")
            return 1
        console.print(f"{path} is current")
        return 0
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        from mlgate.errors import UsageError

        raise UsageError(f"cannot write {path}: {exc.strerror}; give --output a file path") from exc
    console.print(f"wrote {path}")
    return 0
