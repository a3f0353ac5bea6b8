"""The one error hierarchy of mlgate; each class owns its exit code.

    MlgateError (exit 2 unless a subclass says otherwise)
    ├── UsageError          bad flags or a missing argument
    ├── ConfigError         mlgate.yaml (or another YAML) does not parse or validate
    ├── DataError           a data file is unreadable, empty, or lacks a column
    ├── SchemaError         a schema file does not parse or does not fit the data
    ├── ModelLoadError      a model path or URI cannot be loaded
    ├── RegistryError       the MLflow store or registry refuses an operation
    ├── MissingDependency   an optional extra is not installed
    ├── ServeError          the server cannot start as asked
    ├── PostError           a CI platform's API refuses or cannot be reached (report --post)
    └── GateFailed (exit 1) a gate ran and a check fell short

The CLI entry point turns them into ``Error: <message>`` and the exit code; code elsewhere
catches one only to add context or to record a failed check, then re-raises or reports it.
The server maps them to HTTP statuses in one table.
"""

from __future__ import annotations


class MlgateError(Exception):
    """Base of every error mlgate reports to a user."""

    exit_code: int = 2

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(MlgateError):
    """A command was called with flags that do not fit together."""


class ConfigError(MlgateError):
    """A configuration file is missing, does not parse, or does not validate."""


class DataError(MlgateError):
    """A data file cannot be read or does not have what a stage needs."""


class SchemaError(MlgateError):
    """A data schema file does not parse or is inconsistent."""


class ModelLoadError(MlgateError):
    """A model path, file or registry URI cannot be loaded."""


class RegistryError(MlgateError):
    """The tracking store or model registry cannot do what was asked."""


class MissingDependency(MlgateError):
    """An optional dependency is needed but not installed."""

    def __init__(self, package: str, extra: str, purpose: str) -> None:
        super().__init__(f"{purpose} needs {package}: pip install 'mlgate[{extra}]'")


class ServeError(MlgateError):
    """The model server cannot start as asked."""


class PostError(MlgateError):
    """A merge-request comment cannot be posted: the CI platform's API refused it or is unreachable."""


class GateFailed(MlgateError):
    """A gate ran to the end and at least one of its checks fell short."""

    exit_code = 1
