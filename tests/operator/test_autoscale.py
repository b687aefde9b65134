"""The replica arithmetic: lag-based recommendation, HPA-style scale-down window, pause and partition cap."""

from __future__ import annotations

import pytest
from olapsink_operator.autoscale import (
    AutoscalingPolicy,
    Recommendations,
    autoscale,
    decide_replicas,
    recommend,
)

POLICY = AutoscalingPolicy(
    min_replicas=1, max_replicas=8, lag_per_replica=1000, scale_down_stabilization_seconds=300
)


@pytest.mark.parametrize(
    ("lag", "replicas"),
    [(0, 1), (1, 1), (1000, 1), (1001, 2), (4500, 5), (10**9, 8), (-5, 1)],
)
def test_recommendation_is_lag_over_lag_per_replica_within_min_and_max(lag: int, replicas: int) -> None:
    assert recommend(POLICY, lag) == replicas


def test_min_replicas_zero_allows_scaling_to_zero_without_lag() -> None:
    policy = AutoscalingPolicy(0, 4, 100, 0)
    assert recommend(policy, 0) == 0


def test_scale_up_is_immediate() -> None:
    replicas, _ = autoscale(POLICY, lag=5000, current=1, seen=Recommendations(), now=1000.0)
    assert replicas == 5


def test_scale_down_waits_for_the_stabilisation_window() -> None:
    replicas, seen = autoscale(POLICY, lag=5000, current=1, seen=Recommendations(), now=0.0)
    assert replicas == 5
    # Lag drops: within the window the highest recent recommendation (5) still holds.
    replicas, seen = autoscale(POLICY, lag=100, current=5, seen=seen, now=100.0)
    assert replicas == 5
    replicas, seen = autoscale(POLICY, lag=2500, current=5, seen=seen, now=200.0)
    assert replicas == 5
    # 301 s after the peak it falls out of the window; the highest left is 3 (lag 2500 at t=200).
    replicas, seen = autoscale(POLICY, lag=100, current=5, seen=seen, now=301.0)
    assert replicas == 3
    replicas, _ = autoscale(POLICY, lag=100, current=3, seen=seen, now=501.0)
    assert replicas == 1


def test_pause_scales_to_zero_whatever_was_requested() -> None:
    assert decide_replicas(paused=True, requested=4, partitions=12).replicas == 0


def test_requests_beyond_the_partitions_are_capped_and_flagged() -> None:
    decision = decide_replicas(paused=False, requested=5, partitions=3)
    assert (decision.replicas, decision.requested, decision.capped) == (3, 5, True)


@pytest.mark.parametrize("partitions", [None, 0, 5, 9])
def test_requests_within_partitions_or_unknown_partitions_pass_through(partitions: int | None) -> None:
    decision = decide_replicas(paused=False, requested=5, partitions=partitions)
    assert (decision.replicas, decision.capped) == (5, False)
