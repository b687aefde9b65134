"""Compute a sink's status (conditions, replicas, lag) from what the operator observed.

Pure: the caller gathers an ``Observation`` and writes the result only when it differs from the
current status, so periodic refreshes do not produce write (and watch-event) storms.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from olapsink_operator.autoscale import ReplicaDecision

READY, PROGRESSING, DEGRADED, REPLICAS_CAPPED = "Ready", "Progressing", "Degraded", "ReplicasCapped"


@dataclass(frozen=True)
class DeploymentState:
    """The parts of a Deployment's status that conditions depend on."""

    exists: bool
    replicas: int = 0  # spec.replicas of the Deployment
    ready_replicas: int = 0
    updated_replicas: int = 0
    available_replicas: int = 0
    rolled_out: bool = True  # the controller observed the latest generation

    @classmethod
    def from_object(cls, obj: Mapping[str, Any] | None) -> DeploymentState:
        if obj is None:
            return cls(exists=False)
        status = obj.get("status") or {}
        generation = obj.get("metadata", {}).get("generation")
        observed = status.get("observedGeneration")
        return cls(
            exists=True,
            replicas=int(obj.get("spec", {}).get("replicas") or 0),
            ready_replicas=int(status.get("readyReplicas") or 0),
            updated_replicas=int(status.get("updatedReplicas") or 0),
            available_replicas=int(status.get("availableReplicas") or 0),
            rolled_out=generation is None or observed is None or observed >= generation,
        )


@dataclass(frozen=True)
class KafkaState:
    """Partitions and consumer-group lag of the sink's topics (see lag.py)."""

    partitions: int
    lag_total: int
    lag_by_topic: Mapping[str, int]


@dataclass(frozen=True)
class Observation:
    generation: int | None
    state: str  # Running | Paused, as the spec asks
    selector: str
    invalid: Sequence[str] = ()  # "path: message" for an invalid spec; nothing else applies then
    missing_secrets: Sequence[str] = ()
    missing_config_maps: Sequence[str] = ()  # "name" or "name/key" of spec.converter.avroSchemaConfigMap
    name_conflict: str | None = None
    deployment: DeploymentState = field(default_factory=lambda: DeploymentState(exists=False))
    decision: ReplicaDecision | None = None
    kafka: KafkaState | None = None
    kafka_error: str | None = None
    database_error: str | None = None
    worker_failures: Sequence[str] = ()  # "pod x: reason: message" from termination messages
    tables: Sequence[str] = ()


def condition(type_: str, status: bool, reason: str, message: str) -> dict[str, str]:
    return {"type": type_, "status": "True" if status else "False", "reason": reason, "message": message}


def _conditions(obs: Observation) -> list[dict[str, str]]:
    if obs.invalid:
        message = "; ".join(obs.invalid)
        return [
            condition(READY, False, "InvalidSpec", f"{message} (nothing rolled out; fix the spec)"),
            condition(PROGRESSING, False, "InvalidSpec", "waiting for a valid spec"),
            condition(DEGRADED, True, "InvalidSpec", message),
        ]
    if obs.missing_secrets:
        message = "referenced Secret(s) not found: " + ", ".join(obs.missing_secrets)
        return [
            condition(READY, False, "SecretNotFound", message),
            condition(PROGRESSING, False, "SecretNotFound", "waiting for the Secret(s) to exist"),
            condition(DEGRADED, True, "SecretNotFound", message),
        ]
    if obs.missing_config_maps:
        message = "spec.converter.avroSchemaConfigMap: ConfigMap or key not found: " + ", ".join(
            obs.missing_config_maps
        )
        return [
            condition(READY, False, "ConfigMapNotFound", message),
            condition(PROGRESSING, False, "ConfigMapNotFound", "waiting for the ConfigMap to exist"),
            condition(DEGRADED, True, "ConfigMapNotFound", message),
        ]
    if obs.name_conflict:
        return [
            condition(READY, False, "NameConflict", obs.name_conflict),
            condition(PROGRESSING, False, "NameConflict", "refusing to adopt an object another owner made"),
            condition(DEGRADED, True, "NameConflict", obs.name_conflict),
        ]

    dep = obs.deployment
    want = obs.decision.replicas if obs.decision else dep.replicas
    counts = f"{dep.ready_replicas}/{want} workers ready"
    if obs.state == "Paused":
        ready = condition(READY, False, "Paused", "spec.state is Paused: workers scaled to zero")
        progressing = condition(PROGRESSING, False, "Paused", "nothing to roll out while paused")
    elif not dep.exists:
        ready = condition(READY, False, "DeploymentMissing", "the worker Deployment does not exist yet")
        progressing = condition(PROGRESSING, True, "Creating", "creating the worker Deployment")
    elif not dep.rolled_out or dep.updated_replicas < want or dep.replicas != want:
        ready = condition(READY, dep.ready_replicas >= want > 0, "RollingOut", counts)
        progressing = condition(
            PROGRESSING, True, "RollingOut", f"{dep.updated_replicas}/{want} workers updated"
        )
    elif dep.ready_replicas < want and obs.worker_failures:
        ready = condition(READY, False, "WorkerFatalError", f"{counts}; {obs.worker_failures[0]}")
        progressing = condition(PROGRESSING, False, "WorkerFatalError", "workers stopped on a fatal error")
    elif dep.ready_replicas < want:
        ready = condition(READY, False, "WorkersNotReady", counts + " (see worker logs, olapsink_fatal)")
        progressing = condition(PROGRESSING, True, "WaitingForWorkers", counts)
    else:
        ready = condition(READY, True, "WorkersReady", counts)
        progressing = condition(PROGRESSING, False, "RolledOut", "all workers run the current spec")

    if obs.worker_failures and obs.state != "Paused":
        degraded = condition(DEGRADED, True, "WorkerFatalError", "; ".join(obs.worker_failures))
    elif obs.database_error:
        degraded = condition(DEGRADED, True, "DatabaseUnreachable", obs.database_error)
    elif obs.kafka_error:
        degraded = condition(DEGRADED, True, "KafkaUnreachable", obs.kafka_error)
    elif (
        obs.state != "Paused"
        and dep.exists
        and dep.replicas > 0
        and dep.available_replicas == 0
        and dep.rolled_out
    ):
        degraded = condition(DEGRADED, True, "WorkersUnavailable", "no worker is available: " + counts)
    else:
        degraded = condition(DEGRADED, False, "AsExpected", "no problem observed")

    result = [ready, progressing, degraded]
    if obs.decision is not None:
        if obs.decision.capped:
            result.append(
                condition(
                    REPLICAS_CAPPED,
                    True,
                    "MorePartitionsNeeded",
                    f"{obs.decision.requested} workers requested but the topics have "
                    f"{obs.decision.replicas} partitions; extra workers would idle",
                )
            )
        else:
            result.append(
                condition(REPLICAS_CAPPED, False, "WithinPartitions", "every worker can own a partition")
            )
    return result


def merge_conditions(
    previous: Sequence[Mapping[str, Any]],
    current: list[dict[str, str]],
    now: str,
    generation: int | None = None,
) -> list[dict[str, Any]]:
    """Give each condition a lastTransitionTime that moves only when its status flips, and the
    generation it describes."""
    before = {c.get("type"): c for c in previous}
    merged: list[dict[str, Any]] = []
    for cond in current:
        old = before.get(cond["type"])
        since = old.get("lastTransitionTime") if old and old.get("status") == cond["status"] else None
        entry: dict[str, Any] = {**cond, "lastTransitionTime": since or now}
        if generation is not None:
            entry["observedGeneration"] = generation
        merged.append(entry)
    return merged


def compute_status(obs: Observation, previous: Mapping[str, Any], now: str) -> dict[str, Any]:
    """The full status the operator owns. Secret values never enter it (only Secret names)."""
    status: dict[str, Any] = {
        "state": "Invalid" if obs.invalid else obs.state,
        "selector": obs.selector,
        "replicas": obs.deployment.replicas if obs.deployment.exists else 0,
        "readyReplicas": obs.deployment.ready_replicas,
        "tables": list(obs.tables),
        "conditions": merge_conditions(
            previous.get("conditions") or [], _conditions(obs), now, obs.generation
        ),
    }
    if obs.generation is not None:
        status["observedGeneration"] = obs.generation
    if obs.decision is not None:
        status["desiredReplicas"] = obs.decision.replicas
    if obs.kafka is not None:
        status["partitions"] = obs.kafka.partitions
        status["lag"] = {"total": obs.kafka.lag_total, "topics": dict(sorted(obs.kafka.lag_by_topic.items()))}
    elif previous.get("lag") is not None and obs.kafka_error is None:
        # Not observed yet in this operator process: keep the last known figures rather than blanking them.
        status["lag"] = previous["lag"]
        if previous.get("partitions") is not None:
            status["partitions"] = previous["partitions"]
    return status


def status_patch(previous: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any] | None:
    """A merge patch turning ``previous`` into ``new`` for the keys the operator owns, or None if equal.

    Nested dicts are diffed too, so a topic that left ``lag.topics`` is removed (null) rather than
    lingering: a merge patch merges dicts instead of replacing them.
    """
    patch = _merge_diff({k: previous.get(k) for k in _OWNED if k in previous}, dict(new))
    return patch or None


def _merge_diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    patch: dict[str, Any] = {}
    for key in set(old) | set(new):
        before, after = old.get(key), new.get(key)
        if before == after:
            continue
        if isinstance(before, Mapping) and isinstance(after, Mapping):
            patch[key] = _merge_diff(before, after)
        else:
            patch[key] = after
    return patch


_OWNED = {
    "state",
    "selector",
    "replicas",
    "readyReplicas",
    "tables",
    "conditions",
    "observedGeneration",
    "desiredReplicas",
    "partitions",
    "lag",
}
