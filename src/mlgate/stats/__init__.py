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

from mlgate.stats.two_sample import compare_counts, compare_paired, compare_proportions, compare_samples
from mlgate.stats.comparison import Comparison, differs
from mlgate.stats.correction import CORRECTIONS, adjust_p_values
from mlgate.stats.methods import COUNT_METHODS, METHODS, SAMPLE_METHODS, Method
from mlgate.stats.rules import DEFAULT_RULES, Decision, Rule, decide, default_rule

__all__ = [
    "CORRECTIONS",
    "COUNT_METHODS",
    "DEFAULT_RULES",
    "METHODS",
    "SAMPLE_METHODS",
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
]
