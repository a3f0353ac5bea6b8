"""Canary analysis: the canary (or shadow) slot against the stable one, the way Kayenta does it.

The canary is compared with the baseline: the stable version answering another share of
requests as large as the canary's (see ``mlgate.serve.lanes``), so both see the same load.
Three comparisons of the requests each slot answered since the current step began, each
with a minimum sample size and a materiality bound from ``deploy.canary`` (defaults in
``mlgate.config.CanaryConfig``), decided together by ``mlgate.stats.decide`` with Holm's
correction, so the chance that two identical versions are rolled back is at most alpha:

- ``error_rate``: Fisher's exact test on errors/requests; effect = canary rate - stable rate;
- ``latency``: Mann-Whitney U on the per-request latencies; effect = rank-biserial
  correlation (only a slower canary counts; not run for a shadow, whose copies are
  answered after the client's request);
- ``predictions``: chi-square on the predicted labels (KS for a regressor's values);
  effect = total variation distance (KS distance).

Verdict: ``rollback`` when a comparison differs in the bad direction, ``continue`` while any
comparison lacks data, else ``promote``. For a shadow the report adds the agreement rate
(share of copied rows where shadow and stable predicted the same label).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from mlgate.reports.model import Check, Report
from mlgate.roles import BASELINE, CANARY, STABLE
from mlgate.roles import role as traffic_role
from mlgate.stats import Rule, compare_counts, compare_proportions, compare_samples, decide

if TYPE_CHECKING:
    from mlgate.config import CanaryConfig
    from mlgate.stats import Comparison, Decision

Verdict = Literal["promote", "continue", "rollback"]


@dataclass
class SlotSample:
    """What one slot's requests showed: counts, latencies and predicted labels."""

    requests: int = 0
    errors: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    labels: list[Any] = field(default_factory=list)
    agree: int = 0
    compared_rows: int = 0

    def add(self, row: list[Any]) -> None:
        self.requests += 1
        ok = bool(row[4])
        self.errors += not ok
        if ok:
            self.latencies_ms.append(float(row[3]))
            self.labels.extend(row[5])
            if len(row) > 6:
                self.agree += int(row[6])
                self.compared_rows += len(row[5])


@dataclass
class Analysis:
    """The verdict, the decision per comparison and the samples behind them."""

    role: str
    verdict: Verdict
    decisions: dict[str, Decision]
    bad: list[str]
    stable: SlotSample
    candidate: SlotSample

    @property
    def agreement(self) -> float | None:
        rows = self.candidate.compared_rows
        return self.candidate.agree / rows if rows else None

    def reasons(self) -> str:
        names = self.bad or [k for k, d in self.decisions.items() if d.outcome == "undecided"]
        return "; ".join(self.decisions[n].reason for n in names) or "every comparison: same"


def split(rows: list[list[Any]], role: str) -> tuple[SlotSample, SlotSample]:
    """The reference sample and the ``role`` slot's, from /admin/observations rows.

    A canary's reference is the baseline lane (the stable model given the canary's share of
    traffic); a shadow's is the stable slot, whose requests it receives copies of.
    """
    reference = BASELINE if traffic_role(role).routing == "weight" else STABLE.name
    stable, other = SlotSample(), SlotSample()
    for row in rows:
        if row[1] == reference:
            stable.add(row)
        elif row[1] == role:
            other.add(row)
    return stable, other


def _numeric(labels: list[Any]) -> bool:
    return bool(labels) and all(isinstance(v, int | float) and not isinstance(v, bool) for v in labels) and \
        len(set(labels)) > 20


def comparisons(stable: SlotSample, cur: SlotSample, role: str) -> dict[str, Comparison | None]:
    """The two-sample comparisons of canary analysis (None where a side has no data)."""
    out: dict[str, Comparison | None] = {
        "error_rate": compare_proportions(stable.errors, stable.requests, cur.errors, cur.requests)
        if stable.requests and cur.requests else None}
    if traffic_role(role).answers:  # a role that answers no client has no latency anyone waits for
        out["latency"] = compare_samples(stable.latencies_ms, cur.latencies_ms, "mannwhitney") \
            if stable.latencies_ms and cur.latencies_ms else None
    if not stable.labels or not cur.labels:
        out["predictions"] = None
    elif _numeric(stable.labels):
        out["predictions"] = compare_samples(stable.labels, cur.labels, "ks")
    else:
        out["predictions"] = compare_counts(Counter(map(str, stable.labels)), Counter(map(str, cur.labels)), "chi2")
    return out


def _worse(name: str, cmp: Comparison) -> bool:
    """Whether a difference that the rule found goes the bad way for the canary."""
    if name == "error_rate":
        return cmp.effect > 0
    if name == "latency":  # U is the stable sample's: below half the pairs means the canary is slower
        n_ref, n_cur = cmp.n
        return 2.0 * cmp.statistic / (n_ref * n_cur) - 1.0 < 0
    return True


def analyze(rows: list[list[Any]], config: CanaryConfig, role: str = CANARY.name) -> Analysis:
    """Decide promote, continue or rollback from the observations of the current step."""
    stable, cur = split(rows, role)
    found = comparisons(stable, cur, role)
    predictions = found.get("predictions")
    methods = {"error_rate": "fisher", "latency": "mannwhitney",
               "predictions": predictions.method if predictions is not None else "chi2"}
    rules = {name: Rule(methods[name], alpha=getattr(config, name).alpha, material=getattr(config, name).material,
                        min_n=getattr(config, name).min_requests) for name in found}
    decisions = decide(found, rules, correction="holm")
    bad = [n for n, d in decisions.items() if d.outcome == "differs" and d.comparison and _worse(n, d.comparison)]
    verdict: Verdict = "rollback" if bad else (
        "continue" if any(d.outcome == "undecided" for d in decisions.values()) else "promote")
    return Analysis(role, verdict, decisions, bad, stable, cur)


def analysis_report(analysis: Analysis, *, env: str, versions: dict[str, str], action: str) -> Report:
    """The canary report: one check per comparison (failed when it crossed its bound)."""
    role = analysis.role
    stable, cur = analysis.stable, analysis.candidate
    metrics: dict[str, float] = {"stable_requests": stable.requests, f"{role}_requests": cur.requests}
    for name, sample in (("stable", stable), (role, cur)):
        if sample.requests:
            metrics[f"{name}_error_rate"] = round(sample.errors / sample.requests, 6)
    report = Report(stage="canary", key_figure=f"{analysis.verdict}: {action}", metrics=metrics,
                    extras={"env": env, "verdict": analysis.verdict, "action": action, "versions": versions,
                            "decisions": {k: d.to_dict() for k, d in analysis.decisions.items()}})
    for name, decision in analysis.decisions.items():
        crossed = name in analysis.bad
        severity = "error" if crossed else "info" if decision.outcome == "undecided" else "error"
        note = " (the difference favours the canary)" if decision.outcome == "differs" and not crossed else ""
        report.add(Check(name=name, passed=not crossed, severity=severity, observed=decision.outcome,
                         expected="same", message=decision.reason + note,
                         details=decision.to_dict()))
    if analysis.agreement is not None:
        report.metrics["agreement"] = round(analysis.agreement, 4)
        report.add(Check(name="agreement", passed=True, severity="info", observed=round(analysis.agreement, 4),
                         message=f"shadow and stable predicted the same label on {analysis.agreement:.1%} of "
                         f"{analysis.candidate.compared_rows} copied rows"))
    return report


def next_step(steps: list[float], weight: float) -> float | None:
    """The canary weight after ``weight``; None when the next step is full promotion (100%)."""
    later = [s for s in steps if s > weight + 1e-9]
    return None if not later or later[0] >= 100 else later[0]
