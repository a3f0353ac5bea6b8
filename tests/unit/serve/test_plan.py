"""The plan of a server's slots and the operations deploy calls on it."""

from __future__ import annotations

import pytest

from mlgate.errors import UsageError
from mlgate.serve.plan import ModelRef, Plan, initial_plan

V1, V2, V3 = (ModelRef(v, f"/models/{v}") for v in ("1", "2", "3"))


def test_blue_green_stage_switch_and_rollback() -> None:
    plan = initial_plan(V1)
    staged = plan.stage(V2, "candidate")
    assert staged.versions() == {"stable": "1", "candidate": "2"} and staged.generation == 2
    live = staged.switch(keep_s=60)
    assert live.versions() == {"stable": "2", "previous": "1"} and live.live != plan.live
    back = live.rollback()
    assert back.versions() == {"stable": "1", "previous": "2"}
    assert plan.versions() == {"stable": "1"}  # operations never change their input


def test_canary_route_promote_and_rollback() -> None:
    plan = initial_plan(V1).stage(V3, "canary")
    assert plan.canary_weight == 0 and plan.versions()["canary"] == "3"
    routed = plan.route(canary=25)
    assert routed.canary_weight == 25 and routed.observe_since >= plan.observe_since
    assert routed.rollback().versions() == {"stable": "1"}
    promoted = routed.promote(keep_s=60)
    assert promoted.versions() == {"stable": "3", "previous": "1"} and promoted.canary is None


@pytest.mark.parametrize("percent", [-1, 100.5, 1000])
def test_percent_outside_0_100_is_refused(percent: float) -> None:
    with pytest.raises(UsageError, match="between 0 and 100"):
        initial_plan(V1).stage(V2, "canary").route(canary=percent)


def test_what_cannot_be_done_says_why() -> None:
    plan = initial_plan(V1)
    with pytest.raises(UsageError, match="no candidate is staged"):
        plan.switch(keep_s=0)
    with pytest.raises(UsageError, match="nothing to roll back to"):
        plan.rollback()
    with pytest.raises(UsageError, match="no canary version is loaded"):
        plan.route(canary=10)
    with pytest.raises(UsageError, match="no canary or shadow"):
        plan.promote(keep_s=0)


def test_previous_is_unloaded_after_keep_time_but_stays_in_the_plan() -> None:
    plan = initial_plan(V1).stage(V2, "candidate").switch(keep_s=0)
    assert [r.version for r in plan.refs()] == ["2"]
    assert plan.slot("previous") == V1


def test_round_trip_through_json() -> None:
    plan = initial_plan(V1).stage(V2, "candidate").switch(60).stage(V3, "shadow").route(shadow=50)
    assert Plan.from_dict(plan.to_dict()) == plan


def test_an_empty_plan_takes_its_first_version_through_stage_and_switch() -> None:
    empty = initial_plan(None)
    assert empty.empty and empty.versions() == {} and empty.refs() == []
    live = empty.stage(V1, "candidate").switch(keep_s=60)
    assert not live.empty and live.versions() == {"stable": "1"}


def test_a_restarted_server_keeps_an_unchanged_canarys_observation_window() -> None:
    from mlgate.serve.runner import carry_observations

    last = initial_plan(V1).stage(V2, "canary").route(canary=25)
    same = initial_plan(V1, {"canary": (V2, 25.0)})
    carried, kept = carry_observations(same, last)
    assert kept and carried.observe_since == last.observe_since
    for changed in (initial_plan(V1, {"canary": (V2, 50.0)}), initial_plan(V1, {"canary": (V3, 25.0)}),
                    initial_plan(V1)):
        assert carry_observations(changed, last) == (changed, False)
    assert carry_observations(same, None) == (same, False)
