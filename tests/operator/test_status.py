"""Status computation: conditions per situation, stable lastTransitionTime, write only on change."""

from __future__ import annotations

from typing import Any

import pytest
from olapsink_operator.autoscale import ReplicaDecision
from olapsink_operator.status import (
    DeploymentState,
    KafkaState,
    Observation,
    compute_status,
    status_patch,
)

T0, T1 = "2026-11-21T05:00:00Z", "2026-11-21T06:00:00Z"


def _obs(**kwargs: Any) -> Observation:
    base: dict[str, Any] = {
        "generation": 4,
        "state": "Running",
        "selector": "a=b",
        "deployment": DeploymentState(
            exists=True, replicas=2, ready_replicas=2, updated_replicas=2, available_replicas=2
        ),
        "decision": ReplicaDecision(2, 2, False),
        "tables": ["db.t"],
    }
    base.update(kwargs)
    return Observation(**base)


def _conditions(status: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}


def test_all_workers_ready_is_ready_and_not_progressing_or_degraded() -> None:
    status = compute_status(_obs(), {}, T0)
    assert _conditions(status) == {
        "Ready": ("True", "WorkersReady"),
        "Progressing": ("False", "RolledOut"),
        "Degraded": ("False", "AsExpected"),
        "ReplicasCapped": ("False", "WithinPartitions"),
    }
    assert (status["replicas"], status["readyReplicas"], status["observedGeneration"]) == (2, 2, 4)


@pytest.mark.parametrize(
    ("deployment", "ready", "progressing"),
    [
        (DeploymentState(exists=False), ("False", "DeploymentMissing"), ("True", "Creating")),
        (
            DeploymentState(
                exists=True, replicas=2, ready_replicas=1, updated_replicas=1, available_replicas=1
            ),
            ("False", "RollingOut"),
            ("True", "RollingOut"),
        ),
        (
            DeploymentState(
                exists=True, replicas=2, ready_replicas=1, updated_replicas=2, available_replicas=1
            ),
            ("False", "WorkersNotReady"),
            ("True", "WaitingForWorkers"),
        ),
        (
            DeploymentState(
                exists=True,
                replicas=2,
                ready_replicas=2,
                updated_replicas=2,
                available_replicas=2,
                rolled_out=False,
            ),
            ("True", "RollingOut"),
            ("True", "RollingOut"),
        ),
    ],
)
def test_rollout_states(
    deployment: DeploymentState, ready: tuple[str, str], progressing: tuple[str, str]
) -> None:
    conditions = _conditions(compute_status(_obs(deployment=deployment), {}, T0))
    assert conditions["Ready"] == ready
    assert conditions["Progressing"] == progressing


def test_no_available_worker_is_degraded() -> None:
    deployment = DeploymentState(exists=True, replicas=2, updated_replicas=2)
    assert _conditions(compute_status(_obs(deployment=deployment), {}, T0))["Degraded"] == (
        "True",
        "WorkersUnavailable",
    )


def test_invalid_spec_names_the_field_and_hides_everything_else() -> None:
    status = compute_status(_obs(invalid=["spec.buffer.records: must be >= 1"]), {}, T0)
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "InvalidSpec")
    assert "spec.buffer.records" in ready["message"]
    assert status["state"] == "Invalid"


def test_missing_schema_config_map_or_key_is_named_with_its_field() -> None:
    status = compute_status(_obs(missing_config_maps=["clicks-avro", "views-avro/views.avsc"]), {}, T0)
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "ConfigMapNotFound")
    assert "spec.converter.avroSchemaConfigMap" in ready["message"]
    assert "clicks-avro, views-avro/views.avsc" in ready["message"]


def test_paused_is_not_ready_but_not_degraded() -> None:
    deployment = DeploymentState(exists=True, replicas=0)
    conditions = _conditions(
        compute_status(
            _obs(state="Paused", deployment=deployment, decision=ReplicaDecision(0, 2, False)), {}, T0
        )
    )
    assert conditions["Ready"] == ("False", "Paused")
    assert conditions["Degraded"] == ("False", "AsExpected")


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"database_error": "no frontend reachable"}, "DatabaseUnreachable"),
        ({"kafka_error": "cannot read topics"}, "KafkaUnreachable"),
        ({"missing_secrets": ["doris-cred"]}, "SecretNotFound"),
        ({"missing_config_maps": ["clicks-avro"]}, "ConfigMapNotFound"),
        ({"name_conflict": "Deployment x exists"}, "NameConflict"),
    ],
)
def test_degraded_reasons(kwargs: dict[str, Any], reason: str) -> None:
    assert _conditions(compute_status(_obs(**kwargs), {}, T0))["Degraded"] == ("True", reason)


def test_capped_replicas_say_so_in_a_condition() -> None:
    status = compute_status(_obs(decision=ReplicaDecision(3, 5, True)), {}, T0)
    capped = next(c for c in status["conditions"] if c["type"] == "ReplicasCapped")
    assert capped["status"] == "True"
    assert "5 workers requested" in capped["message"] and "3 partitions" in capped["message"]


def test_lag_and_partitions_from_kafka() -> None:
    kafka = KafkaState(partitions=6, lag_total=42, lag_by_topic={"b": 40, "a": 2})
    status = compute_status(_obs(kafka=kafka), {}, T0)
    assert status["partitions"] == 6
    assert status["lag"] == {"total": 42, "topics": {"a": 2, "b": 40}}


def test_last_transition_time_moves_only_when_the_status_flips() -> None:
    first = compute_status(_obs(), {}, T0)
    again = compute_status(_obs(), first, T1)
    assert again["conditions"] == first["conditions"]
    flipped = compute_status(_obs(deployment=DeploymentState(exists=False)), first, T1)
    times = {c["type"]: c["lastTransitionTime"] for c in flipped["conditions"]}
    assert times["Ready"] == T1  # True → False
    assert times["Degraded"] == T0  # still False


def test_unchanged_status_gives_no_patch_and_a_change_patches_only_that_key() -> None:
    first = compute_status(_obs(), {}, T0)
    assert status_patch(first, compute_status(_obs(), first, T1)) is None
    changed = compute_status(_obs(tables=["db.t", "db.u"]), first, T1)
    assert status_patch(first, changed) == {"tables": ["db.t", "db.u"]}


def test_known_lag_survives_a_refresh_that_has_not_read_kafka_yet() -> None:
    previous = {"lag": {"total": 7, "topics": {"a": 7}}, "partitions": 2}
    status = compute_status(_obs(), previous, T0)
    assert status["lag"] == {"total": 7, "topics": {"a": 7}}
    assert status["partitions"] == 2


def test_a_topic_leaving_the_lag_is_removed_by_the_patch() -> None:
    previous = {"lag": {"total": 3, "topics": {"a": 1, "b": 2}}}
    new = {"lag": {"total": 1, "topics": {"a": 1}}}
    assert status_patch(previous, new) == {"lag": {"total": 1, "topics": {"b": None}}}


def test_conditions_carry_the_generation_they_describe() -> None:
    status = compute_status(_obs(generation=9), {}, T0)
    assert {c["observedGeneration"] for c in status["conditions"]} == {9}


def test_fatal_worker_errors_make_ready_false_and_degraded_with_the_cause() -> None:
    deployment = DeploymentState(
        exists=True, replicas=2, ready_replicas=1, updated_replicas=2, available_replicas=1
    )
    failure = "pod w-1: TableNotFound: table shop.t does not exist"
    status = compute_status(_obs(deployment=deployment, worker_failures=[failure]), {}, T0)
    conditions = {c["type"]: c for c in status["conditions"]}
    assert (conditions["Ready"]["status"], conditions["Ready"]["reason"]) == ("False", "WorkerFatalError")
    assert failure in conditions["Ready"]["message"]
    assert (conditions["Degraded"]["status"], conditions["Degraded"]["reason"]) == (
        "True",
        "WorkerFatalError",
    )
