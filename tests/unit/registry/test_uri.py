"""models:/ URIs are parsed in one place."""

from __future__ import annotations

import pytest

from mlgate.registry.uri import ModelUri, parse_model_uri, resolve_version


@pytest.mark.parametrize(("uri", "parts"), [
    ("models:/churn@production", ModelUri("churn", alias="production")),
    ("models:/churn/3", ModelUri("churn", version="3")),
    ("models:/churn/latest", ModelUri("churn")),
    ("models:/perf-lr/1/", ModelUri("perf-lr", version="1")),
    ("runs:/abc/model", None),
    ("model.joblib", None),
])
def test_parse_model_uri(uri: str, parts: ModelUri | None) -> None:
    assert parse_model_uri(uri) == parts


def test_resolve_version_reads_an_alias_from_the_registry() -> None:
    class Client:
        def get_model_version_by_alias(self, name: str, alias: str):  # type: ignore[no-untyped-def]
            assert (name, alias) == ("churn", "staging")
            return type("MV", (), {"version": 4})()

    assert resolve_version("models:/churn@staging", Client()) == "4"
    assert resolve_version("models:/churn/2", Client()) == "2"
    assert resolve_version("file.joblib") is None
