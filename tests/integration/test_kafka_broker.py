"""The dev-stack broker behaves like Kafka for what the worker relies on: produce, group consume, commit."""

from __future__ import annotations

import time
import uuid

import pytest
from confluent_kafka import Consumer, TopicPartition

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

    reader = Consumer(kafka_broker.client_config(**{"group.id": group}))
    try:
        committed = reader.committed([TopicPartition(topic, 0), TopicPartition(topic, 1)], timeout=10)
    finally:
        reader.close()
    assert {tp.partition: tp.offset for tp in committed} == {0: 50, 1: 30}


def test_keyed_records_keep_their_key_and_order(kafka_broker: KafkaBroker) -> None:
    topic = _name("devstack-keyed")
    kafka_broker.create_topic(topic)
    values = [f'{{"n": {i}}}'.encode() for i in range(20)]
    kafka_broker.produce(topic, values, key=b"k1")

    consumer = Consumer(
        kafka_broker.client_config(**{"group.id": _name("g"), "auto.offset.reset": "earliest"})
    )
    try:
        consumer.assign([TopicPartition(topic, 0, 0)])
        got: list[tuple[bytes | None, bytes | None]] = []
        for _ in range(30):
            got += [(m.key(), m.value()) for m in consumer.consume(20 - len(got), timeout=1.0)]
            if len(got) == 20:
                break
    finally:
        consumer.close()
    assert got == [(b"k1", v) for v in values]


def test_high_watermark_counts_every_record_of_a_batch(kafka_broker: KafkaBroker) -> None:
    kafka_broker.require_real_kafka("end offsets decide lag, and tansu miscounts batched records")
    topic = _name("devstack-watermark")
    kafka_broker.create_topic(topic)
    kafka_broker.produce(topic, [b"x" * 100] * 250)

    consumer = Consumer(kafka_broker.client_config(**{"group.id": _name("g")}))
    try:
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
    finally:
        consumer.close()
    assert (low, high) == (0, 250)


def test_creating_an_existing_topic_is_an_error(kafka_broker: KafkaBroker) -> None:
    topic = _name("devstack-dup")
    kafka_broker.create_topic(topic)
    with pytest.raises(Exception, match="already exists"):
        kafka_broker.create_topic(topic)
