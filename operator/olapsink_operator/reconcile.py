"""One sink's reconcile: parse → render → apply → observe → status. Safe to run any number of times.

Called by the kopf handlers (create/update/resume), by the watches on the sink's Deployment and
Secrets, and by the periodic refresher, which alone also reads Kafka (partitions, lag) and probes
the database so that handlers stay fast.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from olapsink_worker.errors import ConfigError
from olapsink_worker.spec import Sink, parse_manifest

from olapsink_operator import avroschemas, labels, lag
from olapsink_operator.apply import apply_child
from olapsink_operator.autoscale import AutoscalingPolicy, Recommendations, autoscale, decide_replicas
from olapsink_operator.events import deployment_events, post_event
from olapsink_operator.kube import KubeClient, KubeError
from olapsink_operator.metrics import OperatorMetrics
from olapsink_operator.observe import database_endpoints, probe_database, read_secrets, worker_failures
from olapsink_operator.render import RenderInputs, render_children
from olapsink_operator.secretrefs import find_secret_refs, secrets_hash
from olapsink_operator.status import DeploymentState, KafkaState, Observation, compute_status, status_patch

log = logging.getLogger(__name__)

SinkKey = tuple[str, str, str]  # kind, namespace, name


def sink_key(body: Mapping[str, Any]) -> SinkKey:
    meta = body["metadata"]
    return (body["kind"], meta.get("namespace", "default"), meta["name"])


@dataclass
class KafkaView:
    """The last Kafka observation of one sink (refresher only), or why it failed."""

    state: KafkaState | None = None
    error: str | None = None


@dataclass
class Context:
    """Everything reconciles share; built once at operator start-up and kept in kopf's memo."""

    kube: KubeClient
    default_image: str
    kafka_timeout: float = 10.0
    database_timeout: float = 3.0
    read_worker_pods: bool = False  # read fatal errors from the workers' termination messages
    metrics: OperatorMetrics = field(default_factory=OperatorMetrics)
    kafka_clients: lag.KafkaClients = field(default_factory=lag.KafkaClients)
    clock: Callable[[], float] = time.time
    kafka: dict[SinkKey, KafkaView] = field(default_factory=dict)
    database_errors: dict[SinkKey, str | None] = field(default_factory=dict)
    windows: dict[SinkKey, Recommendations] = field(default_factory=dict)
    autoscaled: dict[SinkKey, int] = field(default_factory=dict)
    bodies: dict[SinkKey, Mapping[str, Any]] = field(default_factory=dict)
    _locks: dict[SinkKey, threading.Lock] = field(default_factory=dict)
    _locks_guard: threading.Lock = field(default_factory=threading.Lock)

    def lock(self, key: SinkKey) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(key, threading.Lock())

    def track(self, body: Mapping[str, Any], deleted: bool) -> None:
        """Remember the latest body of every sink (fed by a watch) for the refresher and Secret index."""
        key = sink_key(body)
        if deleted:
            for cache in (self.bodies, self.kafka, self.database_errors, self.windows, self.autoscaled):
                cache.pop(key, None)
            self.metrics.forget(*key)
            with contextlib.suppress(ConfigError):  # an invalid sink never got a reader
                self.kafka_clients.forget_group(parse_manifest(dict(body)).effective_group_id)
        else:
            self.bodies[key] = body

    def sinks_referencing(self, namespace: str, secret: str) -> list[Mapping[str, Any]]:
        return [
            body
            for (_, ns, _), body in list(self.bodies.items())
            if ns == namespace
            and any(ref.secret == secret for ref in find_secret_refs(body.get("spec") or {}))
        ]

    def sinks_using_config_map(self, namespace: str, config_map: str) -> list[Mapping[str, Any]]:
        """Sinks whose spec.converter.avroSchemaConfigMap names this ConfigMap."""
        return [
            body
            for (_, ns, _), body in list(self.bodies.items())
            if ns == namespace
            and ((body.get("spec") or {}).get("converter") or {}).get("avroSchemaConfigMap") == config_map
        ]


def normalised_manifest(sink: Sink, body: Mapping[str, Any]) -> dict[str, Any]:
    """The parsed sink in wire form, as the workers read it from the ConfigMap.

    Metadata is cut to what identifies the sink: annotations (kopf's bookkeeping, restart) and the
    resourceVersion change without any effect on workers and must not change the config hash.
    """
    manifest = sink.model_dump(mode="json", by_alias=True, exclude_none=True, exclude={"status", "metadata"})
    meta = body["metadata"]
    manifest["metadata"] = {
        "name": meta["name"],
        "namespace": meta.get("namespace", "default"),
        "uid": meta.get("uid", ""),
        "labels": dict(meta.get("labels") or {}),
    }
    return manifest


def target_tables(sink: Sink) -> list[str]:
    """``db.table`` of every mapped or listed topic (per-record routing by tableField may add more)."""
    topics = {mapping.topic for mapping in sink.spec.tables} | set(sink.spec.kafka.topics or [])
    return sorted({str(sink.spec.target_for_topic(topic)) for topic in topics})


def observe_external(
    ctx: Context,
    key: SinkKey,
    sink: Sink,
    manifest: Mapping[str, Any],
    secrets: Mapping[tuple[str, str], bytes],
) -> None:
    """Refresh the Kafka and database observations of one sink (slow; the refresher calls this)."""
    kafka = manifest["spec"]["kafka"]
    try:
        config = lag.admin_config(kafka, secrets)
        admin = ctx.kafka_clients.admin(config)
        reader = ctx.kafka_clients.offset_reader(config, sink.effective_group_id)
        ctx.kafka[key] = KafkaView(state=lag.observe(admin, reader, kafka, ctx.kafka_timeout))
    except Exception as error:  # KafkaException and timeouts; the message names brokers, never credentials
        ctx.kafka[key] = KafkaView(
            error=f"cannot read topics/offsets from {kafka['bootstrapServers']}: {error}"
        )
    ctx.database_errors[key] = probe_database(database_endpoints(manifest), ctx.database_timeout)


def _requested_replicas(ctx: Context, key: SinkKey, sink: Sink, current: int, fresh_lag: bool) -> int:
    policy_wire = sink.spec.autoscaling.model_dump(by_alias=True) if sink.spec.autoscaling else None
    if not policy_wire:
        return int(sink.spec.replicas)
    policy = AutoscalingPolicy.from_wire(policy_wire)
    view = ctx.kafka.get(key)
    if fresh_lag and view and view.state is not None:
        replicas, window = autoscale(
            policy,
            view.state.lag_total,
            current or policy.min_replicas,
            ctx.windows.get(key, Recommendations()),
            ctx.clock(),
        )
        ctx.windows[key] = window
        ctx.autoscaled[key] = replicas
    # Without a lag reading yet (or Kafka down) keep what runs: the autoscaler never guesses.
    return ctx.autoscaled.get(key, current or policy.min_replicas)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def reconcile(ctx: Context, body: Mapping[str, Any], *, observe: bool = False) -> None:
    """Bring one sink's children and status in line. ``observe``: read Kafka and probe the database
    first (slow, outside the sink's lock, so handlers reacting to user changes never wait on Kafka)."""
    key = sink_key(body)
    fresh = observe and _observe(ctx, key, body)
    with ctx.lock(key):
        # The body a watch event or the refresher carries may be stale: work from the current object,
        # and leave a sink being deleted to the garbage collector.
        meta = body["metadata"]
        current = ctx.kube.get(
            body["apiVersion"], body["kind"], meta.get("namespace", "default"), meta["name"]
        )
        if current is None or current["metadata"].get("deletionTimestamp"):
            return
        try:
            _reconcile(ctx, key, current, fresh)
        except Exception:
            ctx.metrics.reconciles.labels("error").inc()
            raise
        ctx.metrics.reconciles.labels("ok").inc()


def _observe(ctx: Context, key: SinkKey, body: Mapping[str, Any]) -> bool:
    """Refresh the Kafka/database observations; False when the spec or its Secrets are not usable yet."""
    try:
        sink = parse_manifest(dict(body))
    except ConfigError:
        return False
    manifest = normalised_manifest(sink, body)
    namespace = body["metadata"].get("namespace", "default")
    values, missing = read_secrets(ctx.kube, namespace, find_secret_refs(manifest["spec"]))
    if missing:
        return False
    observe_external(ctx, key, sink, manifest, values)
    return True


def _write_status(ctx: Context, body: Mapping[str, Any], obs: Observation) -> dict[str, Any]:
    previous = body.get("status") or {}
    new = compute_status(obs, previous, _now())
    ctx.metrics.observe_status(*sink_key(body), new)
    patch = status_patch(previous, new)
    if patch is not None:
        meta = body["metadata"]
        try:
            ctx.kube.patch_status(
                body["apiVersion"], body["kind"], meta.get("namespace", "default"), meta["name"], patch
            )
        except KubeError as error:
            if error.status != 404:  # a sink deleted meanwhile needs no status
                raise
    return new


def _reconcile(ctx: Context, key: SinkKey, body: Mapping[str, Any], fresh_lag: bool) -> None:
    meta = body["metadata"]
    namespace, name = meta.get("namespace", "default"), meta["name"]
    previous = body.get("status") or {}
    was_invalid = previous.get("state") == "Invalid"
    generation = meta.get("generation")
    flavor = "doris" if body["kind"] == "DorisSink" else "starrocks"
    selector = labels.selector_string(name, flavor)
    state = str((body.get("spec") or {}).get("state") or "Running")

    try:
        sink = parse_manifest(dict(body))
        manifest = normalised_manifest(sink, body)
        unusable = avroschemas.pod_problems(manifest["spec"])
        if unusable:
            raise ConfigError(unusable)
    except ConfigError as error:
        problems = [str(p) for p in error.problems]
        _write_status(ctx, body, Observation(generation, state, selector, invalid=problems))
        if not was_invalid:
            post_event(ctx.kube, body, "Warning", "InvalidSpec", "; ".join(problems))
        log.warning("%s/%s: invalid spec, nothing rolled out: %s", namespace, name, "; ".join(problems))
        return
    if was_invalid:
        post_event(ctx.kube, body, "Normal", "SpecValid", "the spec is valid again; rolling out")

    refs = find_secret_refs(manifest["spec"])
    values, missing = read_secrets(ctx.kube, namespace, refs)
    if missing:
        _write_status(ctx, body, Observation(generation, state, selector, missing_secrets=missing))
        if previous.get("conditions") is None or not any(
            c.get("reason") == "SecretNotFound" for c in previous.get("conditions", [])
        ):
            post_event(ctx.kube, body, "Warning", "SecretNotFound", "missing: " + ", ".join(missing))
        return
    schemas_ref = avroschemas.schema_config_map(manifest["spec"])
    schemas = avroschemas.read_schema_config_map(ctx.kube, namespace, schemas_ref) if schemas_ref else None
    if schemas is not None and schemas.missing:
        obs = Observation(generation, state, selector, missing_config_maps=schemas.missing)
        _write_status(ctx, body, obs)
        if not any(c.get("reason") == "ConfigMapNotFound" for c in previous.get("conditions") or []):
            message = "spec.converter.avroSchemaConfigMap: missing " + ", ".join(schemas.missing)
            post_event(ctx.kube, body, "Warning", "ConfigMapNotFound", message)
        return

    view = ctx.kafka.get(key, KafkaView())

    dep_name = labels.worker_name(name, flavor)
    existing = ctx.kube.get("apps/v1", "Deployment", namespace, dep_name)
    current = int((existing or {}).get("spec", {}).get("replicas") or 0)
    requested = _requested_replicas(ctx, key, sink, current, fresh_lag)
    paused = sink.spec.state == "Paused"
    decision = decide_replicas(
        paused=paused, requested=requested, partitions=view.state.partitions if view.state else None
    )

    inputs = RenderInputs(
        replicas=decision.replicas,
        secrets_hash=secrets_hash(refs, values),
        default_image=ctx.default_image,
        restart=(meta.get("annotations") or {}).get(labels.RESTART_ANNOTATION),
        avro_schemas_hash=schemas.digest if schemas is not None else None,
    )
    conflict = None
    rolled = False
    for child in render_children(manifest, inputs):
        result = apply_child(ctx.kube, child, meta.get("uid", ""))
        if result.action == "conflict":
            conflict = (
                f"{child['kind']} {child['metadata']['name']} exists and is not owned by this sink; "
                "rename or delete it"
            )
            break
        if child["kind"] == "Deployment":
            rolled = deployment_events(
                ctx.kube, body, result.action, result.previous, child, decision.replicas
            )

    deployment = ctx.kube.get("apps/v1", "Deployment", namespace, dep_name)
    failures = (
        worker_failures(ctx.kube, namespace, labels.selector_labels(name, flavor))
        if ctx.read_worker_pods and not paused
        else []
    )
    obs = Observation(
        generation=generation,
        state=sink.spec.state,
        selector=selector,
        name_conflict=conflict,
        deployment=DeploymentState.from_object(deployment),
        decision=decision,
        kafka=view.state,
        kafka_error=view.error,
        database_error=ctx.database_errors.get(key),
        worker_failures=failures,
        tables=target_tables(sink),
    )
    new = _write_status(ctx, body, obs)
    if failures and not any(c.get("reason") == "WorkerFatalError" for c in previous.get("conditions") or []):
        post_event(ctx.kube, body, "Warning", "WorkerFatalError", "; ".join(failures))
    if conflict and not any(c.get("reason") == "NameConflict" for c in previous.get("conditions") or []):
        post_event(ctx.kube, body, "Warning", "NameConflict", conflict)
    if decision.capped and not any(
        c.get("type") == "ReplicasCapped" and c.get("status") == "True"
        for c in previous.get("conditions") or []
    ):
        post_event(
            ctx.kube,
            body,
            "Warning",
            "ReplicasCapped",
            next(c["message"] for c in new["conditions"] if c["type"] == "ReplicasCapped"),
        )
    if rolled:
        log.info(
            "%s/%s: rolling the workers (config, Secret, Avro schema or restart changed)", namespace, name
        )
