"""The deployment history as `mlgate status` prints it: what happened, not what was tried."""

from __future__ import annotations

from mlgate.deploy.state import Event, describe_event

T = "2026-12-01T23:10:02+00:00"


def test_a_deploy_refused_before_traffic_reads_as_refused() -> None:
    event = Event(T, "production", "shadow-start", "shadow", "1", "5", "ci", "try X; smoke tests before traffic failed",
                  "failed")
    assert describe_event(event) == (f"{T} production shadow-start (shadow): version 5 refused before any traffic "
                                     "(version 1 kept serving), by ci: try X; smoke tests before traffic failed")


def test_first_deploy_and_a_redeploy_say_so() -> None:
    first = Event(T, "staging", "deploy", "blue-green", "", "1", "ci", "", "switched")
    assert describe_event(first) == f"{T} staging deploy (blue-green): none -> 1, switched, by ci"
    again = Event(T, "staging", "deploy", "blue-green", "1", "1", "ci", "", "switched")
    assert describe_event(again) == f"{T} staging deploy (blue-green): version 1 (already serving), switched, by ci"


def test_a_canary_step_shows_its_share() -> None:
    step = Event(T, "production", "canary-start", "canary", "2", "3", "ci", "", "25%")
    assert describe_event(step) == f"{T} production canary-start (canary): 2 -> 3, 25%, by ci"
