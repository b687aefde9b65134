"""Run one real connector in Kafka Connect standalone until the rows a test expects are visible."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.peers import cases
from bench.peers.connect import ConnectRun, start_connect, worker_properties
from bench.peers.systems import Props, Target
from tests.devstack.kafka_broker import KafkaBroker
from tests.devstack.mariadb import MariaDB
from tests.emulator.handle import EmulatorHandle

SELECT = "SELECT " + ", ".join(f"`{c}`" for c, _ in cases.COLUMNS) + " FROM `{table}` ORDER BY id"


def new_target(
    emulator: EmulatorHandle, mariadb: MariaDB, kafka: KafkaBroker, model: str, partitions: int = 2
) -> Target:
    """A fresh database, table (the cases' columns, keyed by id) and topic for one test."""
    db = emulator.create_database("fid")
    emulator.create_table(db, "events", model, cases.COLUMNS, key=["id"])
    topic = f"fidelity-{uuid.uuid4().hex[:10]}"
    kafka.create_topic(topic, partitions)
    return Target(
        fe_url=emulator.fe_url,
        user=emulator.user,
        password=emulator.password,
        database=db,
        table="events",
        topic=topic,
        query_port=emulator.query_port,
    )


def rows(emulator: EmulatorHandle, target: Target) -> list[tuple[Any, ...]]:
    return emulator.query(SELECT.format(table=target.table), db=target.database)


@contextmanager
def running_connector(
    workdir: Path, connect_libs: Path, plugin: Path, kafka: KafkaBroker, connector: Props
) -> Iterator[ConnectRun]:
    run = start_connect(
        workdir, connect_libs, worker_properties(kafka.bootstrap, [plugin], workdir / "offsets"), connector
    )
    try:
        yield run
    finally:
        run.stop()


def wait_for(
    run: ConnectRun, done: Callable[[], bool], timeout: float = 90.0, what: str = "the expected rows"
) -> None:
    """Poll `done` until it holds; fail with the Connect log's tail if the JVM dies or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if done():
            return
        if not run.alive():
            raise AssertionError(f"Kafka Connect exited ({run.process.returncode}):\n{run.log_tail()}")
        time.sleep(0.5)
    raise AssertionError(f"{what} not visible after {timeout:.0f} s; Connect log:\n{run.log_tail()}")


def settle(run: ConnectRun, check: Callable[[], Any], seconds: float = 3.0) -> Any:
    """Wait a little longer and read again, so rows loaded twice (replays) would show up."""
    time.sleep(seconds)
    assert run.alive(), run.log_tail()
    return check()


def debezium_changes(count: int) -> Iterable[bytes]:
    """Creates for ids 0..count-1, then updates of every 10th id, then deletes of every 7th id."""
    for i in range(count):
        yield cases.debezium_event("c", None, cases.row(i))
    for i in range(0, count, 10):
        yield cases.debezium_event("u", cases.row(i), {**cases.row(i), "amount": i + 1000.5})
    for i in range(0, count, 7):
        before = {**cases.row(i), "amount": i + 1000.5} if i % 10 == 0 else cases.row(i)
        yield cases.debezium_event("d", before, None)


def expected_after_changes(count: int) -> list[tuple[Any, ...]]:
    out = []
    for i in range(count):
        if i % 7 == 0:
            continue
        row = list(cases.expected_row(i))
        if i % 10 == 0:
            row[5] = i + 1000.5
        out.append(tuple(row))
    return out
