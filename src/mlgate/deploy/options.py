"""``mlgate deploy``'s own flags, typed: what the deploy stage reads (``mlgate.deploy.stage``).

A module of its own, importing nothing of mlgate's: the command reads ``DEFAULT_ENV`` for its
``--help`` when the CLI starts, which must not pay for the deploy machinery.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_ENV = "staging"  # the environment `mlgate deploy` deploys to without --env


@dataclass(frozen=True)
class DeployOptions:
    """Where and how to deploy; None leaves the choice to mlgate.yaml (``deploy:``, ``environments:``)."""

    env: str = DEFAULT_ENV
    strategy: str | None = None  # None: deploy -> strategy
    version: str | None = None  # None: staging's version, or the newest for staging
    percent: float | None = None  # canary weight or shadow share (None: the first canary step)
    wait: bool = False  # canary: analyze every interval until promoted or rolled back
    url: str | None = None  # None: environments -> ENV -> url
    ca_file: str | None = None  # None: serve -> tls -> ca_file
    api_key: str | None = None  # for the smoke tests' predictions
    reason: str = ""  # recorded in the deployment history
    lock_wait: float | None = None  # seconds (None: deploy -> lock_wait_s)
    force_unlock: bool = False  # take the environment's lock although another deploy holds it
