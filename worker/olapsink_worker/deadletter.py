"""The dead-letter topic: records that could not be decoded, routed or loaded, with why.

Headers use Kafka Connect's names (``__connect.errors.*``) so existing DLQ tooling reads them, plus
``__olapsink.errors.stage`` (decode | route | load) and, for rows a load rejected, the load label and the
database's ErrorURL. The original key and value are kept byte for byte.

Sending is asynchronous; ``flush`` must succeed before the offsets of dead-lettered records are committed
(the engine calls it before each commit that covers them), so a dead-letter write is never lost silently.
``errors.tolerance: all`` without a topic skips the record after logging it, as Kafka Connect does.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from olapsink_worker.errors import FatalSinkError

log = logging.getLogger("olapsink.deadletter")

Header = tuple[str, bytes]


@dataclass(frozen=True)
class DeadRecord:
    topic: str
    partition: int
    offset: int | None  # None when only the batch range is known (see ``offset_range``)
    value: bytes | None
    key: bytes | None
    stage: str
    error_class: str
    message: str
    offset_range: tuple[int, int] | None = None
    label: str | None = None
    error_url: str | None = None


def context_headers(record: DeadRecord) -> list[Header]:
    """The DLQ headers for one record (pure, tested)."""
    offset = str(record.offset) if record.offset is not None else ""
    headers: list[Header] = [
        ("__connect.errors.topic", record.topic.encode()),
        ("__connect.errors.partition", str(record.partition).encode()),
        ("__connect.errors.offset", offset.encode()),
        ("__connect.errors.exception.class.name", record.error_class.encode()),
        ("__connect.errors.exception.message", record.message[:4000].encode()),
        ("__olapsink.errors.stage", record.stage.encode()),
    ]
    if record.offset_range is not None:
        headers.append(("__olapsink.errors.offset.range", "{}-{}".format(*record.offset_range).encode()))
    if record.label:
        headers.append(("__olapsink.errors.label", record.label.encode()))
    if record.error_url:
        headers.append(("__olapsink.errors.url", record.error_url.encode()))
    return headers


def ensure_topic(admin: Any, topic: str, replication_factor: int, timeout: float = 30.0) -> None:
    """Create the dead-letter topic if it is missing (as Kafka Connect does), one partition with the
    spec's replication factor. An existing topic is fine; other failures are left to the first send,
    which reports them (the broker may still auto-create the topic)."""
    from confluent_kafka import KafkaError
    from confluent_kafka.admin import NewTopic

    futures = admin.create_topics(
        [NewTopic(topic, num_partitions=1, replication_factor=replication_factor)], operation_timeout=timeout
    )
    try:
        futures[topic].result(timeout)
    except Exception as exc:
        err = exc.args[0] if exc.args else None
        if getattr(err, "code", lambda: None)() == KafkaError.TOPIC_ALREADY_EXISTS:
            return
        log.warning("could not create the dead-letter topic %r: %s", topic, exc)


class DeadLetterQueue:
    """Thread-safe: load threads send rejected rows, the loop sends undecodable records."""

    def __init__(
        self,
        topic: str | None,
        producer_factory: Callable[[], Any] | None,
        *,
        context: bool = True,
        on_sent: Callable[[DeadRecord], None] | None = None,
    ) -> None:
        self.topic = topic
        self.context = context
        self._factory = producer_factory
        self._producer: Any = None
        self._lock = threading.Lock()
        self._errors: list[str] = []
        self._unflushed = 0
        self._on_sent = on_sent

    def send(self, record: DeadRecord) -> None:
        log.warning(
            "dead-lettering %s[%s]@%s (%s): %s",
            record.topic,
            record.partition,
            record.offset if record.offset is not None else record.offset_range,
            record.stage,
            record.message,
        )
        if self._on_sent is not None:
            self._on_sent(record)
        if self.topic is None or self._factory is None:
            return
        headers = context_headers(record) if self.context else None
        with self._lock:
            if self._producer is None:
                self._producer = self._factory()
            self._unflushed += 1
            self._producer.produce(
                self.topic, value=record.value, key=record.key, headers=headers, on_delivery=self._delivered
            )
            self._producer.poll(0)

    def _delivered(self, err: Any, msg: Any) -> None:
        if err is not None:
            self._errors.append(str(err))

    @property
    def pending(self) -> bool:
        return self._unflushed > 0

    def flush(self, timeout: float = 30.0) -> None:
        """Wait until every sent record is acknowledged. Raises FatalSinkError otherwise."""
        with self._lock:
            if self._producer is None or not self._unflushed:
                return
            left = self._producer.flush(timeout)
            errors, self._errors = self._errors, []
            if left or errors:
                raise FatalSinkError(
                    f"dead-letter topic {self.topic!r}: {left} record(s) not acknowledged within {timeout}s"
                    + (f", errors: {'; '.join(errors[:3])}" if errors else "")
                    + "; check that the topic exists (or that the broker allows creating it) and is writable",
                    reason="DeadLetterQueueFailed",
                )
            self._unflushed = 0

    def close(self) -> None:
        try:
            self.flush(10.0)
        except FatalSinkError as exc:
            log.error("%s", exc)
        with self._lock:
            self._producer = None  # librdkafka's threads stop when the producer is collected
