"""Project scaffolding: ``mlgate init`` writes a commented config, optionally an example."""

from __future__ import annotations

from pathlib import Path

from mlgate.config import CONFIG_NAME
from mlgate.errors import UsageError

EXAMPLES = ("churn",)
TEMPLATE = Path(__file__).parent / "examples" / "template.yaml"


def init_project(folder: Path, example: str | None = None, *, force: bool = False) -> list[Path]:
    """Write ``mlgate.yaml`` (and the example's data) into ``folder``; return what was written.

    Refuses to overwrite an existing ``mlgate.yaml`` unless ``force``.
    """
    if example is not None and example not in EXAMPLES:
        raise UsageError(f"unknown example {example!r}; examples: {', '.join(EXAMPLES)}")
    config = folder / CONFIG_NAME
    if config.exists() and not force:
        raise UsageError(f"{config} already exists; pass --force to overwrite it")
    folder.mkdir(parents=True, exist_ok=True)
    if example == "churn":
        from mlgate.examples.churn import write_example

        return write_example(folder)
    config.write_text(TEMPLATE.read_text(encoding="utf-8"), encoding="utf-8")
    return [config]
