"""What a stage gets to work with: the config, its output folder, its upstream folders."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mlgate.errors import UsageError

if TYPE_CHECKING:
    from mlgate.config import Config
    from mlgate.data.io import Dataset

ProgressHook = Callable[[str, float | None], None]


def _no_progress(note: str, fraction: float | None) -> None:
    return None


@dataclass
class StageContext:
    """Handed to each stage function ``run(ctx) -> Report``.

    ``upstream`` maps each stage this one needs to the folder holding that stage's outputs;
    for a stage skipped as cached, that is the folder of the run that produced them.
    ``progress(note, fraction)`` updates the stage's line in the progress display
    (``fraction`` in 0..1, or None when unknown).
    """

    config: Config
    out_dir: Path
    run_id: str = "adhoc"
    upstream: dict[str, Path] = field(default_factory=dict)
    progress: ProgressHook = _no_progress
    _dataset: Dataset | None = None

    @property
    def project_dir(self) -> Path:
        return self.config.root

    @property
    def state_dir(self) -> Path:
        """The project's ``.mlgate`` folder (MLflow store, Optuna storage, cache)."""
        return self.config.root / ".mlgate"

    def dataset(self) -> Dataset:
        """Train and test tables as the config says, loaded once per stage."""
        if self._dataset is None:
            from mlgate.data.io import load_dataset

            self._dataset = load_dataset(self.config)
        return self._dataset

    def upstream_dir(self, stage: str) -> Path:
        """The output folder of an upstream stage; a UsageError if it never ran."""
        try:
            return self.upstream[stage]
        except KeyError:
            raise UsageError(f"stage needs the output of '{stage}', which has not run yet; "
                             f"run `mlgate run --until {stage}` first") from None
