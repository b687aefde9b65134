"""Workers coming and going: SIGTERM, SIGKILL and restart, a second worker joining, 64 partitions."""

from __future__ import annotations

import json
import signal
import threading
import time
import uuid

import pytest

from tests.worker.harness import (
    ProcessWorker,
    ThreadWorker,
    committed,
    count,
    ids,
    produce_spread,
    sink_doc,
    wait_for,
)

pytestmark = pytest.mark.integration

COLUMNS = {"id": "INT", "city": "VARCHAR(64)"}


def _rows(start, n):
    return [json.dumps({"id": i, "city": "c"}).encode() for i in range(start, start + n)]


def _setup(emu, broker, partitions, columns=COLUMNS):
    db = emu.create_database()
    emu.create_table(db, "tbl", "DUPLICATE", columns, key=["id"])
    topic = f"t{uuid.uuid4().hex[:8]}"
    broker.create_topic(topic, partitions)
    return db, topic


def test_sigterm_mid_stream_flushes_commits_and_loses_nothing(doris_emulator, kafka_broker, tmp_path):
    emu = doris_emulator
    db, topic = _setup(emu, kafka_broker, 2)
    doc = sink_doc(
        emu, kafka_broker, db, [topic], {topic: "tbl"}, buffer={"records": 5000, "flushIntervalMs": 60000}
    )
    group = doc["spec"]["kafka"]["groupId"]
    first = ProcessWorker(doc, emu.password, tmp_path, tag="first").start()
    total = 6000

    def produce():  # keeps producing while the worker is told to stop
        for start in range(0, total, 200):
            kafka_broker.produce(topic, _rows(start, 200), partition=(start // 200) % 2)
            time.sleep(0.05)

    producer = threading.Thread(target=produce)
    producer.start()
    try:
        wait_for(lambda: "assigned" in first.output(), 60, what="the worker joined")
        time.sleep(1.5)  # consuming; far below the triggers, so everything it read is still buffered
        first.signal(signal.SIGTERM)
        assert first.wait(60) == 0, first.output()
    finally:
        first.kill()
        producer.join()
    produced = total
    done = committed(kafka_broker, group, topic, 2)
    # Whatever the first worker consumed it flushed before exiting: the committed offsets are exactly
    # what is in the table.
    assert sum(done) == count(emu, db, "tbl") > 0
    doc["spec"]["buffer"]["flushIntervalMs"] = 500
    with ThreadWorker(doc, emu.password):
        wait_for(lambda: count(emu, db, "tbl") >= produced, 60, what=f"{produced} rows")
    assert ids(emu, db, "tbl") == list(range(produced))


def test_sigkill_mid_load_then_restart_dedups_by_label(doris_emulator, kafka_broker, tmp_path):
    emu = doris_emulator
    db, topic = _setup(emu, kafka_broker, 1)
    kafka_broker.produce(topic, _rows(0, 300))
    # Every load is applied but its reply is lost: the worker keeps retrying the first batch (1 s apart).
    emu.inject_fault("drop_after_commit", times=None, db=db)
    doc = sink_doc(
        emu, kafka_broker, db, [topic], {topic: "tbl"}, buffer={"records": 100, "flushIntervalMs": 60000}
    )
    # The killed member holds its partition until its session times out: keep that short.
    doc["spec"]["kafka"]["properties"] = {"session.timeout.ms": "6000", "heartbeat.interval.ms": "1000"}
    first = ProcessWorker(doc, emu.password, tmp_path, tag="first").start()
    try:
        wait_for(lambda: count(emu, db, "tbl") >= 100, 60, interval=0.02, what="the first load applied")
        first.kill()
    finally:
        first.kill()
    emu.clear_faults()
    group = doc["spec"]["kafka"]["groupId"]
    assert committed(kafka_broker, group, topic, 1)[0] < 300
    # A different count trigger: only the recorded batch boundaries can give the replay the same labels.
    doc["spec"]["buffer"]["records"] = 70
    with ThreadWorker(doc, emu.password) as again:
        wait_for(lambda: committed(kafka_broker, group, topic, 1) == [300], 60, what="all committed")
        loads = again.engine.metrics.loads
        assert loads.labels(f"{db}.tbl", "duplicate")._value.get() >= 1
    assert ids(emu, db, "tbl") == list(range(300))


def test_second_worker_joining_takes_partitions_without_loss(starrocks_emulator, kafka_broker):
    emu = starrocks_emulator
    db, topic = _setup(emu, kafka_broker, 4)
    for p in range(4):
        kafka_broker.produce(topic, _rows(p * 1000, 500), partition=p)
    doc = sink_doc(emu, kafka_broker, db, [topic], {topic: "tbl"}, buffer={"records": 200})
    with ThreadWorker(doc, emu.password) as a:
        wait_for(lambda: count(emu, db, "tbl") >= 1000, 60, what="first rows")
        with ThreadWorker(doc, emu.password) as b:
            wait_for(lambda: b.engine._assigned and len(a.engine._assigned) < 4, 60, what="rebalance")
            for p in range(4):
                kafka_broker.produce(topic, _rows(p * 1000 + 500, 500), partition=p)
            wait_for(lambda: count(emu, db, "tbl") >= 4000, 60, what="4000 rows")
            wait_for(
                lambda: committed(kafka_broker, doc["spec"]["kafka"]["groupId"], topic, 4) == [1000] * 4, 30
            )
    assert ids(emu, db, "tbl") == sorted(p * 1000 + i for p in range(4) for i in range(1000))


def test_memory_budget_holds_with_64_partitions(doris_emulator, kafka_broker):
    emu = doris_emulator
    db, topic = _setup(emu, kafka_broker, 64, {"id": "INT", "city": "VARCHAR(2000)"})
    pad = "x" * 1000
    produce_spread(
        kafka_broker,
        topic,
        {p: [json.dumps({"id": p * 1000 + i, "city": pad}).encode() for i in range(200)] for p in range(64)},
    )
    budget = 4 * 1024 * 1024
    doc = sink_doc(
        emu,
        kafka_broker,
        db,
        [topic],
        {topic: "tbl"},
        buffer={"records": None, "bytes": 1024 * 1024, "flushIntervalMs": 3000, "memoryBudgetBytes": budget},
    )
    peak = 0
    paused = False
    with ThreadWorker(doc, emu.password) as w:
        stop = threading.Event()

        def watch():
            nonlocal peak, paused
            while not stop.is_set():
                peak = max(peak, w.engine.memory_in_use())
                paused = paused or w.engine._paused
                time.sleep(0.002)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        group = doc["spec"]["kafka"]["groupId"]
        wait_for(
            lambda: sum(committed(kafka_broker, group, topic, 64)) == 64 * 200, 120, what="all committed"
        )
        stop.set()
        watcher.join()
    # 64 partitions x 200 KB would be 12.8 MB buffered without the budget.
    assert count(emu, db, "tbl") == 64 * 200
    assert paused
    assert peak <= budget + 512 * 1024, peak
