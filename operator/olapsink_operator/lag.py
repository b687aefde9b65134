"""Partitions and consumer-group lag of a sink's topics, read with the Kafka admin client.

Lag of a partition = latest offset - committed offset of the sink's group; a partition the group
never committed counts from the earliest offset (the workers start there), so a fresh sink shows
everything still to load. AdminClients are cached per connection settings: sinks often share a
cluster, and a client per refresh would reconnect every time.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from typing import Any

from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec

from olapsink_operator.status import KafkaState

# librdkafka's "no committed offset" marker (OFFSET_INVALID).
_NO_OFFSET = -1001
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


class AdminClients:
    """One AdminClient per distinct connection config, shared by every sink using it."""

    def __init__(self) -> None:
        self._clients: dict[tuple[tuple[str, str], ...], AdminClient] = {}
        self._lock = threading.Lock()

    def get(self, config: Mapping[str, str]) -> AdminClient:
        key = tuple(sorted(config.items()))
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = self._clients[key] = AdminClient(dict(config))
            return client


def subscribed_topics(kafka: Mapping[str, Any], existing: list[str]) -> list[str]:
    """The topics the workers subscribe to: the listed ones, or the existing topics matching the regex."""
    if kafka.get("topicsRegex"):
        pattern = re.compile(str(kafka["topicsRegex"]))
        return sorted(t for t in existing if pattern.fullmatch(t) and not t.startswith("__"))
    return sorted(str(t) for t in kafka.get("topics") or [])


def observe(admin: AdminClient, kafka: Mapping[str, Any], group_id: str, timeout: float) -> KafkaState:
    """Partitions and lag of the sink's topics. Raises ``KafkaException`` when Kafka cannot be read."""
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

    request = [ConsumerGroupTopicPartitions(group_id, partitions)]
    committed_reply = admin.list_consumer_group_offsets(request, request_timeout=timeout)[group_id].result()
    committed = {(tp.topic, tp.partition): tp.offset for tp in committed_reply.topic_partitions}

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


def _offsets(
    admin: AdminClient, partitions: list[TopicPartition], spec: OffsetSpec, timeout: float
) -> dict[tuple[str, int], int]:
    futures = admin.list_offsets({tp: spec for tp in partitions}, request_timeout=timeout)
    return {(tp.topic, tp.partition): future.result().offset for tp, future in futures.items()}
