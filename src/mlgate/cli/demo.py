"""``mlgate demo``: the whole loop on the bundled churn example."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlgate.cli._common import console, print_verdict
from mlgate.cli._hints import runnable
from mlgate.cli.app import app


@app.command()
def demo(
    folder: Annotated[Path, typer.Option("--dir", help="Folder for the demo project.")] = Path("mlgate-demo"),
    force: Annotated[bool, typer.Option(help="Re-run every stage even if unchanged.")] = False,
    rows: Annotated[int, typer.Option(min=500, help="Customers in the generated example.")] = 20_000,
) -> int:
    """Write the churn example, run the pipeline, serve the model and smoke-test it."""
    from mlgate import demo as lib
    from mlgate.cli.project import run_with_display

    config, created = lib.prepare(folder.resolve(), rows)
    console.print(f"[bold]mlgate demo[/] in {config.root} "
                  f"({'wrote the churn example' if created else 'reusing the example there'})")
    record = run_with_display(config, force=force)
    if record.exit_code:
        return record.exit_code
    model = lib.registered_model(record)
    console.print(f"Serving {model.uri} (version {model.version}) on 127.0.0.1 and smoke-testing it ...")
    smoke = lib.serve_and_smoke(config, model, record)
    print_verdict(smoke)
    root = config.root
    mlgate = runnable("mlgate", root)
    console.print(f"\n[bold]Reports[/]: {record.run_dir}/index.html (links every stage's report.html, smoke "
                  "included; merged JUnit: junit.xml)")
    console.print(f"[bold]Registry[/]: model '{model.name}' version {model.version} "
                  f"with alias '{model.alias}' in {root / '.mlgate' / 'mlflow.db'}")
    console.print(f"[bold]MLflow UI[/]: cd {root} && {lib.mlflow_ui_command(config, runnable('mlflow', root))}")
    console.print(f"[bold]Serve it[/]: cd {root} && {mlgate} serve --model {model.uri}")
    console.print(f"[bold]Again[/]: cd {root} && {mlgate} run   (every stage is cached)")
    return 0 if smoke.passed else 1
