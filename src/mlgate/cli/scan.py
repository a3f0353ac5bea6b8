"""``mlgate scan``: bandit, model files, dependency audit and SBOM as one security gate."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlgate.cli._common import ConfigOpt, OutputOpt, console, finish, maybe_load, report_dir
from mlgate.cli.app import app


@app.command()
def scan(
    config: ConfigOpt = None,
    src: Annotated[list[Path] | None, typer.Option(
        "--src", help="Source folder for bandit (repeatable; default: security.scan.src, ./src).")] = None,
    models: Annotated[list[Path] | None, typer.Option(
        "--models", help="Folder of model files to check without loading them (repeatable; default: "
                    "security.scan.models, none).")] = None,
    fail_on: Annotated[str | None, typer.Option(
        help="Lowest severity that fails the gate: low, medium or high (default: security.scan.fail_on, "
             "high).")] = None,
    audit: Annotated[bool, typer.Option(help="Audit installed packages with pip-audit (needs PyPI).")] = True,
    sbom: Annotated[bool, typer.Option(help="Write a CycloneDX SBOM of the environment.")] = True,
    output: OutputOpt = None,
) -> int:
    """Security scan: bandit (SARIF), model files, pip-audit, CycloneDX SBOM; exit 1 on findings.

    Model files are checked against mlgate's allow-list of model types without being loaded;
    an unreachable vulnerability service is reported as an "offline" warning, not a pass.
    """
    from mlgate.security.folders import policy_for
    from mlgate.security.scan import SARIF_FILE, SBOM_FILE, run_scan, scan_request

    cfg = maybe_load(config)
    root = cfg.root if cfg else Path.cwd()
    out_dir = output or report_dir(root, "scan")
    request = scan_request(cfg, root, src=src, models=models, fail_on=fail_on, audit=audit, sbom=sbom)
    report = run_scan(request, out_dir, policy_for(cfg))
    for name in (SARIF_FILE, SBOM_FILE):
        if (out_dir / name).exists():
            console.print(f"{name}: {out_dir / name}")
    return finish(report, out_dir)
