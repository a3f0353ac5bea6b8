"""``mlgate ci gitlab|github``: write the pipeline as CI jobs."""

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
) -> None:
    """Write the pipeline as GitLab CI or GitHub Actions jobs, one job per stage."""
    from mlgate.ci import render

    cfg = load(config)
    text, default = render(platform.value, cfg)
    if str(output) == "-":
        console.print(text, markup=False, highlight=False, soft_wrap=True)
        return
    path = output or cfg.root / default
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    console.print(f"wrote {path}")
