"""What tests get from the `kafka_broker` fixture: an address and a few client conveniences."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import pytest
from confluent_kafka import KafkaError, KafkaException, Message, Producer
from confluent_kafka.admin import AdminClient, NewTopic

BrokerKind = Literal["kafka", "tansu"]


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
