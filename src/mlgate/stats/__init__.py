"""Two-sample statistics: the one place in mlgate that decides "these two samples differ".

Every gate that compares distributions (validate, test's data_distribution, monitor, canary analysis)
asks this package, so a rule and its error rates hold everywhere::

    from mlgate.stats import compare_samples, decide, default_rule
    cmp = compare_samples(train["age"], test["age"], method="ks")
    decisions = decide({"age": cmp}, {"age": default_rule("numeric")})
    decisions["age"].outcome      # "differs" | "same" | "undecided"

See docs/stats.md for each method's effect scale and the measured false-alarm rates and power.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlgate.stats.comparison import Comparison, differs
    from mlgate.stats.correction import CORRECTIONS, adjust_p_values
    from mlgate.stats.methods import METHODS, Method, methods_reading
    from mlgate.stats.rules import DEFAULT_RULES, Decision, Rule, decide, default_rule
    from mlgate.stats.two_sample import compare_counts, compare_paired, compare_proportions, compare_samples

# name -> submodule; loaded on first use, so the config (which reads ``mlgate.stats.settings``) does
# not pay for numpy and scipy at start-up
_EXPORTS = {"Comparison": "comparison", "differs": "comparison", "CORRECTIONS": "correction",
            "adjust_p_values": "correction", "METHODS": "methods", "Method": "methods",
            "methods_reading": "methods", "DEFAULT_RULES": "rules", "Decision": "rules", "Rule": "rules",
            "decide": "rules", "default_rule": "rules", "compare_counts": "two_sample",
            "compare_paired": "two_sample", "compare_proportions": "two_sample", "compare_samples": "two_sample"}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(f"mlgate.stats.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'mlgate.stats' has no attribute {name!r}")


__all__ = [
    "CORRECTIONS",
    "DEFAULT_RULES",
    "METHODS",
    "Comparison",
    "Decision",
    "Method",
    "Rule",
    "adjust_p_values",
    "compare_counts",
    "compare_paired",
    "compare_proportions",
    "compare_samples",
    "decide",
    "default_rule",
    "differs",
    "methods_reading",
]
