"""Project scaffolding: ``mlgate init`` writes a commented config that fits the project's data.

With data (``--data``, a ``data/`` folder, or train/test tables in the folder) it reads the
data and writes the paths, target, task, id columns, models and thresholds it inferred
(``mlgate.init_data``); without, the commented template; with ``--example``, an example.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mlgate.config import CONFIG_NAME, config_from_dict, parse_yaml
from mlgate.errors import UsageError
from mlgate.examples.churn import write_example
from mlgate.init_data import DataFound, as_yaml_value, inspect_data

EXAMPLES = ("churn",)
TEMPLATE = Path(__file__).parent / "examples" / "template.yaml"


@dataclass
class InitResult:
    """What ``init`` wrote, and what it inferred from the data and why (empty without data)."""

    written: list[Path]
    reasons: list[str] = field(default_factory=list)


def init_project(folder: Path, example: str | None = None, *, force: bool = False, data: Path | None = None,
                 target: str | None = None) -> InitResult:
    """Write ``mlgate.yaml`` (and the example's data) into ``folder``.

    Refuses to overwrite an existing ``mlgate.yaml`` unless ``force``. Bad data (no target
    column found, a target with one value) is an error before anything is written.
    """
    if example is not None and example not in EXAMPLES:
        raise UsageError(f"unknown example {example!r}; examples: {', '.join(EXAMPLES)}")
    if example is not None and (data is not None or target is not None):
        raise UsageError("--example writes its own data; leave out --data and --target")
    config = folder / CONFIG_NAME
    if config.exists() and not force:
        raise UsageError(f"{config} already exists; pass --force to overwrite it")
    if example == "churn":
        folder.mkdir(parents=True, exist_ok=True)

        return InitResult(write_example(folder))
    found = inspect_data(folder, data, target) if folder.is_dir() or data is not None else None
    if found is None:
        if target is not None:
            raise UsageError(f"--target {target!r} given, but no data was found in {folder} (looked for "
                             "data/, train.csv/test.csv and .parquet); pass --data PATH")
        folder.mkdir(parents=True, exist_ok=True)
        config.write_text(TEMPLATE.read_text(encoding="utf-8"), encoding="utf-8")
        return InitResult([config])
    text = render_config(found, project=folder.resolve().name or "my-project")
    _validate(text, folder)  # never write a config that mlgate itself would reject
    config.write_text(text, encoding="utf-8")
    return InitResult([config], found.reasons)


def render_config(found: DataFound, project: str) -> str:
    """The commented mlgate.yaml for what ``inspect_data`` found."""
    v = as_yaml_value
    if found.path is not None:
        source = (f"  path: {v(found.path)}\n"
                  "  split: {test: 0.2, seed: 42}    # a seeded split into train and test\n")
    else:
        source = f"  train: {v(found.train)}\n"
        source += f"  test: {v(found.test)}\n" if found.test else "  split: {test: 0.2, seed: 42}\n"
    hint = (f"  # columns that look like protected attributes: {', '.join(found.protected_hints)}\n"
            if found.protected_hints else "")
    models = "".join(f"  - type: {m}\n" for m in found.models)
    performance = ", ".join(f"{k}: {val:g}" for k, val in found.thresholds.items())
    why = "\n".join(f"#   {r}" for r in found.reasons)
    return f"""# mlgate.yaml: one file for the whole pipeline (validate -> tune -> train -> test ->
# evaluate -> compare -> register). Written by `mlgate init` from the data it found:
{why}
# Every key except `data` has a default; unknown keys are errors. Paths are relative to
# this file. `mlgate init --example churn` writes a complete example with every section.

project: {v(project)}

data:
{source}  target: {v(found.target)}
  protected: []                  # protected attributes for the fairness checks
{hint}  id_columns: {v(found.id_columns)}

task: {found.task}
seed: 42

models:                          # candidates; the best on validation data is picked
{models}
tune:
  enabled: false                 # Optuna search for one model type
  n_trials: 20

gates:
  validate: {{min_quality_score: 0.9}}
  test:
    # a plain number is a minimum for a score and a maximum for a loss (rmse, log_loss)
    performance: {{{performance}}}
  evaluate:
    thresholds: {{}}               # e.g. {{roc_auc: 0.8, log_loss: 0.5}}
  compare: {{metric: ""}}          # "" picks the task's default; not significantly worse than production

registry:
  tracking_uri: "sqlite:///.mlgate/mlflow.db"      # or set MLFLOW_TRACKING_URI
  alias: staging
"""


def _validate(text: str, folder: Path) -> None:
    config_from_dict(parse_yaml(text, folder / CONFIG_NAME), folder, text=text)
