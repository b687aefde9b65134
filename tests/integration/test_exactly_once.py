"""deliveryGuarantee: exactly_once against real Kafka and the emulator: workers killed at every step of the
protocol (docs/exactly-once.md), and at random instants, then a clean run; every record is in the
DUPLICATE-key table exactly once (a duplicate would show as a second row with the same id)."""

from __future__ import annotations

import json
import random
import signal
import threading
import time
import uuid
from typing import Any

import pytest

from tests.worker.harness import ProcessWorker, ThreadWorker, committed, produce_spread, sink_doc, wait_for

pytestmark = pytest.mark.integration

COLUMNS = {"id": "BIGINT", "p": "INT", "payload": "VARCHAR(64)"}


def _values(partitions: int, total: int, start: int = 0, end: int | None = None) -> dict[int, list[bytes]]:
    """Records ``start..end`` of each partition's share of ``total`` (ids unique over all partitions)."""
    per = total // partitions
    return {
        p: [
            json.dumps({"id": p * per + i, "p": p, "payload": "x" * 20}).encode()
            for i in range(start, per if end is None else min(end, per))
        ]
        for p in range(partitions)
    }


def _setup(
    emu: Any, broker: Any, partitions: int, total: int, produce: bool = True, **spec: Any
) -> tuple[dict[str, Any], str]:
    db = emu.create_database("eos")
    emu.create_table(db, "tbl", "DUPLICATE", COLUMNS, key=["id"])
    topic = f"eos{uuid.uuid4().hex[:8]}"
    broker.create_topic(topic, partitions)
    if produce:
        produce_spread(broker, topic, _values(partitions, total))
    doc = sink_doc(
        emu,
        broker,
        db,
        [topic],
        {topic: "tbl"},
        **{
            "deliveryGuarantee": "exactly_once",
            "buffer": {"records": 700, "flushIntervalMs": 300},
            "errors": {"maxRetries": 100, "retryIntervalMs": 300},
            **spec,
        },
    )
    # A restarted worker takes over its predecessor's membership at once instead of waiting for the
    # killed one's session to time out.
    doc["spec"]["kafka"]["properties"] = {"group.instance.id": "eos-worker", "session.timeout.ms": "10000"}
    return doc, db


def _counts(emu: Any, db: str) -> tuple[int, int]:
    rows = emu.query(f"SELECT COUNT(*), COUNT(DISTINCT id) FROM `{db}`.`tbl`")
    return int(rows[0][0]), int(rows[0][1])


def _finish(emu: Any, broker: Any, doc: dict[str, Any], db: str, partitions: int, total: int) -> None:
    """A clean run to the end; then every record is in the table once and all offsets are committed."""
    group = doc["spec"]["kafka"]["groupId"]
    topic = doc["spec"]["kafka"]["topics"][0]
    with ThreadWorker(doc, emu.password):
        wait_for(
            lambda: sum(committed(broker, group, topic, partitions) or [0]) >= total,
            120,
            interval=0.5,
            what=f"offsets committed up to {total}",
        )
    assert _counts(emu, db) == (total, total)


def _crash_run(doc: dict[str, Any], emu: Any, tmp_path: Any, tag: str, crash_at: str) -> str:
    worker = ProcessWorker(doc, emu.password, tmp_path, tag=tag)
    worker.env["OLAPSINK_TEST_CRASH_AT"] = crash_at
    worker.start()
    try:
        code = worker.wait(90)
    finally:
        worker.kill()
    assert code == 137, worker.output()[-3000:]
    return worker.output()


def test_kill_at_every_protocol_step_loads_each_record_once(any_emulator, kafka_broker, tmp_path):
    emu, partitions, total = any_emulator, 2, 12000
    doc, db = _setup(emu, kafka_broker, partitions, total, buffer={"records": 500, "flushIntervalMs": 300})
    points = ["after_announce", "after_precommit", "after_record", "after_commit", "after_precommit"]
    outputs = [_crash_run(doc, emu, tmp_path, f"run{i}", f"{point}:2") for i, point in enumerate(points)]
    for point, out in zip(points, outputs, strict=True):
        assert f"exiting at {point}" in out
    # The run after the kill between the precommit mark and the commit found the marked ranges and
    # committed them (their transactions were still precommitted).
    assert "was recorded precommitted: commit" in outputs[3]
    loaded, distinct = _counts(emu, db)
    assert 0 < loaded == distinct < total
    _finish(emu, kafka_broker, doc, db, partitions, total)


def test_precommit_expired_while_worker_was_down_is_reloaded(any_emulator, kafka_broker, tmp_path):
    emu, partitions, total = any_emulator, 2, 3000
    doc, db = _setup(emu, kafka_broker, partitions, total)
    _crash_run(doc, emu, tmp_path, "first", "after_record:1")
    states = {t["state"] for t in emu.txns(db=db)}
    assert states & {"PRECOMMITTED", "PREPARED"}, states
    # Down longer than the precommit (prepared) timeout: the database aborts the transaction.
    emu.advance_clock(100_000)
    assert not {t["state"] for t in emu.txns(db=db)} & {"PRECOMMITTED", "PREPARED"}
    assert _counts(emu, db) == (0, 0)
    _finish(emu, kafka_broker, doc, db, partitions, total)


def test_database_down_past_the_precommit_timeout_while_committing(any_emulator, kafka_broker):
    """The worker keeps running: its commit fails while every FE is down, the transaction expires, and
    when the database is back the worker finds it aborted and loads the range again."""
    emu, partitions, total = any_emulator, 1, 1400
    doc, db = _setup(emu, kafka_broker, partitions, total)
    fault_op = "2pc" if emu.flavor == "doris" else "commit"
    emu.inject_fault("http_503", times=None, op=fault_op, db=db)
    group = doc["spec"]["kafka"]["groupId"]
    topic = doc["spec"]["kafka"]["topics"][0]
    with ThreadWorker(doc, emu.password):
        wait_for(
            lambda: {t["state"] for t in emu.txns(db=db)} & {"PRECOMMITTED", "PREPARED"},
            60,
            what="a precommitted transaction",
        )
        time.sleep(1.0)  # a few failed commits
        emu.advance_clock(100_000)  # the outage outlasts the precommit timeout
        assert "ABORTED" in {t["state"] for t in emu.txns(db=db)}
        emu.clear_faults()
        wait_for(
            lambda: sum(committed(kafka_broker, group, topic, partitions) or [0]) >= total,
            120,
            interval=0.5,
            what="all committed",
        )
    assert _counts(emu, db) == (total, total)


def _outage(emu: Any) -> None:
    """The whole database down (BE and every FE) for longer than the precommit timeout."""
    emu.stop_be()
    for i in range(len(emu.fe_urls)):
        emu.stop_fe(i)
    time.sleep(2.0)
    emu.advance_clock(100_000)
    for i in range(len(emu.fe_urls)):
        emu.start_fe(i)
    emu.start_be()


def _random_kills(
    emu: Any,
    broker: Any,
    tmp_path: Any,
    *,
    total: int,
    partitions: int,
    kills: int,
    seed: int,
    outage_at: int | None = None,
) -> None:
    rng = random.Random(seed)
    doc, db = _setup(
        emu, broker, partitions, total, produce=False, buffer={"records": 1000, "flushIntervalMs": 300}
    )
    topic = doc["spec"]["kafka"]["topics"][0]
    # Records keep arriving while workers are killed (spread over about the kills' duration), so that
    # every kill hits a worker with work in progress.
    per, chunk = total // partitions, max(50, total // partitions // (kills * 4))
    stop = threading.Event()

    def produce() -> None:
        for start in range(0, per, chunk):
            if stop.is_set():
                return
            produce_spread(broker, topic, _values(partitions, total, start, start + chunk))
            time.sleep(0.8)

    producer = threading.Thread(target=produce, daemon=True)
    producer.start()
    try:
        _kill_repeatedly(emu, doc, db, tmp_path, rng, total=total, kills=kills, outage_at=outage_at)
    finally:
        producer.join()
    _finish(emu, broker, doc, db, partitions, total)


def _kill_repeatedly(
    emu: Any,
    doc: dict[str, Any],
    db: str,
    tmp_path: Any,
    rng: random.Random,
    *,
    total: int,
    kills: int,
    outage_at: int | None,
) -> None:
    hooks = interrupted = 0
    for i in range(kills):
        worker = ProcessWorker(doc, emu.password, tmp_path, tag=f"k{i}")
        # Every third run dies exactly between a precommit and its mark (the test hook); the others by
        # SIGKILL at a random instant.
        hooked = i % 3 == 1
        if hooked:
            worker.env["OLAPSINK_TEST_CRASH_AT"] = f"after_precommit:{rng.randint(1, 3)}"
        worker.start()
        try:
            wait_for(lambda w=worker: "assigned" in w.output(), 60, what="the worker joined")
            if i == outage_at:
                _outage(emu)
            deadline = time.monotonic() + (30.0 if hooked else rng.uniform(0.3, 3.0))
            while time.monotonic() < deadline and worker.proc is not None and worker.proc.poll() is None:
                time.sleep(0.05)
            if worker.proc is not None and worker.proc.poll() is None:
                worker.signal(signal.SIGKILL)
            worker.wait(30)
        finally:
            worker.kill()
        hooks += "exiting at after_precommit" in worker.output()
        loaded, distinct = _counts(emu, db)
        assert loaded == distinct  # no duplicate at any point, not only at the end
        interrupted += loaded < total
    assert hooks >= kills // 3
    # The kills hit a worker with work left (not one idling after it had loaded everything).
    assert interrupted >= kills // 2, interrupted


def test_random_kills_load_each_record_once(any_emulator, kafka_broker, tmp_path):
    _random_kills(any_emulator, kafka_broker, tmp_path, total=8000, partitions=2, kills=4, seed=7)


@pytest.mark.slow
def test_many_random_kills_over_100k_records_load_each_record_once(any_emulator, kafka_broker, tmp_path):
    _random_kills(
        any_emulator, kafka_broker, tmp_path, total=100_000, partitions=4, kills=24, seed=11, outage_at=12
    )


def test_partition_of_a_worker_killed_after_its_mark_is_settled_by_the_member_taking_it_over(
    starrocks_emulator, kafka_broker, tmp_path, caplog
):
    emu, partitions, total = starrocks_emulator, 2, 2000
    doc, db = _setup(emu, kafka_broker, partitions, total, produce=False)
    # Two ordinary members (no static membership): the survivor gets the partition once the killed
    # member's session times out.
    doc["spec"]["kafka"]["properties"] = {"session.timeout.ms": "6000", "heartbeat.interval.ms": "500"}
    topic = doc["spec"]["kafka"]["topics"][0]
    caplog.set_level("INFO", logger="olapsink.engine")
    with ThreadWorker(doc, emu.password) as survivor:
        wait_for(lambda: len(survivor.engine._assigned) == partitions, 60, what="the first member joined")
        doomed = ProcessWorker(doc, emu.password, tmp_path, tag="doomed")
        doomed.env["OLAPSINK_TEST_CRASH_AT"] = "after_record:1"
        doomed.start()
        try:
            wait_for(lambda: len(survivor.engine._assigned) == 1, 60, what="the partitions shared")
            produce_spread(kafka_broker, topic, _values(partitions, total))
            assert doomed.wait(60) == 137, doomed.output()[-2000:]
        finally:
            doomed.kill()
        group = doc["spec"]["kafka"]["groupId"]
        wait_for(
            lambda: sum(committed(kafka_broker, group, topic, partitions) or [0]) >= total,
            90,
            interval=0.5,
            what="every offset committed by the survivor",
        )
    assert "was recorded precommitted: commit" in caplog.text
    assert _counts(emu, db) == (total, total)
