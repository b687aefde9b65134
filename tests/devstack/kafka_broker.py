"""What tests get from the `kafka_broker` fixture: an address and a few client conveniences."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import pytest
from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, NewTopic

BrokerKind = Literal["kafka", "tansu"]


@dataclass(frozen=True)
class Record:
    """One record as read back from a topic."""

    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]


@dataclass(frozen=True)
class KafkaBroker:
    """A reachable broker. `kind` says whether it is real Apache Kafka or the tansu fallback."""

    bootstrap: str
    kind: BrokerKind

    def client_config(self, **overrides: Any) -> dict[str, Any]:
        """confluent-kafka settings to reach this broker, plus `overrides` (dots spelled as in librdkafka)."""
        return {"bootstrap.servers": self.bootstrap, **overrides}

    def admin(self) -> AdminClient:
        return AdminClient(self.client_config())

    def require_real_kafka(self, why: str) -> None:
        """Skip the calling test on tansu, whose end offsets are wrong; `why` says what the test needs."""
        if self.kind != "kafka":
            pytest.skip(f"needs real Apache Kafka ({why}); running on {self.kind}")

    def create_topic(self, name: str, partitions: int = 1, config: dict[str, str] | None = None) -> None:
        """Create a topic and wait until the broker confirms it (an existing topic is an error)."""
        admin = self.admin()  # kept in a local until result() returns, or the future fails with _DESTROY
        futures = admin.create_topics(
            [NewTopic(name, num_partitions=partitions, replication_factor=1, config=config or {})],
            operation_timeout=30,
        )
        futures[name].result(timeout=60)

    def produce(
        self,
        topic: str,
        values: Iterable[bytes],
        key: bytes | None = None,
        partition: int | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> int:
        """Produce every value (in order, with the same key/partition/headers) and wait for all acks.

        Returns how many records were written; raises KafkaException on the first failed delivery.
        """
        producer = Producer(self.client_config(**{"linger.ms": 5, "enable.idempotence": True}))
        failures: list[KafkaError] = []

        def on_delivery(err: KafkaError | None, _msg: Message) -> None:
            if err is not None:
                failures.append(err)

        extra: dict[str, Any] = {}
        if partition is not None:
            extra["partition"] = partition
        if headers is not None:
            extra["headers"] = headers
        count = 0
        for value in values:
            while True:
                try:
                    producer.produce(topic, value=value, key=key, on_delivery=on_delivery, **extra)
                    break
                except BufferError:
                    producer.poll(0.1)  # local queue full: serve delivery reports, then retry
            count += 1
        remaining = producer.flush(60)
        if failures:
            raise KafkaException(failures[0])
        if remaining:
            raise KafkaException(KafkaError(KafkaError._MSG_TIMED_OUT, f"{remaining} records not acked"))
        return count

    def partitions(self, topic: str) -> list[int]:
        admin = self.admin()
        meta = admin.list_topics(topic, timeout=10).topics[topic]
        if meta.error is not None:
            raise KafkaException(meta.error)
        return sorted(meta.partitions)

    def read(self, topic: str, count: int, timeout: float = 30.0) -> list[Record]:
        """The first `count` records of every partition of `topic` (no consumer group, nothing committed).

        Returns fewer than `count` when the topic holds fewer within `timeout` seconds, so a test can assert
        on exactly what arrived (for example on a dead-letter topic).
        """
        consumer = Consumer(self.client_config(**{"group.id": f"devstack-read-{uuid.uuid4().hex[:8]}"}))
        try:
            consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in self.partitions(topic)])
            records: list[Record] = []
            deadline = time.monotonic() + timeout
            while len(records) < count and time.monotonic() < deadline:
                for msg in consumer.consume(num_messages=count - len(records), timeout=0.5):
                    if msg.error() is not None:
                        raise KafkaException(msg.error())
                    records.append(_record(msg))
            return records
        finally:
            consumer.close()

    def end_offsets(self, topic: str) -> dict[int, int]:
        """partition -> high watermark (the offset the next record will get). Wrong on tansu."""
        consumer = Consumer(self.client_config(**{"group.id": f"devstack-end-{uuid.uuid4().hex[:8]}"}))
        try:
            return {
                p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                for p in self.partitions(topic)
            }
        finally:
            consumer.close()

    def committed_offsets(self, group: str, topic: str) -> dict[int, int]:
        """partition -> offset committed by consumer group `group`; partitions without a commit are absent."""
        consumer = Consumer(self.client_config(**{"group.id": group}))
        try:
            wanted = [TopicPartition(topic, p) for p in self.partitions(topic)]
            return {
                tp.partition: tp.offset for tp in consumer.committed(wanted, timeout=10) if tp.offset >= 0
            }
        finally:
            consumer.close()


def _record(msg: Message) -> Record:
    partition, offset = msg.partition(), msg.offset()
    assert partition is not None and offset is not None  # set on every consumed record
    raw = msg.headers() or []
    pairs = raw.items() if isinstance(raw, dict) else raw  # the stubs allow a dict; consumers return a list
    headers = [(name, value.encode() if isinstance(value, str) else value or b"") for name, value in pairs]
    return Record(partition=partition, offset=offset, key=msg.key(), value=msg.value(), headers=headers)
