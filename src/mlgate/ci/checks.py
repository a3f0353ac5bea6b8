"""What ``mlgate ci`` refuses to generate: CI settings that could only fail later, in a job.

Each problem is a ConfigError (exit 2) naming the key:

- ``ci -> install`` naming an extra mlgate does not have, or not naming mlgate
  (``mlgate.deploy.install``);
- ``environments``: the deploy jobs act on ``staging`` and ``production``; when
  ``environments`` is given it must hold both (without it the jobs take the URLs from the
  servers' own ``--env`` settings and nothing is checked);
- ``deploy -> canary``: the canary job must be able to decide before its deadline. An analysis
  needs ``min_requests`` answered requests in the canary lane and as many in the baseline lane
  (each gets the step's percent of production's traffic), at every step below 100%, and the
  job analyzes every ``interval_s``. With production's request rate stated as
  ``ci.canary_request_rate`` (requests per second), the time the steps need is

      sum over steps s < 100 of  ceil(min_requests / (rate * s / 100) / interval_s) * interval_s

  and it must fit in ``max_wait_s``; otherwise every canary would end in "no decision"
  (rolled back). Without a stated rate, ``interval_s`` must at least fit in ``max_wait_s``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from mlgate.deploy.install import parse_install
from mlgate.errors import ConfigError

if TYPE_CHECKING:
    from mlgate.config import CanaryConfig, Config

CI_ENVIRONMENTS = ("staging", "production")


def check_ci_config(config: Config) -> None:
    """Raise ConfigError naming the key when the CI settings cannot work."""
    parse_install(config.ci.install)
    if config.environments:
        for name in CI_ENVIRONMENTS:
            if name not in config.environments:
                raise ConfigError(f"environments: the CI's deploy jobs deploy to '{name}', which environments does "
                                  f"not define (it has {', '.join(config.environments)}); add "
                                  f"environments -> {name} -> url")
    canary_window(config.deploy.canary, config.ci.canary_request_rate)


def canary_window(canary: CanaryConfig, rate: float | None) -> float:
    """Seconds the canary's steps need at ``rate`` requests per second (0 without a rate)."""
    if canary.interval_s > canary.max_wait_s:
        raise ConfigError(f"deploy -> canary -> interval_s is {canary.interval_s:g} s, longer than max_wait_s "
                          f"({canary.max_wait_s:g} s): the canary job would reach its deadline before its "
                          "first analysis")
    if rate is None:
        return 0.0
    need = max(canary.error_rate.min_requests, canary.latency.min_requests, canary.predictions.min_requests)
    steps = [s for s in canary.steps if s < 100] or [canary.steps[0]]
    total = sum(math.ceil(need / (rate * s / 100) / canary.interval_s) * canary.interval_s for s in steps)
    if total > canary.max_wait_s:
        detail = ", ".join(f"{s:g}%: {need / (rate * s / 100):.0f} s" for s in steps)
        raise ConfigError(f"deploy -> canary -> max_wait_s is {canary.max_wait_s:g} s, but at "
                          f"ci.canary_request_rate {rate:g} requests/s the steps need about {total:.0f} s to "
                          f"collect min_requests {need} per lane ({detail}); raise max_wait_s, lower "
                          "min_requests or start at a larger step")
    return total
