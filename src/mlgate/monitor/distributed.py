"""Profiling files on a Dask cluster (``mlgate[dask]``): one task per file, profiles merged here.

Profiles built on the same spec merge exactly, so the merged profile (and every verdict) equals
the one a single process computes; only the per-file work moves to the workers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mlgate.locations.cluster import dask_client
from mlgate.locations.refs import DataRef, as_ref, table_files
from mlgate.monitor.batches import open_dataset, profile_source
from mlgate.monitor.profile import ProfileSpec, TableProfile, empty_profile


def profile_file(path: str, spec_dict: dict[str, Any], allow_missing: Sequence[str]) -> dict[str, Any]:
    """Profile one file on a worker; plain dicts travel, so workers need only mlgate and pyarrow."""
    spec = ProfileSpec.from_dict(spec_dict)
    # each worker opens its own file: a local path, or an object URI read with the worker's credentials
    return profile_source(open_dataset(as_ref(path)), spec, where=path, allow_missing=allow_missing).to_dict()


def profile_on_dask(scheduler: Any, path: DataRef, spec: ProfileSpec, *,
                    allow_missing: Sequence[str] = ()) -> TableProfile:
    """Profile every file under ``path`` on the cluster at ``scheduler`` (an address or a Client)."""
    files = [str(f) for f in table_files(path)]
    with dask_client(scheduler) as client:
        futures = client.map(profile_file, files, spec_dict=spec.to_dict(), allow_missing=list(allow_missing),
                             pure=False)
        parts = client.gather(futures)
    total = empty_profile(spec)
    for part, name in zip(parts, files, strict=True):
        total = total.merge(TableProfile.from_dict(part, name))
    return total
