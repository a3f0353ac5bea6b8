"""``models:/`` URIs, parsed and resolved in one place (name, alias or version)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PREFIX = "models:/"


@dataclass(frozen=True)
class ModelUri:
    """``models:/churn@production`` -> name churn, alias production; ``models:/churn/3`` -> version 3."""

    name: str
    alias: str | None = None
    version: str | None = None


def parse_model_uri(uri: str) -> ModelUri | None:
    """The parts of a ``models:/`` URI, or None for anything else (a path, a runs:/ URI)."""
    if not uri.startswith(PREFIX):
        return None
    body = uri.removeprefix(PREFIX).rstrip("/")
    name, at, alias = body.partition("@")
    if at:
        return ModelUri(name, alias=alias or None)
    name, _, ref = body.partition("/")
    return ModelUri(name, version=ref if ref.isdigit() else None)


def resolve_version(uri: str, client: Any = None) -> str | None:
    """The registry version a ``models:/`` URI points at, reading an alias from the registry."""
    parts = parse_model_uri(uri)
    if parts is None:
        return None
    if parts.alias is None:
        return parts.version
    if client is None:
        from mlflow.tracking import MlflowClient

        client = MlflowClient()
    return str(client.get_model_version_by_alias(parts.name, parts.alias).version)
