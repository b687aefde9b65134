"""The worker end to end: real Kafka, the Stream Load emulator (MariaDB-backed), both dialects."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.worker.harness import ThreadWorker, committed, count, ids, sink_doc, wait_for

pytestmark = pytest.mark.integration

COLUMNS = {"id": "INT", "city": "VARCHAR(64)"}


def _topic(broker, partitions=1):
    name = f"t{uuid.uuid4().hex[:8]}"
    broker.create_topic(name, partitions)
    return name


def _rows(start, n):
    return [json.dumps({"id": i, "city": f"c{i}"}).encode() for i in range(start, start + n)]


def test_every_record_loaded_exactly_once_both_dialects(any_emulator, kafka_broker):
    emu = any_emulator
    db = emu.create_database()
    emu.create_table(db, "tbl", "DUPLICATE", COLUMNS, key=["id"])
    topic = _topic(kafka_broker, partitions=3)
    for p in range(3):
        kafka_broker.produce(topic, _rows(p * 1000, 1000), partition=p)
    doc = sink_doc(emu, kafka_broker, db, [topic], {topic: "tbl"})
    with ThreadWorker(doc, emu.password):
        wait_for(lambda: count(emu, db, "tbl") >= 3000, 60, what="3000 rows")
        wait_for(lambda: committed(kafka_broker, doc["spec"]["kafka"]["groupId"], topic, 3) == [1000] * 3, 20)
    assert ids(emu, db, "tbl") == list(range(3000))


def test_multi_topic_multi_table_and_db_table_routing(doris_emulator, kafka_broker):
    emu = doris_emulator
    db, other = emu.create_database(), emu.create_database()
    emu.create_table(db, "a", "DUPLICATE", COLUMNS, key=["id"])
    emu.create_table(other, "b", "DUPLICATE", COLUMNS, key=["id"])
    ta, tb = _topic(kafka_broker), _topic(kafka_broker)
    kafka_broker.produce(ta, _rows(0, 300))
    kafka_broker.produce(tb, _rows(1000, 200))
    doc = sink_doc(emu, kafka_broker, db, [ta, tb], {ta: "a", tb: f"{other}.b"})
    with ThreadWorker(doc, emu.password):
        wait_for(lambda: count(emu, db, "a") == 300 and count(emu, other, "b") == 200, 60)
    assert ids(emu, other, "b") == list(range(1000, 1200))


def test_time_trigger_flushes_a_quiet_partition(starrocks_emulator, kafka_broker):
    emu = starrocks_emulator
    db = emu.create_database()
    emu.create_table(db, "tbl", "DUPLICATE", COLUMNS, key=["id"])
    topic = _topic(kafka_broker)
    doc = sink_doc(
        emu, kafka_broker, db, [topic], {topic: "tbl"}, buffer={"records": 100_000, "flushIntervalMs": 1000}
    )
    with ThreadWorker(doc, emu.password) as w:
        wait_for(lambda: w.engine.health.joined, 30, what="group join")
        kafka_broker.produce(topic, _rows(0, 7))
        # Far below the count/bytes triggers and nothing else arrives: only the timer can flush this.
        wait_for(lambda: count(emu, db, "tbl") == 7, 15, what="time-triggered flush")


def test_connect_logical_types_land_as_values_not_nulls(any_emulator, kafka_broker):
    emu = any_emulator
    db = emu.create_database()
    emu.create_table(
        db,
        "orders",
        "DUPLICATE",
        {"id": "INT", "day": "DATE", "ts": "DATETIME", "amount": "DECIMAL(10,2)"},
        key=["id"],
    )
    topic = _topic(kafka_broker)
    schema = {
        "type": "struct",
        "fields": [
            {"field": "id", "type": "int32"},
            {"field": "day", "type": "int32", "name": "org.apache.kafka.connect.data.Date"},
            {"field": "ts", "type": "int64", "name": "org.apache.kafka.connect.data.Timestamp"},
            {
                "field": "amount",
                "type": "bytes",
                "name": "org.apache.kafka.connect.data.Decimal",
                "parameters": {"scale": "2"},
            },
        ],
    }
    payload = {
        "id": 1,
        "day": 8905,
        "ts": 1712917800000,
        "amount": "MDk=",
    }  # 1994-05-20, 2024-04-12 10:30, 123.45
    kafka_broker.produce(topic, [json.dumps({"schema": schema, "payload": payload}).encode()])
    doc = sink_doc(
        emu, kafka_broker, db, [topic], {topic: "orders"}, converter={"valueFormat": "json_with_schema"}
    )
    with ThreadWorker(doc, emu.password):
        wait_for(lambda: count(emu, db, "orders") == 1, 30, what="the row")
    ((day, ts, amount),) = emu.query(f"SELECT day, ts, amount FROM `{db}`.orders")
    assert (str(day), str(ts), str(amount)) == ("1994-05-20", "2024-04-12 10:30:00", "123.45")


def test_record_field_routing(starrocks_emulator, kafka_broker):
    emu = starrocks_emulator
    db, other = emu.create_database(), emu.create_database()
    columns = {"id": "INT", "city": "VARCHAR(64)", "target": "VARCHAR(64)"}
    emu.create_table(db, "a", "DUPLICATE", columns, key=["id"])
    emu.create_table(other, "b", "DUPLICATE", columns, key=["id"])
    topic = _topic(kafka_broker)
    targets = ["a", f"{other}.b", ""]  # "" falls back to the topic's table (a)
    kafka_broker.produce(
        topic, [json.dumps({"id": i, "city": "c", "target": targets[i % 3]}).encode() for i in range(300)]
    )
    doc = sink_doc(emu, kafka_broker, db, [topic], {topic: "a"}, tableField="target")
    with ThreadWorker(doc, emu.password):
        wait_for(lambda: count(emu, db, "a") == 200 and count(emu, other, "b") == 100, 60, what="routed rows")
    assert ids(emu, other, "b") == list(range(1, 300, 3))
