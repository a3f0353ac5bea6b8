"""Drift per column from two profiles, decided by the statistics core (``mlgate.stats``).

Which comparison runs for a column:

- categorical (and boolean): counts of the reference's levels plus "rest", ``compare_counts``
  (default chi-square, effect = share distance TVD);
- numeric with both sides at most ``EXACT_MAX`` values: the raw values, ``compare_samples``
  (default KS, exactly scipy's ``ks_2samp`` on the same data);
- numeric with more values: the counts on the reference's deciles, ``compare_counts`` (PSI equals
  PSI on the raw values, since the deciles are the ones PSI uses; KS, Wasserstein and
  Mann-Whitney need raw values and are replaced by chi-square on the deciles, whose TVD equals the
  largest CDF gap at the decile edges for a location shift, so the KS materiality floor carries over).

Features are decided together (Holm across them by default, so a clean batch raises a false alarm
in any feature with probability at most alpha); predictions and the target each on their own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mlgate.config import MonitorColumn
from mlgate.errors import ConfigError
from mlgate.monitor.profile import ColumnProfile, ColumnSpec, TableProfile
from mlgate.stats import METHODS, compare_counts, compare_samples, decide, default_rule, methods_reading

_KIND_RULE = {("feature", "numeric"): "numeric", ("feature", "categorical"): "categorical",
              ("prediction", "numeric"): "prediction", ("prediction", "categorical"): "categorical",
              ("target", "numeric"): "numeric", ("target", "categorical"): "target"}


@dataclass(frozen=True)
class DriftSettings:
    """How drift is decided: per-column overrides, the dataset drift share, the correction."""

    columns: Mapping[str, MonitorColumn] = field(default_factory=dict)
    drift_share: float = 0.5
    correction: str = "holm"

    def critical(self, column: str) -> bool:
        own = self.columns.get(column)
        return bool(own is not None and own.critical)


@dataclass(frozen=True)
class ColumnDrift:
    """One column's verdict: its role, the method that ran, the core's decision, and the profiles."""

    column: str
    role: str
    kind: str
    method: str
    decision: Any  # mlgate.stats.Decision
    critical: bool
    note: str = ""

    @property
    def drifted(self) -> bool:
        return bool(self.decision.outcome == "differs")

    @property
    def severity(self) -> float:
        """Sort key for the drift table: drifted first, then by effect over its materiality floor."""
        cmp, rule = self.decision.comparison, self.decision.rule
        if cmp is None or rule is None or cmp.effect != cmp.effect:
            return -1.0
        return (1.0 if self.drifted else 0.0) + abs(cmp.effect) / max(rule.material, 1e-9) / 1000


@dataclass(frozen=True)
class DriftResult:
    """Every column's drift, and the dataset-level verdict."""

    columns: list[ColumnDrift]
    drift_share: float
    share_limit: float

    @property
    def features(self) -> list[ColumnDrift]:
        return [c for c in self.columns if c.role == "feature"]

    @property
    def drifted_features(self) -> list[str]:
        return [c.column for c in self.features if c.drifted]

    @property
    def dataset_drift(self) -> bool:
        return bool(self.features) and self.drift_share >= self.share_limit

    def by_severity(self) -> list[ColumnDrift]:
        return sorted(self.columns, key=lambda c: (-c.severity, c.column))


def rule_for(spec: ColumnSpec, override: MonitorColumn | None) -> Any:
    """The core's default rule for the column's role and kind, with the config's overrides (their
    method names were checked by the core's ``RuleSettings``); a categorical column needs a method
    that reads counts."""
    rule = default_rule(_KIND_RULE[(spec.role, spec.kind)])
    if override is None:
        return rule
    counting = methods_reading("counts")
    if spec.kind == "categorical" and override.method is not None and override.method not in counting:
        raise ConfigError(f"monitor.columns.{spec.name}.method: {spec.name!r} is categorical, so it needs "
                          f"a count method ({', '.join(counting)}), got {override.method!r}")
    try:
        return override.apply(rule)
    except ValueError as exc:
        raise ConfigError(f"monitor.columns.{spec.name}: {exc}") from exc


def compare_column(spec: ColumnSpec, ref: ColumnProfile, cur: ColumnProfile, method: str) -> tuple[Any, str]:
    """The core's Comparison of one column's profiles, and a note when the method had to change."""
    reads = METHODS[method].reads
    if spec.kind == "categorical":
        keys = [*spec.levels, "(rest)"]
        return compare_counts(dict(zip(keys, ref.counts, strict=True)), dict(zip(keys, cur.counts, strict=True)),
                              method=method), ""
    if "samples" in reads and ref.sample is not None and cur.sample is not None:
        return compare_samples(ref.sample, cur.sample, method=method), ""
    r, c = coarse_counts(spec, ref), coarse_counts(spec, cur)
    if "counts" in reads:
        return compare_counts(r, c, method=method), ""
    fallback = default_rule("categorical").method
    return (compare_counts(r, c, method=fallback),
            f"{method} needs raw values; {fallback} on the reference deciles (more than the exact limit of values)")


def coarse_counts(spec: ColumnSpec, prof: ColumnProfile) -> dict[int, int]:
    """Counts per reference decile (the PSI bins), summed from the percentile bins."""
    import numpy as np

    # fine bin 0 lies below edges[0]; fine bin i >= 1 starts at edges[i - 1], and every decile
    # edge is one of the edges, so each fine bin falls in exactly one decile bin
    starts = np.concatenate([[-np.inf], np.asarray(spec.edges)])
    index = np.searchsorted(np.asarray(spec.deciles), starts, side="right")
    out: dict[int, int] = {}
    for i, count in zip(index.tolist(), prof.counts, strict=True):
        out[i] = out.get(i, 0) + int(count)
    return out


def column_drift(reference: TableProfile, current: TableProfile, settings: DriftSettings) -> DriftResult:
    """Decide drift for every column of the reference that the current profile has values for."""
    groups: dict[str, dict[str, tuple[Any, str, Any, ColumnSpec]]] = {"feature": {}, "prediction": {}, "target": {}}
    for spec in reference.spec.columns:
        cur = current.columns.get(spec.name)
        if cur is None or (spec.role != "feature" and cur.n + cur.missing == 0):
            continue  # predictions or labels absent from this batch
        own = settings.columns.get(spec.name)
        if own is not None and not own.enabled:
            continue  # monitor.columns.<name>.enabled: false
        rule = rule_for(spec, own)
        cmp, note = compare_column(spec, reference.columns[spec.name], cur, rule.method)
        used = rule.replace(method=cmp.method) if cmp.method != rule.method else rule
        groups[spec.role][spec.name] = (cmp, note, used, spec)
    out: list[ColumnDrift] = []
    for group in groups.values():
        if not group:
            continue
        decisions = decide({k: v[0] for k, v in group.items()}, {k: v[2] for k, v in group.items()},
                           correction=settings.correction)
        for name, (cmp, note, _rule, spec) in group.items():
            out.append(ColumnDrift(name, spec.role, spec.kind, cmp.method, decisions[name],
                                   settings.critical(name), note))
    features = [c for c in out if c.role == "feature"]
    share = sum(c.drifted for c in features) / len(features) if features else 0.0
    return DriftResult(out, share, settings.drift_share)
