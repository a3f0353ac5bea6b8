"""What a stage gets to work with, in a pipeline run or run by its own command.

Every stage is ``run_<stage>(ctx: StageContext) -> Report``. ``mlgate run`` builds the
context from the run folder and the upstream stages' outputs; ``standalone_context`` builds
the same context for ``mlgate train``, ``mlgate test``, ``mlgate evaluate``, ... with the
command's flags (``--model``, ``--data``, ``--reference``, ``--baseline``, config overrides)
and the one output root of standalone runs, ``./mlgate-reports/<stage>``.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgate._paths import report_dir
from mlgate.config import config_from_dict
from mlgate.data.io import load_dataset, load_table
from mlgate.errors import UsageError
from mlgate.models import load_model, read_metadata
from mlgate.runs import RunStore

if TYPE_CHECKING:
    import pandas as pd

    from mlgate.config import Config
    from mlgate.data.io import Dataset
    from mlgate.locations.refs import DataRef
    from mlgate.models import LoadedModel

ProgressHook = Callable[[str, float | None], None]
MODEL_FOLDER = "model"  # the train stage's MLflow model folder inside its output
STANDALONE = "standalone"


def _no_progress(note: str, fraction: float | None) -> None:
    return None


@dataclass
class StageContext:
    """Handed to each stage function ``run_<stage>(ctx) -> Report``.

    ``upstream`` maps each stage this one needs to the folder holding that stage's outputs;
    for a stage skipped as cached, that is the folder of the run that produced them (standalone:
    the project's last passing pipeline stages). ``progress(note, fraction)`` updates the
    stage's line in the progress display (``fraction`` in 0..1, or None when unknown).

    What a standalone command's flags name instead of the pipeline's: ``model`` (``--model``:
    the candidate, instead of the train stage's model), ``baseline`` (compare's ``--baseline``,
    instead of ``models:/NAME@production``), ``test_data`` (``--data`` of validate, test,
    evaluate and compare: the rows to check or judge, instead of the config's test table) and
    ``reference_data`` (``--reference``: the training rows, instead of the config's train
    table). ``bare`` says the config was made from the flags alone (its defaults are nobody's
    word). A command's flags that are no config key are not here: they are the stage's own
    options, a frozen dataclass beside the stage (``ValidateOptions``, ``MonitorOptions``,
    ``RegisterOptions``, ``DeployOptions``) passed as ``run_<stage>(ctx, options)``.
    """

    config: Config
    out_dir: Path
    run_id: str = STANDALONE
    upstream: dict[str, Path] = field(default_factory=dict)
    progress: ProgressHook = _no_progress
    model: str | None = None
    baseline: str | None = None
    test_data: DataRef | None = None  # a Path, or an object URI (see mlgate.locations.refs)
    reference_data: DataRef | None = None
    bare: bool = False
    _dataset: Dataset | None = None

    @property
    def state_dir(self) -> Path:
        """The project's ``.mlgate`` folder (MLflow store, Optuna storage, cache)."""
        return self.config.root / ".mlgate"

    def dataset(self) -> Dataset:
        """Train and test tables as the config says, loaded once per stage."""
        if self._dataset is None:
            self._dataset = load_dataset(self.config)
        return self._dataset

    def test_table(self) -> pd.DataFrame:
        """The rows to judge the model on: ``--data``, else the config's test table."""
        if self.test_data is not None:
            return load_table(self.test_data)
        return self.dataset().test

    def reference_table(self) -> pd.DataFrame | None:
        """The training rows to compare against: ``--reference``, else the config's train table.

        None when ``--data`` names the test rows without a reference: the config's train table
        need not be where those rows came from.
        """
        if self.reference_data is not None:
            return load_table(self.reference_data)
        return None if self.test_data is not None else self.dataset().train

    @property
    def candidate_from_pipeline(self) -> bool:
        """Whether the candidate is the train stage's output (not a ``--model`` flag)."""
        return self.model is None

    def candidate_spec(self) -> str:
        """``--model``, else the model folder the train stage wrote."""
        if self.model is not None:
            return self.model
        folder = self.upstream.get("train")
        if folder is None:
            raise UsageError("no model: pass --model PATH|URI (an MLflow model folder, a "
                             ".joblib/.pkl file or models:/NAME@ALIAS), or train one first in a project: "
                             "`mlgate run --until train`")
        path = folder / MODEL_FOLDER
        if not path.exists():
            raise UsageError(f"the train stage's output {folder} holds no '{MODEL_FOLDER}' folder; "
                             "re-run `mlgate run --force --until train`")
        return str(path)

    def newer_trained_model(self) -> Path | None:
        """The model ``mlgate train`` wrote to its default report folder, when it is newer than the
        pipeline's train stage output this command judges by default (``mlgate train`` alone is no
        pipeline stage, so ``mlgate test`` / ``evaluate`` / ``compare`` / ``register`` after it
        would silently judge the older model: the command says so instead)."""
        if not self.candidate_from_pipeline or self.upstream.get("train") is None:
            return None
        judged = self.upstream["train"] / MODEL_FOLDER
        alone = report_dir(self.config.root, "train") / MODEL_FOLDER
        try:
            newer = alone.stat().st_mtime > judged.stat().st_mtime
        except OSError:
            return None
        return alone if newer else None

    def load_candidate(self) -> LoadedModel:
        """The model under test: loaded from ``candidate_spec()``, with the config's task."""
        loaded = load_model(self.candidate_spec(), self.config)
        if self.config.task and not loaded.info.get("task"):
            loaded.info["task"] = self.config.task
        return loaded


def standalone_context(stage: str, config: Config | None = None, *, output: Path | None = None,
                       model: str | None = None, baseline: str | None = None, data: DataRef | None = None,
                       reference: DataRef | None = None, settings: dict[str, Any] | None = None,
                       root: Path | None = None) -> StageContext:
    """The context of one stage run by its own command.

    ``settings`` overrides config keys for this call (``{"data.target": "y", "tune.n_trials": 5}``,
    re-validated, so a bad value is the usual config error). Without a config (a bare folder)
    the data flags make one: ``--data`` is the test table, ``--reference`` the train table.
    Upstream folders are the project's last passing pipeline stages (train's model, tune's
    best params), so ``mlgate evaluate`` after ``mlgate run`` judges the pipeline's model.
    The command's flags that are no config key go to the stage as its options (see ``StageContext``).
    """
    bare = config is None
    if config is None:
        config = _bare_config(root or Path.cwd(), model, data, reference)
    if settings:
        config = override(config, settings)

    upstream = RunStore(config.root).stage_dirs()
    out_dir = Path(output) if output else report_dir(config.root, stage)
    _make_output(out_dir)
    return StageContext(config=config, out_dir=out_dir, run_id=f"{STANDALONE}-{stage}", upstream=upstream,
                        model=model, baseline=baseline, test_data=data, reference_data=reference, bare=bare)


_MADE: list[Path] = []  # report folders standalone_context created in this process, deepest first


def _make_output(folder: Path) -> None:
    _MADE.extend(p for p in (folder, *folder.parents) if not p.exists())
    folder.mkdir(parents=True, exist_ok=True)


def discard_empty_outputs() -> None:
    """Remove the report folders a standalone command created and left empty: one that stopped on
    bad input leaves nothing behind. Only empty folders go, so no earlier report is touched."""
    for folder in _MADE:
        with suppress(OSError):  # not empty (or gone): keep it
            folder.rmdir()
    _MADE.clear()


def override(config: Config, settings: dict[str, Any]) -> Config:
    """A copy of ``config`` with dotted keys set (``None`` values leave a key as it is)."""
    raw = config.model_dump(mode="json", by_alias=True, exclude_none=True)
    for dotted, value in settings.items():
        if value is None:
            continue
        *parents, last = dotted.split(".")
        node = raw
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value
    return config_from_dict(raw, config.root, source=config.source)


def _bare_config(root: Path, model: str | None, data: DataRef | None, reference: DataRef | None) -> Config:
    """A config for a folder without mlgate.yaml, from the command's flags alone."""
    if data is None and reference is None:
        raise UsageError("no test data: pass --data FILE (a CSV or Parquet file with the target "
                         "column), or run inside a project with mlgate.yaml")
    tables = {"train": str(reference or data), **({"test": str(data)} if data else {})}
    target = _model_target(model)
    return config_from_dict({"data": {**tables, **({"target": target} if target else {})}}, root)


def _model_target(model: str | None) -> str | None:
    """The target column recorded in an mlgate model folder, if any (no model is loaded)."""
    if model is None or not Path(model).is_dir():
        return None

    try:
        target = read_metadata(Path(model)).get("target")
    except Exception:  # an unreadable folder is reported when the model is loaded
        return None
    return str(target) if target else None
