"""/invocations drops columns the model does not use, as MLflow's server does; /predict stays strict."""

from __future__ import annotations

from pathlib import Path

from test_app import AUTH, call, settings

from mlgate.serve.app import IGNORED_HEADER, create_app


def test_invocations_ignores_unused_columns_and_says_so(served, lr_model_dir: Path) -> None:  # type: ignore[no-untyped-def]
    app = create_app(settings(lr_model_dir, rate_limit="1000/minute"), served)
    row = {**served.example, "customer_id": "C-1", "note": "x"}
    plain = call(app, "POST", "/invocations", json={"dataframe_records": [served.example]}, headers=AUTH)
    extra = call(app, "POST", "/invocations", json={"dataframe_records": [row, row]}, headers=AUTH)
    assert extra.status_code == 200 and extra.json()["predictions"] == plain.json()["predictions"] * 2
    assert extra.headers[IGNORED_HEADER] == "customer_id, note" and IGNORED_HEADER not in plain.headers
    metrics = call(app, "GET", "/metrics").text
    assert 'ml_ignored_columns_total{model_version="7",slot="stable"} 2.0' in metrics
    strict = call(app, "POST", "/predict", json={"features": row}, headers=AUTH)
    assert strict.status_code == 422 and "customer_id: unknown feature" in strict.json()["message"]


def test_model_info_names_the_registered_model(lr_model_dir: Path) -> None:
    from mlgate.serve.model import ServedModel

    registered = ServedModel.load(lr_model_dir, version="1", source="models:/perf-lr/1")
    assert registered.describe()["name"] == "perf-lr"
    assert ServedModel.load(lr_model_dir, version="1").describe()["name"] == "churn"  # mlgate.json's
