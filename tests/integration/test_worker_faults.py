"""The worker when the database misbehaves, and when records are bad."""

from __future__ import annotations

import json
import uuid

import pytest
from confluent_kafka import Consumer
from olapsink_worker.engine import EXIT_FATAL

from tests.worker.harness import ThreadWorker, committed, count, ids, sink_doc, wait_for

pytestmark = pytest.mark.integration

COLUMNS = {"id": "INT", "city": "VARCHAR(16)"}


def _setup(emu, broker, n=600, partitions=2, create=True):
    db = emu.create_database()
    if create:
        emu.create_table(db, "tbl", "DUPLICATE", COLUMNS, key=["id"])
    topic = f"t{uuid.uuid4().hex[:8]}"
    broker.create_topic(topic, partitions)
    for p in range(partitions):
        start = p * n // partitions
        broker.produce(
            topic,
            [json.dumps({"id": i, "city": "x"}).encode() for i in range(start, start + n // partitions)],
            partition=p,
        )
    return db, topic


@pytest.mark.parametrize(
    "faults",
    [
        [("publish_timeout", 2)],
        [("http_503", 2)],
        [("drop", 1)],
        [("drop_after_commit", 1)],
        [("too_many_versions", 1)],
    ],
    ids=lambda f: "+".join(name for name, _ in f),
)
def test_transient_failures_still_load_every_row_once(doris_emulator, kafka_broker, faults):
    emu = doris_emulator
    db, topic = _setup(emu, kafka_broker)
    for name, times in faults:
        emu.inject_fault(name, times=times, db=db)
    doc = sink_doc(emu, kafka_broker, db, [topic], {topic: "tbl"}, buffer={"records": 100})
    with ThreadWorker(doc, emu.password) as w:
        wait_for(lambda: count(emu, db, "tbl") >= 600, 60, what="600 rows")
        wait_for(lambda: committed(kafka_broker, doc["spec"]["kafka"]["groupId"], topic, 2) == [300, 300], 30)
        assert w.engine.fatal is None
    assert ids(emu, db, "tbl") == list(range(600))


def test_first_fe_down_second_fe_loads(starrocks_emulator, kafka_broker):
    emu = starrocks_emulator
    db, topic = _setup(emu, kafka_broker, n=200, partitions=1)
    emu.stop_fe(0)
    doc = sink_doc(emu, kafka_broker, db, [topic], {topic: "tbl"})
    with ThreadWorker(doc, emu.password):
        wait_for(lambda: count(emu, db, "tbl") == 200, 60, what="200 rows through the second FE")


def test_unknown_table_stops_the_sink_without_committing(any_emulator, kafka_broker, tmp_path):
    emu = any_emulator
    db, topic = _setup(emu, kafka_broker, n=100, partitions=1, create=False)
    doc = sink_doc(emu, kafka_broker, db, [topic], {topic: "missing_tbl"})
    w = ThreadWorker(doc, emu.password, status_file=str(tmp_path / "status")).start()
    assert w.join(60) == EXIT_FATAL
    # At most the announcement of the failed batch (offset 0 + its range in the metadata), never past it.
    assert committed(kafka_broker, doc["spec"]["kafka"]["groupId"], topic, 1)[0] in (0, -1001)
    status = json.loads((tmp_path / "status").read_text())
    assert status["state"] == "Failed" and "missing_tbl" in status["message"]
    assert w.engine.metrics.fatal._value.get() == 1


def test_poison_records_and_rejected_rows_go_to_the_dead_letter_topic(doris_emulator, kafka_broker):
    emu = doris_emulator
    db = emu.create_database()
    emu.create_table(db, "tbl", "DUPLICATE", COLUMNS, key=["id"])
    topic, dlq = f"t{uuid.uuid4().hex[:8]}", f"dlq{uuid.uuid4().hex[:8]}"
    kafka_broker.create_topic(topic, 1)
    kafka_broker.create_topic(dlq, 1)
    good = [json.dumps({"schema": None, "payload": {"id": i, "city": "x"}}).encode() for i in range(20)]
    too_long = json.dumps({"payload": {"id": 99, "city": "y" * 40}}).encode()
    values = [*good[:5], b"{not json", *good[5:10], too_long, *good[10:]]
    kafka_broker.produce(topic, values)
    doc = sink_doc(
        emu,
        kafka_broker,
        db,
        [topic],
        {topic: "tbl"},
        converter={"valueFormat": "json_with_schema"},
        errors={
            "tolerance": "all",
            "deadLetterQueue": {"topic": dlq},
            "maxRetries": 3,
            "retryIntervalMs": 100,
        },
    )
    with ThreadWorker(doc, emu.password):
        wait_for(lambda: count(emu, db, "tbl") == 20, 60, what="the 20 good rows")
        wait_for(lambda: committed(kafka_broker, doc["spec"]["kafka"]["groupId"], topic, 1) == [22], 30)
    c = Consumer(
        kafka_broker.client_config(**{"group.id": f"r{uuid.uuid4().hex}", "auto.offset.reset": "earliest"})
    )
    c.subscribe([dlq])
    got = []
    for _ in range(60):
        got += [m for m in c.consume(10, 0.5) if m.error() is None]
        if len(got) >= 2:
            break
    c.close()
    by_stage = {dict(m.headers())["__olapsink.errors.stage"].decode(): m for m in got}
    assert set(by_stage) == {"decode", "load"}
    decode = dict(by_stage["decode"].headers())
    assert by_stage["decode"].value() == b"{not json"
    assert decode["__connect.errors.topic"] == topic.encode()
    assert decode["__connect.errors.offset"] == b"5"
    load = dict(by_stage["load"].headers())
    assert b"y" * 40 in by_stage["load"].value()
    assert load["__olapsink.errors.offset.range"] and load["__olapsink.errors.url"]


def test_missing_dead_letter_topic_is_created(doris_emulator, kafka_broker):
    emu = doris_emulator
    db, topic = _setup(emu, kafka_broker, n=10, partitions=1)
    kafka_broker.produce(topic, [b"{broken"])
    dlq = f"dlq{uuid.uuid4().hex[:8]}"
    doc = sink_doc(
        emu,
        kafka_broker,
        db,
        [topic],
        {topic: "tbl"},
        errors={"tolerance": "all", "deadLetterQueue": {"topic": dlq}},
        converter={"valueFormat": "json_with_schema"},
    )
    with ThreadWorker(doc, emu.password):
        # The ten plain-JSON rows are not envelopes either: all eleven records are dead-lettered.
        wait_for(lambda: committed(kafka_broker, doc["spec"]["kafka"]["groupId"], topic, 1) == [11], 60)
    assert dlq in kafka_broker.admin().list_topics(timeout=10).topics
