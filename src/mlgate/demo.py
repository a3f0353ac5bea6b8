"""``mlgate demo``: the whole loop on the bundled churn example.

Writes the example (unless the folder already holds one), runs the pipeline, serves the
registered model on a free loopback port with a fresh API key, runs the deployment smoke
suite against it and stops the server.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mlgate.config import CONFIG_NAME, Config, load_config
from mlgate.errors import UsageError
from mlgate.examples.churn import write_example
from mlgate.registration import REGISTERED_FILE
from mlgate.reports import write_report
from mlgate.runs import StageRecord, add_stage
from mlgate.serve.process import ServerProcess
from mlgate.smoke import run_smoke
from mlgate.tracking import tracking_uri

if TYPE_CHECKING:
    from mlgate.pipeline import RunRecord
    from mlgate.reports.model import Report


@dataclass
class RegisteredModel:
    """The registry version the pipeline just produced."""

    name: str
    version: str
    alias: str

    @property
    def uri(self) -> str:
        return f"models:/{self.name}@{self.alias}"


def prepare(folder: Path, rows: int = 20_000) -> tuple[Config, bool]:
    """The demo project's config, writing the example (``rows`` customers) when the folder has none."""
    created = not (folder / CONFIG_NAME).exists()
    if created:
        if folder.exists() and any(folder.iterdir()):
            raise UsageError(f"{folder} exists and is not an mlgate demo folder; "
                             "pass --dir with a new or empty folder")
        write_example(folder, n_rows=rows)
    return load_config(folder / CONFIG_NAME), created


def registered_model(record: RunRecord) -> RegisteredModel:
    """Read ``registered.json`` from the run's register stage (or its cached outputs)."""
    stage = next((s for s in record.stages if s.name == "register"), None)
    if stage is None or not stage.out_dir:
        raise UsageError("the pipeline did not reach the register stage")

    body = json.loads((Path(stage.out_dir) / REGISTERED_FILE).read_text(encoding="utf-8"))
    return RegisteredModel(name=body["name"], version=str(body["version"]), alias=body["alias"])


def serve_and_smoke(config: Config, model: RegisteredModel, record: RunRecord) -> Report:
    """Serve the model on a free loopback port with a new API key and smoke-test it.

    The smoke report goes into the run's ``smoke/`` folder and becomes a stage of the run:
    the run's index.html and merged junit.xml list it after register.
    """
    key = secrets.token_urlsafe(24)
    assert config.source is not None  # a loaded config always has its file
    out_dir = Path(record.run_dir) / "smoke"
    with ServerProcess(model.uri, config_path=config.source, api_keys=[key]) as server:
        report = run_smoke(server.url, api_key=key, expect_version=model.version)
        report.extras["url"] = server.url
    write_report(report, out_dir)
    add_stage(record, StageRecord("smoke", "ran" if report.passed else "failed", report.passed,
                                  out_dir=str(out_dir), duration_s=report.duration_s,
                                  key_figure=report.key_figure))
    return report


def mlflow_ui_command(config: Config, mlflow: str = "mlflow") -> str:
    """The command that opens the MLflow UI on the demo's store (``mlflow``: how to call MLflow)."""
    return f"{mlflow} ui --backend-store-uri {tracking_uri(config)} --port 5000"
