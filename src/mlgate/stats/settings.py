"""Config models for decision rules: gate-wide, per column kind and per column overrides.

A gate's check mixes in ``ShiftSettings``; a user writes, for example::

    feature_distribution:
      alpha: 0.01                 # gate-wide
      numeric: {material: 0.1}    # every numeric column
      columns:
        income: {method: wasserstein, material: 0.25}
        session_id: {enabled: false}

Precedence, weakest first: the core's ``default_rule(kind)``, the gate's own default alpha,
``alpha``, the kind's block, the column's block.
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from mlgate.plugins import table

if TYPE_CHECKING:
    from mlgate.stats.rules import Rule


def known_method(value: str | None) -> str | None:
    """A method of ``METHODS`` that compares a column (reads samples or counts), or None: the
    rule's default. The one check of a per-column method name, for validate, test and monitor."""
    if value is None:
        return value
    methods = table("methods")  # imported only when a method is named: numpy stays out of config loading
    usable = [n for n, cls in methods.items() if cls.per_column()]  # type: ignore[attr-defined]
    if value not in usable:
        close = difflib.get_close_matches(value, usable, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"must be one of {', '.join(usable)} (got {value!r}{hint})")
    return value


MethodName = Annotated[str | None, AfterValidator(known_method)]


class RuleSettings(BaseModel):
    """Overrides of one decision rule; unset fields keep the default. The one per-column rule
    config: validate's and test's distribution checks and ``monitor.columns`` all read it."""

    model_config = ConfigDict(extra="forbid")

    method: MethodName = Field(None, description="a comparison method of the METHODS table that reads "
                               "samples or counts (ks, chi2, ...)")
    alpha: float | None = Field(None, gt=0, lt=1, description="significance level, after correction")
    material: float | None = Field(None, ge=0, description="smallest effect that counts, on the method's scale")
    min_n: int | None = Field(None, ge=1, description="values needed on each side before deciding")
    enabled: bool = True

    def apply(self, rule: Rule) -> Rule:
        """``rule`` with these overrides."""
        return rule.replace(method=self.method, alpha=self.alpha, material=self.material, min_n=self.min_n)


def renamed_keys(raw: Any, renamed: dict[str, str]) -> Any:
    """Reject keys whose meaning changed, naming the key that replaces them (a pydantic 'before' hook)."""
    if isinstance(raw, dict):
        old = [k for k in renamed if k in raw]
        if old:
            raise ValueError("; ".join(f"{k!r} is no longer a fixed limit: {renamed[k]}" for k in old))
    return raw


class ShiftSettings(BaseModel):
    """The decision-rule keys every distribution check shares."""

    model_config = ConfigDict(extra="forbid")

    default_alpha: ClassVar[float | None] = None  # the gate's own alpha, when not the core's

    correction: Literal["holm", "bh", "none"] = Field(
        "holm", description="multiplicity correction across this check's columns")
    alpha: float | None = Field(None, gt=0, lt=1, description="significance level for every column")
    numeric: RuleSettings = Field(default_factory=lambda: RuleSettings.model_validate({}))
    categorical: RuleSettings = Field(default_factory=lambda: RuleSettings.model_validate({}))
    columns: dict[str, RuleSettings] = Field(default_factory=dict, description="per-column overrides")

    @model_validator(mode="after")
    def _rules_build(self) -> ShiftSettings:
        for kind in ("numeric", "categorical"):
            self.rule_for("", kind)  # a bad combination fails when the config is read, not mid-run
        return self

    def rule_for(self, column: str, kind: str, base: Rule | None = None) -> Rule | None:
        """The rule for ``column`` of ``kind`` (numeric or categorical), or None when disabled."""
        # the rules module loads the method table (numpy); mlgate.config imports this module for
        # RuleSettings alone, so the import waits until a rule is built
        from mlgate.stats.rules import default_rule

        rule = base or default_rule(kind)
        alpha = self.alpha if self.alpha is not None else self.default_alpha
        rule = rule.replace(alpha=alpha)
        block = self.numeric if kind == "numeric" else self.categorical
        own = self.columns.get(column)
        if not block.enabled or (own is not None and not own.enabled):
            return None
        rule = block.apply(rule)
        return own.apply(rule) if own is not None else rule
