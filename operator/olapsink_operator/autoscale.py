"""How many workers a sink should run: pause, lag-based autoscaling, and the partition cap.

Pure arithmetic. The autoscaler follows the HPA's scale-down rule: scale up at once, scale down only
to the highest recommendation seen during the stabilisation window, so a lag dip does not cause a
rebalance that the next burst undoes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class AutoscalingPolicy:
    min_replicas: int
    max_replicas: int
    lag_per_replica: int
    scale_down_stabilization_seconds: float

    @classmethod
    def from_wire(cls, wire: Mapping[str, Any]) -> AutoscalingPolicy:
        return cls(
            min_replicas=int(wire.get("minReplicas", 1)),
            max_replicas=int(wire.get("maxReplicas", 1)),
            lag_per_replica=max(1, int(wire.get("lagPerReplica", 1000))),
            scale_down_stabilization_seconds=float(wire.get("scaleDownStabilizationSeconds", 300)),
        )


@dataclass(frozen=True)
class Recommendations:
    """Recommendations seen within the stabilisation window, oldest first: ``(time, replicas)``."""

    history: tuple[tuple[float, int], ...] = field(default_factory=tuple)


def recommend(policy: AutoscalingPolicy, lag: int) -> int:
    """Workers needed so each has at most ``lag_per_replica`` records to catch up, within min..max."""
    wanted = math.ceil(max(lag, 0) / policy.lag_per_replica)
    return max(policy.min_replicas, min(policy.max_replicas, wanted))


def autoscale(
    policy: AutoscalingPolicy,
    lag: int,
    current: int,
    seen: Recommendations,
    now: float,
) -> tuple[int, Recommendations]:
    """The next worker count and the updated window.

    Scale-ups apply at once; a scale-down goes only as low as the highest recommendation within the
    window, so it happens once the lower need has lasted ``scale_down_stabilization_seconds``.
    """
    recommendation = recommend(policy, lag)
    horizon = now - policy.scale_down_stabilization_seconds
    history = (*tuple((t, r) for t, r in seen.history if t >= horizon), (now, recommendation))
    if recommendation >= current:
        return recommendation, Recommendations(history)
    return max(r for _, r in history), Recommendations(history)


@dataclass(frozen=True)
class ReplicaDecision:
    replicas: int
    requested: int  # before the partition cap
    capped: bool  # the request exceeded the partitions, extra workers would idle


def decide_replicas(*, paused: bool, requested: int, partitions: int | None) -> ReplicaDecision:
    """Apply pause and the partition cap to a requested count (spec.replicas or the autoscaler's).

    The cap is the total partition count of the subscribed topics: the workers' cooperative-sticky
    assignor spreads partitions of all topics over the group, so more workers than partitions idle.
    ``partitions`` is None while Kafka has not been observed; then nothing is capped.
    """
    if paused:
        return ReplicaDecision(0, requested, False)
    if partitions is not None and partitions > 0 and requested > partitions:
        return ReplicaDecision(partitions, requested, True)
    return ReplicaDecision(requested, requested, False)
