"""--dask: per-file profiles computed on a Dask LocalCluster merge into the single-process profile."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlgate.monitor.batches import frame_source, infer_spec, open_dataset, profile_source
from mlgate.monitor.drift import DriftSettings, column_drift

pytestmark = pytest.mark.integration
distributed = pytest.importorskip("distributed")


def test_dask_profiles_equal_one_process(tmp_path):
    from mlgate.monitor.distributed import profile_on_dask

    rng = np.random.default_rng(0)
    ref = pd.DataFrame({"x": rng.normal(0, 1, 3000), "c": rng.choice(list("abc"), 3000)})
    spec = infer_spec(frame_source(ref))
    folder = tmp_path / "current"
    folder.mkdir()
    for i in range(3):
        part = pd.DataFrame({"x": rng.normal(0.2 * i, 1, 2000), "c": rng.choice(list("abc"), 2000)})
        part.to_parquet(folder / f"part-{i}.parquet")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                       dashboard_address=":0")  # None still binds 8787: two xdist workers clash
    with cluster, distributed.Client(cluster) as client:
        merged = profile_on_dask(client, folder, spec)
    single = profile_source(open_dataset(folder), spec)
    assert merged.to_dict() == single.to_dict()
    reference = profile_source(frame_source(ref), spec)
    verdicts = [[(c.column, c.decision.outcome) for c in column_drift(reference, p, DriftSettings()).columns]
                for p in (merged, single)]
    assert verdicts[0] == verdicts[1]
