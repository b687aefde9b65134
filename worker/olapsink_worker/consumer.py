"""librdkafka settings for the worker's consumer and dead-letter producer, from the spec.

Throughput settings (testing-notes.md): large fetches (``fetch.max.bytes`` 50 MiB,
``max.partition.fetch.bytes`` 10 MiB) and a short ``fetch.queue.backoff.ms`` so a fast consumer does not
stall a second on the prefetch thresholds; the prefetch queue is capped by a share of the memory budget so
RSS does not depend on the partition count. No auto commit and no auto offset store: the engine commits
explicitly, only what is durable. ``cooperative-sticky`` so a joining worker takes partitions without
stopping everyone (incremental assign/unassign in the callbacks). ``max.poll.interval.ms`` stays at
its default because the loop never blocks on a load (loads run on worker threads).

``spec.kafka.properties`` come last and win: they are the user's explicit pass-through.
"""

from __future__ import annotations

from typing import Any

from olapsink_worker.secrets import read_secret, secret_path

_SASL_MECHANISMS = {"PLAIN": "PLAIN", "SCRAM-SHA-256": "SCRAM-SHA-256", "SCRAM-SHA-512": "SCRAM-SHA-512"}


def security_config(kafka: Any) -> dict[str, str]:
    """security.protocol, sasl.* and ssl.* for librdkafka; TLS material by path from the Secret mounts."""
    security = getattr(kafka, "security", None)
    if security is None:
        return {}
    conf: dict[str, str] = {"security.protocol": security.protocol}
    sasl = security.sasl
    if sasl is not None:
        conf["sasl.mechanism"] = _SASL_MECHANISMS.get(sasl.mechanism, sasl.mechanism)
        conf["sasl.username"] = read_secret(
            sasl.username_secret_ref, "spec.kafka.security.sasl.usernameSecretRef"
        )
        conf["sasl.password"] = read_secret(
            sasl.password_secret_ref, "spec.kafka.security.sasl.passwordSecretRef"
        )
    tls = security.tls
    if tls is not None:
        if tls.ca_secret_ref is not None:
            conf["ssl.ca.location"] = str(secret_path(tls.ca_secret_ref))
        if tls.cert_secret_ref is not None and tls.key_secret_ref is not None:
            conf["ssl.certificate.location"] = str(secret_path(tls.cert_secret_ref))
            conf["ssl.key.location"] = str(secret_path(tls.key_secret_ref))
        if tls.skip_hostname_verification:
            conf["ssl.endpoint.identification.algorithm"] = "none"
    return conf


def consumer_config(sink: Any, *, client_id: str | None = None) -> dict[str, Any]:
    spec = sink.spec
    budget = int(spec.buffer.memory_budget_bytes)
    # librdkafka's prefetch is memory outside the budget: give it a quarter of the budget, 16-64 MiB.
    queued_kb = max(16 * 1024, min(64 * 1024, budget // 4 // 1024))
    conf: dict[str, Any] = {
        "bootstrap.servers": spec.kafka.bootstrap_servers,
        "group.id": sink.effective_group_id,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "partition.assignment.strategy": "cooperative-sticky",
        "enable.partition.eof": False,
        "fetch.max.bytes": 52428800,
        "max.partition.fetch.bytes": 10485760,
        "queued.max.messages.kbytes": queued_kb,
        "fetch.queue.backoff.ms": 10,
        "fetch.wait.max.ms": 100,
        "session.timeout.ms": 45000,
        "client.id": client_id or f"olapsink-{sink.metadata.namespace}-{sink.metadata.name}",
    }
    conf.update(security_config(spec.kafka))
    conf.update(spec.kafka.properties)
    return conf


def producer_config(sink: Any) -> dict[str, Any]:
    """The dead-letter producer: idempotent, acks=all; a record is dead-lettered before its offset is
    committed, so a lost dead-letter write must never be silent."""
    spec = sink.spec
    conf: dict[str, Any] = {
        "bootstrap.servers": spec.kafka.bootstrap_servers,
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 20,
        "client.id": f"olapsink-dlq-{sink.metadata.namespace}-{sink.metadata.name}",
    }
    conf.update(security_config(spec.kafka))
    return conf


def subscription(kafka: Any) -> list[str]:
    """Topic names for ``subscribe``; a regex is passed the librdkafka way (a leading ``^``)."""
    if kafka.topics_regex:
        pattern = kafka.topics_regex
        return [pattern if pattern.startswith("^") else "^" + pattern]
    return list(kafka.topics)
