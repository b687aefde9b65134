"""The books of partitions waiting for the schema registry: backoff, bound, recovery (pure, no clock)."""

from __future__ import annotations

import random

import pytest
from olapsink_worker.errors import ConfigError, FatalSinkError, RegistryUnavailableError
from olapsink_worker.formats.outage import DEFAULT_BOUND_S, RegistryOutage, retry_bound

URL = "http://sr:8081"
TP = ("orders", 3)


def _down() -> RegistryUnavailableError:
    return RegistryUnavailableError(f"schema registry {URL} is unavailable", url=URL, schema_id=7)


def test_waits_double_with_jitter_up_to_the_cap():
    outage = RegistryOutage(first_wait=1.0, max_wait=8.0, rng=random.Random(1))
    for attempt, step in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 8.0), (40, 8.0)]:
        waits = [outage.wait(attempt) for _ in range(200)]
        assert all(step / 2 <= w <= step for w in waits), attempt
        assert len(set(waits)) > 100  # jittered, not in lockstep


def test_a_held_partition_is_retried_when_its_wait_is_over():
    outage = RegistryOutage(bound=60, rng=random.Random(2))
    entry = outage.failed(TP, 40, _down(), now=10.0)
    assert outage.held(TP) and entry.offset == 40
    assert outage.due(now=entry.retry_at - 0.01) == []
    assert outage.due(now=entry.retry_at) == [TP]
    assert not outage.held(TP), "resumed: its records are read again"
    outage.passed(TP, now=12.0)
    assert outage.partitions == {} and outage.reason(12.0) is None


def test_failing_again_at_the_same_record_is_the_same_outage():
    outage = RegistryOutage(bound=60, rng=random.Random(3))
    outage.failed(TP, 40, _down(), now=0.0)
    outage.due(now=5.0)
    entry = outage.failed(TP, 40, _down(), now=5.0)
    assert (entry.since, entry.attempts) == (0.0, 2)
    later = outage.failed(TP, 90, _down(), now=6.0)  # it got past 40: a new outage
    assert (later.since, later.attempts) == (6.0, 1)


def test_past_the_bound_the_sink_stops_naming_the_registry_and_the_record():
    outage = RegistryOutage(bound=30, rng=random.Random(4))
    outage.failed(TP, 40, _down(), now=0.0)
    last = outage.failed(TP, 40, _down(), now=29.0)
    assert last.retry_at == 30.0, "the last retry comes at the bound, not past it"
    with pytest.raises(FatalSinkError) as err:
        outage.failed(TP, 40, _down(), now=30.0)
    assert err.value.reason == "SchemaRegistryUnavailable"
    message = str(err.value)
    assert (
        URL in message and "orders[3]@40" in message and "OLAPSINK_SCHEMA_REGISTRY_RETRY_TIMEOUT" in message
    )


def test_reason_says_what_waits_and_since_when():
    outage = RegistryOutage(bound=300, rng=random.Random(5))
    outage.failed(TP, 40, _down(), now=0.0)
    outage.failed(("orders", 1), 7, _down(), now=2.0)
    reason = outage.reason(now=12.0)
    assert reason is not None
    assert URL in reason and "2 partition(s)" in reason and "orders[3] at offset 40 for 12s" in reason


def test_revoked_partitions_are_forgotten():
    outage = RegistryOutage(rng=random.Random(6))
    outage.failed(TP, 40, _down(), now=0.0)
    outage.forget([TP])
    assert not outage.held(TP) and outage.partitions == {}


def test_bound_from_the_option_the_environment_or_the_default():
    assert retry_bound(None, {}) == DEFAULT_BOUND_S == 300
    assert retry_bound(None, {"OLAPSINK_SCHEMA_REGISTRY_RETRY_TIMEOUT": "4.5"}) == 4.5
    assert retry_bound(2.0, {"OLAPSINK_SCHEMA_REGISTRY_RETRY_TIMEOUT": "4.5"}) == 2.0
    for bad in ("0", "-1", "soon", "nan"):
        with pytest.raises(ConfigError) as err:
            retry_bound(None, {"OLAPSINK_SCHEMA_REGISTRY_RETRY_TIMEOUT": bad})
        assert err.value.problems[0].path == "OLAPSINK_SCHEMA_REGISTRY_RETRY_TIMEOUT"


def test_the_last_retry_is_never_inside_the_registry_caches_fail_fast_window():
    # A retry within FAIL_FAST_S of the last failure fails without asking the registry; the one before the
    # bound must still ask it.
    from olapsink_worker.formats.registry import FAIL_FAST_S

    outage = RegistryOutage(bound=30, rng=random.Random(5))
    outage.failed(TP, 40, _down(), now=0.0)
    outage.due(now=100.0)
    entry = outage.failed(TP, 40, _down(), now=29.9)  # 0.1 s left before the bound
    assert entry.retry_at - 29.9 >= FAIL_FAST_S
