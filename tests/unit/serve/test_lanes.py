"""Routing: sticky per client id, canary and baseline of equal size, nothing extra without a canary."""

from __future__ import annotations

from collections import Counter
from typing import Any

from mlgate.serve.lanes import Lane, Recorder, Routing, bucket, read_observations


def lane(role: str) -> Lane:
    fake: Any = object()
    return Lane(role, fake, fake, fake)


def test_without_canary_every_request_is_stable() -> None:
    routing = Routing(1, lane("stable"))
    assert {routing.pick({"x-client-id": str(i)}).role for i in range(200)} == {"stable"}


def test_same_client_id_same_lane_and_shares_follow_the_weight() -> None:
    routing = Routing(1, lane("stable"), lane("canary"), 20.0, lane("baseline"))
    roles = {}
    for i in range(5000):
        headers = {"x-client-id": f"user-{i}"}
        first = routing.pick(headers).role
        assert all(routing.pick(headers).role == first for _ in range(3))
        roles[i] = first
    share = Counter(roles.values())
    assert abs(share["canary"] / 5000 - 0.20) < 0.03
    assert abs(share["baseline"] / 5000 - 0.20) < 0.03  # the baseline is as large as the canary


def test_half_canary_leaves_no_stable_traffic_and_no_id_is_random() -> None:
    routing = Routing(1, lane("stable"), lane("canary"), 50.0, lane("baseline"))
    share = Counter(routing.pick({}).role for _ in range(4000))
    assert share["stable"] == 0 and abs(share["canary"] / 4000 - 0.5) < 0.04
    assert 0 <= bucket(None) < 10_000 and bucket("a") == bucket("a")


def test_observations_round_trip(tmp_path: Any) -> None:
    recorder = Recorder(tmp_path)
    recorder.record("canary", "3", 0.0012, True, [1, 0])
    recorder.record("stable", "1", 0.0010, False, [])
    recorder.flush()
    rows = read_observations(tmp_path, since=0)
    assert [r[1:6] for r in rows] == [["canary", "3", 1.2, True, [1, 0]], ["stable", "1", 1.0, False, []]]
    assert read_observations(tmp_path, since=rows[0][0] + 10) == []
    recorder.close()
