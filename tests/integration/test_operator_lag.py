"""Consumer-group lag and partitions as the operator reports them, against real Apache Kafka.

tansu cannot back these tests: its end offsets are wrong for multi-record batches (testing-notes.md).
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer
from olapsink_operator import lag
from olapsink_operator.reconcile import normalised_manifest
from olapsink_worker.spec import parse_manifest

from tests.devstack.kafka_broker import KafkaBroker
from tests.operator.kube_api import KubeApi, eventually, running_kube_api, running_operator
from tests.operator.support import manifest_body

pytestmark = pytest.mark.integration

PARTITIONS = 3
RECORDS = 250


def _consume_and_commit_everything(broker: KafkaBroker, topic: str, group: str, count: int) -> None:
    """What a worker does, minus the database: read every record in the sink's group and commit."""
    consumer = Consumer(
        broker.client_config(
            **{"group.id": group, "auto.offset.reset": "earliest", "enable.auto.commit": False}
        )
    )
    try:
        consumer.subscribe([topic])
        seen = 0
        while seen < count:
            for message in consumer.consume(500, timeout=1.0):
                if message.error() is None:
                    seen += 1
        consumer.commit(asynchronous=False)
    finally:
        consumer.close()


def _sink_body(broker: KafkaBroker, name: str, topics: list[str] | None, regex: str | None) -> dict[str, Any]:
    body = manifest_body("doris-orders")
    body["metadata"].update(name=name, namespace="shop", uid=str(uuid.uuid4()))
    body["metadata"].pop("generation")
    kafka: dict[str, Any] = {"bootstrapServers": broker.bootstrap, "security": {"protocol": "PLAINTEXT"}}
    if regex:
        kafka["topicsRegex"] = regex
    else:
        kafka["topics"] = topics
    body["spec"]["kafka"] = kafka
    body["spec"]["tables"] = []
    body["spec"]["doris"]["feHosts"] = ["127.0.0.1"]
    body["spec"]["doris"]["httpPort"] = 1
    return body


def _produced_topic(broker: KafkaBroker, prefix: str = "lag") -> str:
    topic = f"{prefix}-{uuid.uuid4().hex[:8]}"
    broker.create_topic(topic, partitions=PARTITIONS)
    for partition in range(PARTITIONS):
        broker.produce(topic, (b'{"n": %d}' % i for i in range(RECORDS)), partition=partition)
    return topic


def test_lag_is_everything_produced_until_the_group_commits_then_zero(kafka_broker: KafkaBroker) -> None:
    kafka_broker.require_real_kafka("end offsets must be exact to measure lag")
    topic = _produced_topic(kafka_broker)
    body = _sink_body(kafka_broker, f"lag-{uuid.uuid4().hex[:6]}", [topic], None)
    sink = parse_manifest(body)
    kafka = normalised_manifest(sink, body)["spec"]["kafka"]
    clients = lag.KafkaClients()
    config = lag.admin_config(kafka, {})
    admin, reader = clients.admin(config), clients.offset_reader(config, sink.effective_group_id)

    before = lag.observe(admin, reader, kafka, timeout=10)
    assert (before.partitions, before.lag_total, dict(before.lag_by_topic)) == (
        PARTITIONS,
        PARTITIONS * RECORDS,
        {topic: PARTITIONS * RECORDS},
    )

    _consume_and_commit_everything(kafka_broker, topic, sink.effective_group_id, PARTITIONS * RECORDS)
    after = lag.observe(admin, reader, kafka, timeout=10)
    assert (after.partitions, after.lag_total) == (PARTITIONS, 0)
    clients.close()


def test_regex_subscription_counts_only_matching_topics(kafka_broker: KafkaBroker) -> None:
    kafka_broker.require_real_kafka("end offsets must be exact to measure lag")
    prefix = f"rx{uuid.uuid4().hex[:6]}"
    matching = _produced_topic(kafka_broker, prefix)
    _produced_topic(kafka_broker, "other")
    body = _sink_body(kafka_broker, f"rx-{uuid.uuid4().hex[:6]}", None, f"{prefix}-.*")
    sink = parse_manifest(body)
    kafka = normalised_manifest(sink, body)["spec"]["kafka"]
    clients = lag.KafkaClients()
    config = lag.admin_config(kafka, {})
    state = lag.observe(
        clients.admin(config), clients.offset_reader(config, sink.effective_group_id), kafka, timeout=10
    )
    clients.close()
    assert dict(state.lag_by_topic) == {matching: PARTITIONS * RECORDS}
    assert state.partitions == PARTITIONS


@pytest.fixture
def kube_api(tmp_path: Path) -> Iterator[KubeApi]:
    with running_kube_api(tmp_path) as api:
        yield api


def test_operator_status_shows_true_lag_and_caps_replicas_at_partitions(
    kafka_broker: KafkaBroker, kube_api: KubeApi
) -> None:
    kafka_broker.require_real_kafka("end offsets must be exact to measure lag")
    topic = _produced_topic(kafka_broker)
    name = f"op-{uuid.uuid4().hex[:6]}"
    body = _sink_body(kafka_broker, name, [topic], None)
    body["spec"]["replicas"] = PARTITIONS + 2
    kube_api.create(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "doris-cred", "namespace": "shop"},
            "data": {"password": base64.b64encode(b"pw").decode()},
        }
    )
    kube_api.create(body)

    def status() -> dict[str, Any]:
        sink = kube_api.get("olapsink.io/v1alpha1", "DorisSink", "shop", name) or {}
        return dict(sink.get("status") or {})

    def deployment_replicas() -> int | None:
        deployment = kube_api.get("apps/v1", "Deployment", "shop", f"{name}-doris-worker")
        return deployment["spec"]["replicas"] if deployment else None

    with running_operator(kube_api, {"OLAPSINK_KAFKA_TIMEOUT_SECONDS": "10"}):
        first = eventually(lambda: status().get("lag") and status(), timeout=30)
        assert first["lag"] == {"total": PARTITIONS * RECORDS, "topics": {topic: PARTITIONS * RECORDS}}
        assert first["partitions"] == PARTITIONS
        eventually(lambda: deployment_replicas() == PARTITIONS, timeout=10)
        capped = next(c for c in status()["conditions"] if c["type"] == "ReplicasCapped")
        assert capped["status"] == "True"

        group = f"olapsink-shop-{name}"
        _consume_and_commit_everything(kafka_broker, topic, group, PARTITIONS * RECORDS)
        eventually(lambda: status()["lag"]["total"] == 0, timeout=30)


def test_operator_autoscales_on_lag_and_scales_down_once_caught_up(
    kafka_broker: KafkaBroker, kube_api: KubeApi
) -> None:
    kafka_broker.require_real_kafka("end offsets must be exact to measure lag")
    topic = _produced_topic(kafka_broker)
    name = f"as-{uuid.uuid4().hex[:6]}"
    body = _sink_body(kafka_broker, name, [topic], None)
    # 750 records of lag at 400 per worker: 2 workers; no stabilisation delay for the test.
    body["spec"]["autoscaling"] = {
        "minReplicas": 1,
        "maxReplicas": 10,
        "lagPerReplica": 400,
        "scaleDownStabilizationSeconds": 0,
    }
    kube_api.create(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "doris-cred", "namespace": "shop"},
            "data": {"password": base64.b64encode(b"pw").decode()},
        }
    )
    kube_api.create(body)

    def deployment_replicas() -> int | None:
        deployment = kube_api.get("apps/v1", "Deployment", "shop", f"{name}-doris-worker")
        return deployment["spec"]["replicas"] if deployment else None

    with running_operator(kube_api, {"OLAPSINK_KAFKA_TIMEOUT_SECONDS": "10"}):
        eventually(lambda: deployment_replicas() == 2, timeout=30)
        _consume_and_commit_everything(kafka_broker, topic, f"olapsink-shop-{name}", PARTITIONS * RECORDS)
        eventually(lambda: deployment_replicas() == 1, timeout=30)
