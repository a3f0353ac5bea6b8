"""Where the config file is; kept free of heavy imports for the CLI's fast paths."""

from __future__ import annotations

from pathlib import Path

CONFIG_NAME = "mlgate.yaml"


def config_file(path: str | Path | None = None) -> Path:
    """``path`` (a file, or a folder holding mlgate.yaml), or ./mlgate.yaml."""
    file = Path(path) if path else Path.cwd() / CONFIG_NAME
    return file / CONFIG_NAME if file.is_dir() else file
