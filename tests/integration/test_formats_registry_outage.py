"""A schema registry outage through real Kafka, the worker and the Stream Load emulator: the records wait
for the registry (never dead-lettered, never skipped), or the sink stops past the bound keeping offsets."""

from __future__ import annotations

import threading
import uuid

import pytest
from confluent_kafka import Consumer, TopicPartition

from tests.integration.formats_support import fresh_topic, orders_database, registry_sink
from tests.schema_registry.fixtures import schema_registry  # noqa: F401 (fixture)
from tests.worker.formats.avro_schemas import ORDER_V1, order
from tests.worker.formats.producers import avro_producer
from tests.worker.harness import ThreadWorker, committed, count, ids, wait_for

pytestmark = pytest.mark.integration


def _records_in(broker, topic: str) -> int:
    consumer = Consumer(broker.client_config(**{"group.id": f"r{uuid.uuid4().hex}"}))
    try:
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
        return high - low
    finally:
        consumer.close()


def _sink(emu, kafka_broker, registry, db, topic, tmp_path, monkeypatch, **errors):
    errors = {"maxRetries": 3, "retryIntervalMs": 100, **errors}
    return registry_sink(emu, kafka_broker, registry, db, topic, "avro", tmp_path, monkeypatch, errors=errors)


def test_records_read_while_the_registry_is_down_load_once_when_it_comes_back(
    doris_emulator,
    kafka_broker,
    schema_registry,  # noqa: F811 (the fixture imported above)
    tmp_path,
    monkeypatch,
):
    emu = doris_emulator
    db = orders_database(emu)
    topic, dlq = fresh_topic(kafka_broker), fresh_topic(kafka_broker, "dlq")
    produce = avro_producer(schema_registry, ORDER_V1, topic)
    values = [produce(order(i)) for i in range(20)]
    doc = _sink(
        emu,
        kafka_broker,
        schema_registry,
        db,
        topic,
        tmp_path,
        monkeypatch,
        tolerance="all",
        deadLetterQueue={"topic": dlq},
    )
    schema_registry.available = False
    try:
        kafka_broker.produce(topic, values)
        with ThreadWorker(doc, emu.password, registry_retry_timeout=60) as worker:
            errors = worker.worker.metrics.schema_registry_errors.labels("unavailable")
            wait_for(lambda: errors._value.get() >= 2, 30, what="two failed attempts at the registry")
            assert worker.engine.fatal is None
            assert count(emu, db, "orders") == 0
            reason = worker.engine.waiting_reason() or ""
            assert schema_registry.url in reason and f"{topic}[0] at offset 0" in reason
            schema_registry.available = True
            wait_for(lambda: count(emu, db, "orders") == 20, 30, what="20 rows")
            group = doc["spec"]["kafka"]["groupId"]
            wait_for(lambda: committed(kafka_broker, group, topic, 1) == [20], 30, what="offset 20")
            assert worker.engine.waiting_reason() is None
    finally:
        schema_registry.available = True
    assert ids(emu, db, "orders") == list(range(20))
    assert _records_in(kafka_broker, dlq) == 0, "nothing went to the dead-letter topic"


def test_a_registry_down_past_the_bound_stops_the_sink_with_offsets_kept(
    doris_emulator,
    kafka_broker,
    schema_registry,  # noqa: F811 (the fixture imported above)
    tmp_path,
    monkeypatch,
):
    emu = doris_emulator
    db = orders_database(emu)
    topic = fresh_topic(kafka_broker)
    produce = avro_producer(schema_registry, ORDER_V1, topic)
    kafka_broker.produce(topic, [produce(order(i)) for i in range(5)])
    monkeypatch.setenv("OLAPSINK_SCHEMA_REGISTRY_RETRY_TIMEOUT", "3")
    doc = _sink(emu, kafka_broker, schema_registry, db, topic, tmp_path, monkeypatch)
    stopped = threading.Event()
    schema_registry.available = False
    try:
        worker = ThreadWorker(doc, emu.password).start()
        try:
            assert worker.join(30) == 2
            stopped.set()
        finally:
            if not stopped.is_set():
                worker.stop()
    finally:
        schema_registry.available = True
    fatal = worker.engine.fatal
    assert getattr(fatal, "reason", None) == "SchemaRegistryUnavailable"
    assert schema_registry.url in str(fatal) and f"{topic}[0]@0" in str(fatal)
    assert committed(kafka_broker, doc["spec"]["kafka"]["groupId"], topic, 1) in ([-1001], [0])
    assert count(emu, db, "orders") == 0
