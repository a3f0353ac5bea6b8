"""A Dask cluster to compute per-file state on (``--dask``, ``mlgate[dask]``): validate and monitor share it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from mlgate.errors import MissingDependency


@contextlib.contextmanager
def dask_client(scheduler: Any) -> Iterator[Any]:
    """A ``distributed.Client`` for ``scheduler`` (an address, or a Client the caller owns and
    keeps open); a client opened here is closed on exit."""
    try:
        from distributed import Client  # heavy (0.46 s): only --dask loads it
    except ImportError:
        raise MissingDependency("dask[distributed]", "dask", "--dask") from None
    client = scheduler if isinstance(scheduler, Client) else Client(scheduler, timeout="20s")
    try:
        yield client
    finally:
        if client is not scheduler:
            client.close()
