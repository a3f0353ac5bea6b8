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

from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from mlgate.stats.methods import METHODS
from mlgate.stats.rules import Rule, default_rule


def known_method(value: str | None) -> str | None:
    """A method name of ``METHODS`` (or None: the rule's default)."""
    if value is not None and value not in METHODS:
        raise ValueError(f"must be one of {', '.join(METHODS)} (got {value!r})")
    return value


MethodName = Annotated[str | None, AfterValidator(known_method)]


class RuleSettings(BaseModel):
    """Overrides of one decision rule; unset fields keep the default."""

    model_config = ConfigDict(extra="forbid")

    method: MethodName = Field(None, description=f"one of {', '.join(METHODS)}")
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
        rule = base or default_rule(kind)
        alpha = self.alpha if self.alpha is not None else self.default_alpha
        rule = rule.replace(alpha=alpha)
        block = self.numeric if kind == "numeric" else self.categorical
        own = self.columns.get(column)
        if not block.enabled or (own is not None and not own.enabled):
            return None
        rule = block.apply(rule)
        return own.apply(rule) if own is not None else rule
