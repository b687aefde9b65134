"""The operator's gauges follow the status it writes, and vanish with the sink."""

from __future__ import annotations

from olapsink_operator.metrics import OperatorMetrics

SINK = {"kind": "DorisSink", "namespace": "shop", "name": "orders"}


def _status(ready: str, topics: dict[str, int]) -> dict[str, object]:
    return {
        "replicas": 3,
        "readyReplicas": 2,
        "lag": {"total": sum(topics.values()), "topics": topics},
        "conditions": [{"type": "Ready", "status": ready}],
    }


def test_gauges_follow_the_status_and_topics_that_left_are_dropped() -> None:
    metrics = OperatorMetrics()
    value = metrics.registry.get_sample_value
    metrics.observe_status("DorisSink", "shop", "orders", _status("True", {"a": 5, "b": 7}))
    assert value("olapsink_sink_ready", SINK) == 1
    assert value("olapsink_sink_lag", {**SINK, "topic": "b"}) == 7
    assert value("olapsink_sink_ready_replicas", SINK) == 2

    metrics.observe_status("DorisSink", "shop", "orders", _status("False", {"a": 1}))
    assert value("olapsink_sink_ready", SINK) == 0
    assert value("olapsink_sink_lag", {**SINK, "topic": "a"}) == 1
    assert value("olapsink_sink_lag", {**SINK, "topic": "b"}) is None


def test_a_deleted_sink_leaves_no_series() -> None:
    metrics = OperatorMetrics()
    metrics.observe_status("DorisSink", "shop", "orders", _status("True", {"a": 5}))
    metrics.forget("DorisSink", "shop", "orders")
    assert metrics.registry.get_sample_value("olapsink_sink_ready", SINK) is None
    assert metrics.registry.get_sample_value("olapsink_sink_lag", {**SINK, "topic": "a"}) is None
    metrics.forget("DorisSink", "shop", "never-seen")  # no error for unknown sinks
