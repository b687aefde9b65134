"""Protobuf values with a schema registry, through real Kafka and the worker into the Stream Load emulator."""

from __future__ import annotations

import pytest

from tests.integration.formats_support import fresh_topic, orders_database, registry_sink
from tests.schema_registry.fixtures import schema_registry  # noqa: F401 (fixture)
from tests.worker.formats.messages import order_types
from tests.worker.formats.producers import protobuf_producer
from tests.worker.harness import ThreadWorker, committed, count, wait_for

pytestmark = pytest.mark.integration

COLUMNS = {
    "id": "BIGINT",
    "city": "VARCHAR(32)",
    "created": "DATETIME(6)",
    "day": "DATE",
    "at": "VARCHAR(20)",
    "amount": "DECIMAL(12,2)",
    "status": "VARCHAR(8)",
    "discount": "DOUBLE",
    "coupon": "VARCHAR(16)",
    "lines": "JSON",
    "note": "VARCHAR(32)",
}


def _order(version, i, **extra):
    order_type, line_type = order_types(version)
    msg = order_type(id=i, city=f"c{i}", status=i % 2, **extra)
    if i % 10:  # every tenth: the optional fields unset, so null
        msg.created.seconds, msg.created.nanos = 1_709_296_215 + i, 5_000
        msg.day.year, msg.day.month, msg.day.day = 2024, 2, 29
        msg.at.hours, msg.at.minutes, msg.at.seconds = 23, 59, 58
        msg.amount.value, msg.amount.scale = (100_000 + i).to_bytes(4, "big", signed=True), 2
        msg.discount = i / 8
        msg.coupon.value = f"K{i}"
        msg.lines.append(line_type(sku=f"s{i}", qty=i))
    return msg


def test_protobuf_loads_well_known_types_nulls_and_a_new_optional_field(
    doris_emulator,
    kafka_broker,
    schema_registry,  # noqa: F811 (the fixture imported above)
    tmp_path,
    monkeypatch,
):
    emu = doris_emulator
    db = orders_database(emu, COLUMNS)
    topic = fresh_topic(kafka_broker)
    v1 = protobuf_producer(schema_registry, order_types(1)[0], topic)
    v2 = protobuf_producer(schema_registry, order_types(2)[0], topic)
    values = [v1(_order(1, 1)), v1(_order(1, 10)), v2(_order(2, 3, note="gift")), v2(_order(2, 20))]
    kafka_broker.produce(topic, values)
    doc = registry_sink(emu, kafka_broker, schema_registry, db, topic, "protobuf", tmp_path, monkeypatch)
    with ThreadWorker(doc, emu.password):
        wait_for(lambda: count(emu, db, "orders") == 4, 60, what="4 rows")
        wait_for(lambda: committed(kafka_broker, doc["spec"]["kafka"]["groupId"], topic, 1) == [4], 30)
    rows = emu.query(
        "SELECT id, city, CAST(created AS CHAR), CAST(day AS CHAR), at, CAST(amount AS CHAR), status, "
        f"discount, coupon, `lines`, note FROM `{db}`.`orders` ORDER BY id"
    )
    assert [tuple(r) for r in rows] == [
        (
            1,
            "c1",
            "2024-03-01 12:30:16.000005",
            "2024-02-29",
            "23:59:58",
            "1000.01",
            "PAID",
            0.125,
            "K1",
            '[{"sku":"s1","qty":1}]',
            None,
        ),
        (
            3,
            "c3",
            "2024-03-01 12:30:18.000005",
            "2024-02-29",
            "23:59:58",
            "1000.03",
            "PAID",
            0.375,
            "K3",
            '[{"sku":"s3","qty":3}]',
            "gift",
        ),
        (10, "c10", None, None, None, None, "NEW", None, None, "[]", None),
        (20, "c20", None, None, None, None, "NEW", None, None, "[]", None),
    ]
