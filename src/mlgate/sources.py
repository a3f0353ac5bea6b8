"""The data sources of a project's stages, for the CI exporters: what each job pulls and which
variables it needs.

``dvc_pull_targets(config, stage)`` lists what a job of ``stage`` passes to ``dvc pull`` (the
stage's DVC-tracked inputs, nothing else) and ``ci_data_steps`` makes that the job's shell line;
``dvc_packages`` is what the job installs to pull (``dvc[s3]`` for an S3 remote);
``ci_variables(config)`` names the variables each data source needs (an object store's
credentials, a DVC remote's). A DVC remote is read from the committed ``.dvc/config`` only: a
CI job's checkout has no ``config.local``, and the generated file must not depend on one.
Reading, fingerprinting and fetching the data is ``mlgate.locations.refs``.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from mlgate.errors import DataError
from mlgate.locations import dvc
from mlgate.locations.objectstore import STORES, store_of
from mlgate.locations.refs import DataRef, as_ref
from mlgate.pipeline import STAGE_NAMES, STAGES

if TYPE_CHECKING:
    from mlgate.config import Config

__all__ = ["ci_data_steps", "ci_variables", "dvc_packages", "dvc_pull_targets", "stage_inputs"]

# which data keys a role reads, first given wins (as Pipeline._data_paths decides)
_ROLE_KEYS = {"train": ("path", "train"), "test": ("test", "path", "train"), "schema": ("schema",)}


def stage_inputs(config: Config, stage: str) -> list[DataRef]:
    """The data references a pipeline stage reads (its data roles; monitor: its current data and labels)."""
    spec = next((s for s in STAGES if s.name == stage), None)
    if spec is None:
        raise DataError(f"{stage!r} is not a stage")
    refs: list[DataRef] = []
    if spec.name == "monitor":
        section = config.monitor
        raws = [section.current, section.labels, section.reference]
        refs = [as_ref(r, config.root) for r in raws if r and not r.startswith("models:/")
                and not r.endswith(".json")]
    elif spec.reads_data:
        data = config.data
        values = {"path": data.path, "train": data.train, "test": data.test, "schema": data.schema_file}
        for role in spec.data_roles:
            key = next((k for k in _ROLE_KEYS[role] if values[k]), None)
            if key and values[key]:
                refs.append(as_ref(str(values[key]), config.root))
    return list(dict.fromkeys(refs))


def dvc_pull_targets(config: Config, stage: str) -> list[str]:
    """What a CI job of ``stage`` passes to ``dvc pull``, relative to the project folder.

    ``[]`` when the stage reads no DVC-tracked data. A .dvc file pulls its data; an output of a
    ``dvc.yaml`` stage is named by its path. ``dvc pull`` takes them from any folder of the DVC project.
    """
    targets = []
    for ref in stage_inputs(config, stage):
        if isinstance(ref, Path) and (found := dvc.tracked(ref)) is not None:
            output = found[0]
            named = output.record if output.record.suffix == ".dvc" else output.path
            try:
                targets.append(named.relative_to(config.root.absolute()).as_posix())
            except ValueError:
                targets.append(str(named))
    return sorted(set(targets))


# CI variables of DVC remotes, by the remote URL's scheme (see DVC's remote docs)
_DVC_REMOTE_VARIABLES = {
    "s3": STORES["s3"].variables, "gs": STORES["gs"].variables,
    "azure": ("AZURE_STORAGE_CONNECTION_STRING", "AZURE_STORAGE_ACCOUNT", "AZURE_STORAGE_KEY"),
    "ssh": ("DVC_SSH_KEY",), "http": (), "https": (), "webdav": (), "webdavs": (),
}


def ci_variables(config: Config, stages: Iterable[str] | None = None) -> dict[str, list[str]]:
    """The CI variables the stages' data sources need, by source: ``{"s3": [...], "dvc remote 'store' (s3)": [...]}``.

    Object URIs need their store's credentials (and endpoint for a non-AWS S3); DVC-tracked data
    needs the default remote's credentials (none for a local or mounted folder remote).
    """
    out: dict[str, list[str]] = {}
    for stage in stages or STAGE_NAMES:
        for ref in stage_inputs(config, stage):
            if isinstance(ref, str):
                store = store_of(ref)
                out[store.name] = list(store.variables)
            elif (found := dvc.tracked(ref)) is not None:
                name, url = dvc.default_remote(found[0].repo, local=False)
                scheme = url.split("://", 1)[0] if "://" in url else "local"
                variables = _DVC_REMOTE_VARIABLES.get(scheme, ())
                out[f"dvc remote {name!r} ({scheme})"] = list(variables)
    return out


# DVC's remote plugins, by the remote URL's scheme: `dvc` alone pulls from local folders and HTTP
_DVC_EXTRAS = {"s3": "s3", "gs": "gs", "azure": "azure", "ssh": "ssh", "hdfs": "hdfs", "webhdfs": "webhdfs",
               "oss": "oss", "gdrive": "gdrive", "webdav": "webdav", "webdavs": "webdav"}


def dvc_packages(config: Config) -> list[str]:
    """What a CI job installs beside mlgate to pull the project's DVC-tracked data: ``["dvc[s3]"]``
    for an S3 remote, ``["dvc"]`` for a local or HTTP one, ``[]`` when no input is DVC-tracked."""
    extras = set()
    for stage in STAGE_NAMES:
        for ref in stage_inputs(config, stage):
            if isinstance(ref, Path) and (found := dvc.tracked(ref)) is not None:
                url = dvc.default_remote(found[0].repo, local=False)[1]
                extras.add(_DVC_EXTRAS.get(url.split("://", 1)[0] if "://" in url else "", ""))
    if not extras:
        return []
    named = sorted(e for e in extras if e)
    return [f"dvc[{','.join(named)}]" if named else "dvc"]


def ci_data_steps(config: Config, stage: str) -> list[str]:
    """The shell lines a CI job of ``stage`` runs before mlgate: ``dvc pull`` of exactly its inputs."""
    targets = dvc_pull_targets(config, stage)
    return [f"dvc pull {' '.join(shlex.quote(t) for t in targets)}"] if targets else []
