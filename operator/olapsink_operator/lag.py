"""Partitions and consumer-group lag of a sink's topics, read with the Kafka admin client.

Lag of a partition = latest offset - committed offset of the sink's group; a partition the group
never committed counts from the earliest offset (the workers start there), so a fresh sink shows
everything still to load. Clients are cached (per connection settings, and per group for the offset
reader): a client per refresh would reconnect every time.

Committed offsets are read with a non-subscribing ``Consumer.committed()`` and not with
``AdminClient.list_consumer_group_offsets``: librdkafka crashes the process (NULL consumer group in
``rd_kafka_handle_OffsetFetch``, confluentinc/librdkafka#5040, seen here on a broker whose
coordinator was still loading) when the admin call meets NOT_COORDINATOR. A consumer that never
subscribes does not join the group; it only asks the coordinator, and it handles coordinator moves.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Mapping
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec

from olapsink_operator.status import KafkaState

# librdkafka's "no committed offset" marker (OFFSET_INVALID).
_NO_OFFSET = -1001
# librdkafka writes to stderr unless given a logger; route its lines into the operator's logging.
_librdkafka_log = logging.getLogger("olapsink_operator.librdkafka")
_COORDINATOR_BUSY = {KafkaError.COORDINATOR_LOAD_IN_PROGRESS, KafkaError.NOT_COORDINATOR}
_RETRY_PAUSE = 0.25
# Client properties a user may need for the admin connection too (the rest are consumer tuning).
_PASSED_PREFIXES = ("ssl.", "sasl.", "socket.", "broker.address.", "client.dns.")


def admin_config(kafka: Mapping[str, Any], secret_values: Mapping[tuple[str, str], bytes]) -> dict[str, str]:
    """librdkafka settings for the admin client from ``spec.kafka`` (wire form) and the Secret values."""
    config = {"bootstrap.servers": str(kafka["bootstrapServers"])}
    config.update(
        {k: str(v) for k, v in (kafka.get("properties") or {}).items() if k.startswith(_PASSED_PREFIXES)}
    )
    security = kafka.get("security") or {}
    protocol = security.get("protocol") or "PLAINTEXT"
    config["security.protocol"] = protocol

    def secret(ref: Mapping[str, Any] | None) -> str | None:
        if not ref:
            return None
        value = secret_values.get((str(ref.get("name")), str(ref.get("key"))))
        return value.decode() if value is not None else None

    sasl = security.get("sasl") or {}
    if protocol.startswith("SASL"):
        config["sasl.mechanism"] = sasl.get("mechanism") or "PLAIN"
        for option, field in (("sasl.username", "usernameSecretRef"), ("sasl.password", "passwordSecretRef")):
            value = secret(sasl.get(field))
            if value is not None:
                config[option] = value
    tls = security.get("tls") or {}
    if protocol.endswith("SSL"):
        for option, field in (
            ("ssl.ca.pem", "caSecretRef"),
            ("ssl.certificate.pem", "certSecretRef"),
            ("ssl.key.pem", "keySecretRef"),
        ):
            value = secret(tls.get(field))
            if value is not None:
                config[option] = value
        if tls.get("skipHostnameVerification"):
            config["ssl.endpoint.identification.algorithm"] = "none"
    return config


class KafkaClients:
    """Cached clients: one AdminClient per connection config (shared by the sinks of one cluster) and
    one offset-reading Consumer per (connection config, group)."""

    def __init__(self) -> None:
        self._admins: dict[tuple[tuple[str, str], ...], AdminClient] = {}
        self._readers: dict[tuple[tuple[tuple[str, str], ...], str], Consumer] = {}
        self._lock = threading.Lock()

    def admin(self, config: Mapping[str, str]) -> AdminClient:
        key = tuple(sorted(config.items()))
        with self._lock:
            client = self._admins.get(key)
            if client is None:
                settings: dict[str, Any] = {**config, "logger": _librdkafka_log}
                client = self._admins[key] = AdminClient(settings)
            return client

    def offset_reader(self, config: Mapping[str, str], group_id: str) -> Consumer:
        key = (tuple(sorted(config.items())), group_id)
        with self._lock:
            reader = self._readers.get(key)
            if reader is None:
                reader = self._readers[key] = Consumer(
                    {**config, "group.id": group_id, "enable.auto.commit": False, "logger": _librdkafka_log}
                )
            return reader

    def forget_group(self, group_id: str) -> None:
        """Close the reader of a deleted sink's group."""
        with self._lock:
            gone = [key for key in self._readers if key[1] == group_id]
            readers = [self._readers.pop(key) for key in gone]
        for reader in readers:
            reader.close()

    def close(self) -> None:
        with self._lock:
            readers = list(self._readers.values())
            self._readers.clear()
            self._admins.clear()
        for reader in readers:
            reader.close()


def subscribed_topics(kafka: Mapping[str, Any], existing: list[str]) -> list[str]:
    """The topics the workers subscribe to: the listed ones, or the existing topics matching the regex."""
    if kafka.get("topicsRegex"):
        pattern = re.compile(str(kafka["topicsRegex"]))
        return sorted(t for t in existing if pattern.fullmatch(t) and not t.startswith("__"))
    return sorted(str(t) for t in kafka.get("topics") or [])


def observe(admin: AdminClient, reader: Consumer, kafka: Mapping[str, Any], timeout: float) -> KafkaState:
    """Partitions and lag of the sink's topics; ``reader`` is a non-subscribing consumer in the sink's
    group (``KafkaClients.offset_reader``). Raises ``KafkaException`` when Kafka cannot be read."""
    metadata = admin.list_topics(timeout=timeout)
    topics = subscribed_topics(kafka, list(metadata.topics))
    partitions = [
        TopicPartition(topic, p)
        for topic in topics
        if topic in metadata.topics
        for p in metadata.topics[topic].partitions
    ]
    if not partitions:
        return KafkaState(partitions=0, lag_total=0, lag_by_topic={t: 0 for t in topics})

    committed = _committed(reader, partitions, timeout)

    latest = _offsets(admin, partitions, OffsetSpec.latest(), timeout)
    earliest = _offsets(admin, partitions, OffsetSpec.earliest(), timeout)

    lag_by_topic = {t: 0 for t in topics}
    for tp in partitions:
        key = (tp.topic, tp.partition)
        start = committed.get(key, _NO_OFFSET)
        if start < 0:
            start = earliest[key]
        lag_by_topic[tp.topic] += max(0, latest[key] - start)
    return KafkaState(
        partitions=len(partitions), lag_total=sum(lag_by_topic.values()), lag_by_topic=lag_by_topic
    )


def _committed(
    reader: Consumer, partitions: list[TopicPartition], timeout: float
) -> dict[tuple[str, int], int]:
    """Committed offsets of the reader's group. A coordinator that is still loading (just after a
    broker start or a coordinator move) answers with a retriable error: ask again until ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            reply = reader.committed(partitions, timeout=max(0.1, deadline - time.monotonic()))
            return {(tp.topic, tp.partition): tp.offset for tp in reply}
        except KafkaException as error:
            kafka_error = error.args[0] if error.args else None
            transient = isinstance(kafka_error, KafkaError) and (
                kafka_error.retriable() or kafka_error.code() in _COORDINATOR_BUSY
            )
            if not transient or time.monotonic() + _RETRY_PAUSE > deadline:
                raise
            time.sleep(_RETRY_PAUSE)


def _offsets(
    admin: AdminClient, partitions: list[TopicPartition], spec: OffsetSpec, timeout: float
) -> dict[tuple[str, int], int]:
    futures = admin.list_offsets({tp: spec for tp in partitions}, request_timeout=timeout)
    return {(tp.topic, tp.partition): future.result().offset for tp, future in futures.items()}
