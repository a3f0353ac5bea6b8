"""Where the config file is; kept free of heavy imports for the CLI's fast paths."""

from __future__ import annotations

import os
from pathlib import Path

CONFIG_NAME = "mlgate.yaml"
# The one output root of a gate run by its own command: ./mlgate-reports/<stage>
REPORTS_DIR = "mlgate-reports"


def config_file(path: str | Path | None = None) -> Path:
    """``path`` (a file, or a folder holding mlgate.yaml), or ./mlgate.yaml."""
    file = Path(path) if path else Path.cwd() / CONFIG_NAME
    return file / CONFIG_NAME if file.is_dir() else file


def report_dir(root: Path, stage: str) -> Path:
    """Where a gate run as a standalone command writes its reports: ``<root>/mlgate-reports/<stage>``."""
    return root / REPORTS_DIR / stage


def shown_path(path: Path) -> str:
    """``path`` relative to the working folder when it is under it (shorter in messages), else whole."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def write_text(path: Path, text: str) -> None:
    """Write through a temporary file and rename, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def file_stats(path: Path) -> list[list[str | int]]:
    """``[file, size, mtime_ns]`` of a file or of every file under a folder, sorted: what a stage
    marker records of local inputs, and what the no-op replay compares without loading anything."""
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    return [[str(f), f.stat().st_size, f.stat().st_mtime_ns] for f in files if f.exists()]
