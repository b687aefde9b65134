"""The dev-stack broker behaves like Kafka for what the worker relies on: produce, group consume, commit."""

from __future__ import annotations

import time
import uuid

import pytest
from confluent_kafka import Consumer, KafkaException

from tests.devstack.kafka_broker import KafkaBroker

pytestmark = pytest.mark.integration


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _consume_all(consumer: Consumer, expected: int, timeout: float = 30.0) -> list[tuple[int, int, bytes]]:
    """(partition, offset, value) of the first `expected` records, or fewer if `timeout` runs out."""
    got: list[tuple[int, int, bytes]] = []
    deadline = time.monotonic() + timeout
    while len(got) < expected and time.monotonic() < deadline:
        for msg in consumer.consume(num_messages=expected - len(got), timeout=1.0):
            assert msg.error() is None, msg.error()
            partition, offset, value = msg.partition(), msg.offset(), msg.value()
            assert partition is not None and offset is not None and value is not None
            got.append((partition, offset, value))
    return got


def test_group_consumer_reads_every_record_and_commits_its_offsets(kafka_broker: KafkaBroker) -> None:
    topic, group = _name("devstack-roundtrip"), _name("devstack-group")
    kafka_broker.create_topic(topic, partitions=2)
    sent = {0: [f"p0-{i}".encode() for i in range(50)], 1: [f"p1-{i}".encode() for i in range(30)]}
    for partition, values in sent.items():
        assert kafka_broker.produce(topic, values, partition=partition) == len(values)

    consumer = Consumer(
        kafka_broker.client_config(
            **{"group.id": group, "auto.offset.reset": "earliest", "enable.auto.commit": False}
        )
    )
    try:
        consumer.subscribe([topic])
        records = _consume_all(consumer, expected=80)
        consumer.commit(asynchronous=False)
    finally:
        consumer.close()

    by_partition = {p: [v for q, _, v in records if q == p] for p in sent}
    assert by_partition == sent
    assert sorted(o for p, o, _ in records if p == 0) == list(range(50))
    assert kafka_broker.committed_offsets(group, topic) == {0: 50, 1: 30}


def test_a_group_without_commits_has_no_committed_offsets(kafka_broker: KafkaBroker) -> None:
    topic = _name("devstack-nocommit")
    kafka_broker.create_topic(topic, partitions=3)
    assert kafka_broker.committed_offsets(_name("idle-group"), topic) == {}


def test_records_are_read_back_with_key_headers_and_order(kafka_broker: KafkaBroker) -> None:
    topic = _name("devstack-keyed")
    kafka_broker.create_topic(topic)
    values = [f'{{"n": {i}}}'.encode() for i in range(20)]
    kafka_broker.produce(topic, values, key=b"k1", headers=[("trace", b"t-1")])

    records = kafka_broker.read(topic, 25, timeout=1.5)

    assert [r.value for r in records] == values  # 20, not 25: read stops at the timeout with what came
    assert [r.offset for r in records] == list(range(20))
    assert {(r.key, tuple(r.headers)) for r in records} == {(b"k1", (("trace", b"t-1"),))}


def test_high_watermark_counts_every_record_of_a_batch(kafka_broker: KafkaBroker) -> None:
    kafka_broker.require_real_kafka("end offsets decide lag, and tansu miscounts batched records")
    topic = _name("devstack-watermark")
    kafka_broker.create_topic(topic, partitions=2)
    kafka_broker.produce(topic, [b"x" * 100] * 250, partition=1)

    assert kafka_broker.end_offsets(topic) == {0: 0, 1: 250}


def test_creating_an_existing_topic_is_an_error(kafka_broker: KafkaBroker) -> None:
    topic = _name("devstack-dup")
    kafka_broker.create_topic(topic)
    with pytest.raises(KafkaException, match="already exists"):
        kafka_broker.create_topic(topic)
