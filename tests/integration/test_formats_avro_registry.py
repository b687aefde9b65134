"""Avro values with a schema registry, through real Kafka and the worker into the Stream Load emulator."""

from __future__ import annotations

import pytest

from tests.integration.formats_support import (
    dead_letters,
    fresh_topic,
    orders_database,
    registry_sink,
    table_rows,
)
from tests.schema_registry.fixtures import schema_registry  # noqa: F401 (fixture)
from tests.worker.formats.avro_schemas import ORDER_V1, ORDER_V2, order
from tests.worker.formats.producers import avro_producer
from tests.worker.harness import ThreadWorker, committed, count, wait_for

pytestmark = pytest.mark.integration


def test_avro_with_registry_loads_logical_types_nulls_and_a_new_optional_field(
    doris_emulator,
    kafka_broker,
    schema_registry,  # noqa: F811 (the fixture imported above)
    tmp_path,
    monkeypatch,
):
    emu = doris_emulator
    db = orders_database(emu)
    topic, dlq = fresh_topic(kafka_broker), fresh_topic(kafka_broker, "dlq")
    v1 = avro_producer(schema_registry, ORDER_V1, topic)
    v2 = avro_producer(schema_registry, ORDER_V2, topic)
    unknown_id = b"\x00" + (424242).to_bytes(4, "big") + b"\x02"
    values = (
        [v1(order(i)) for i in range(0, 3)] + [unknown_id] + [v2(order(i, note=f"n{i}")) for i in (3, 10)]
    )
    kafka_broker.produce(topic, values)
    doc = registry_sink(
        emu,
        kafka_broker,
        schema_registry,
        db,
        topic,
        "avro",
        tmp_path,
        monkeypatch,
        errors={
            "tolerance": "all",
            "deadLetterQueue": {"topic": dlq},
            "maxRetries": 3,
            "retryIntervalMs": 100,
        },
    )
    with ThreadWorker(doc, emu.password):
        wait_for(lambda: count(emu, db, "orders") == 5, 60, what="5 rows")
        wait_for(lambda: committed(kafka_broker, doc["spec"]["kafka"]["groupId"], topic, 1) == [6], 30)
    assert table_rows(emu, db) == [
        (0, "c0", "2024-03-01 12:30:15.250000", None, "2024-02-29", "08:05:09.5", "1000.00", 1, None, None),
        (
            1,
            "c1",
            "2024-03-01 12:30:16.250000",
            "2024-03-01 12:30:15.123456",
            "2024-02-29",
            "08:05:09.5",
            "1000.01",
            0,
            0.25,
            None,
        ),
        (
            2,
            "c2",
            "2024-03-01 12:30:17.250000",
            "2024-03-01 12:30:15.123456",
            "2024-02-29",
            "08:05:09.5",
            "1000.02",
            1,
            0.5,
            None,
        ),
        (
            3,
            "c3",
            "2024-03-01 12:30:18.250000",
            "2024-03-01 12:30:15.123456",
            "2024-02-29",
            "08:05:09.5",
            "1000.03",
            0,
            0.75,
            "n3",
        ),
        (
            10,
            "c10",
            "2024-03-01 12:30:25.250000",
            None,
            "2024-02-29",
            "08:05:09.5",
            "1000.10",
            1,
            None,
            "n10",
        ),
    ]
    (dead,) = dead_letters(kafka_broker, dlq, 1)
    assert dead.value() == unknown_id
    assert dict(dead.headers())["__olapsink.errors.stage"] == b"decode"
