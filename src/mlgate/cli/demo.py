"""``mlgate demo``: the whole loop on the bundled churn example."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlgate.cli.app import app


@app.command()
def demo(
    folder: Annotated[Path, typer.Option("--dir", help="Folder for the demo project.")] = Path("mlgate-demo"),
    force: Annotated[bool, typer.Option(help="Re-run every stage even if unchanged.")] = False,
) -> int:
    """Write the churn example, run the pipeline, serve the model and smoke-test it."""
    from mlgate.demo import run_demo

    return run_demo(folder, force=force)
