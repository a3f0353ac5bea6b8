"""mlgate.monitor: drift and live performance against the reference stored at registration.

    profile      mergeable profiles (percentile bins, level counts, exact values while small)
    batches      tables read in batches (pyarrow.parquet, pyarrow.csv); the reference spec; column checks
    drift        per-column comparisons and decisions through mlgate.stats; dataset drift
    performance  prediction log joined with delayed labels; windows with intervals; decay
    reference    the profile built at registration, and finding it again (models:/, file, data)
    report       checks, report.json extras and report.html sections
    push         Prometheus Pushgateway gauges
    distributed  per-file profiling on a Dask cluster
    stage        `mlgate monitor` and the pipeline's monitor stage
"""
