"""apache/doris-kafka-connector 26.0.0, unmodified, in Kafka Connect 3.7.2 against the Doris emulator.

The runs load through the FE's 307 (the connector's default `auto.redirect=true`); the first runs here showed
the emulator's FE mishandling a connection reused after a redirect (test_emulator_findings.py), since fixed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.peers import cases
from bench.peers.connect import ConnectRun
from bench.peers.systems import doris_connector
from tests.devstack.kafka_broker import KafkaBroker
from tests.devstack.mariadb import MariaDB
from tests.emulator.handle import EmulatorHandle
from tests.fidelity.harness import (
    debezium_changes,
    expected_after_changes,
    new_target,
    rows,
    running_connector,
    settle,
    wait_for,
)

pytestmark = [pytest.mark.slow, pytest.mark.integration]

COUNT = 3000


@pytest.mark.parametrize("case", ["json", "json_schema"])
def test_default_mode_loads_every_row_once_through_two_phase_commit(
    case: str,
    tmp_path: Path,
    kafka_broker: KafkaBroker,
    mariadb: MariaDB,
    doris_fe: EmulatorHandle,
    connect_libs: Path,
    doris_plugin: Path,
) -> None:
    target = new_target(doris_fe, mariadb, kafka_broker, "DUPLICATE")
    kafka_broker.produce(target.topic, cases.values(case, COUNT))
    loads_before = doris_fe.stats()["loads"].get("Success", 0)
    expected = [cases.expected_row(i) for i in range(COUNT)]

    props = doris_connector(target, case)
    with running_connector(tmp_path, connect_libs, doris_plugin, kafka_broker, props) as run:
        wait_for(run, lambda: len(rows(doris_fe, target)) >= COUNT)
        assert settle(run, lambda: rows(doris_fe, target)) == expected

    # The default (enable.2pc=true) precommits each load and commits it at Connect's preCommit.
    txns = doris_fe.txns(db=target.database)
    assert txns and {t["state"] for t in txns} == {"VISIBLE"}
    assert all(t["label"].startswith(f"{target.topic.replace('.', '_')}__KC_") for t in txns)
    assert doris_fe.stats()["loads"]["Success"] - loads_before == len(txns)


def test_gzip_bodies_default_since_26_load_too(
    tmp_path: Path,
    kafka_broker: KafkaBroker,
    mariadb: MariaDB,
    doris_fe: EmulatorHandle,
    connect_libs: Path,
    doris_plugin: Path,
) -> None:
    target = new_target(doris_fe, mariadb, kafka_broker, "DUPLICATE", partitions=1)
    kafka_broker.produce(target.topic, cases.values("json", 500))

    props = doris_connector(target, "json", gzip=True)
    with running_connector(tmp_path, connect_libs, doris_plugin, kafka_broker, props) as run:
        wait_for(run, lambda: len(rows(doris_fe, target)) >= 500)
        assert settle(run, lambda: rows(doris_fe, target)) == [cases.expected_row(i) for i in range(500)]


def test_debezium_ingestion_applies_creates_updates_and_deletes(
    tmp_path: Path,
    kafka_broker: KafkaBroker,
    mariadb: MariaDB,
    doris_fe: EmulatorHandle,
    connect_libs: Path,
    doris_plugin: Path,
) -> None:
    count = 700
    target = new_target(doris_fe, mariadb, kafka_broker, "UNIQUE", partitions=1)
    kafka_broker.produce(target.topic, debezium_changes(count))
    expected = expected_after_changes(count)

    props = doris_connector(target, "debezium")
    with running_connector(tmp_path, connect_libs, doris_plugin, kafka_broker, props) as run:
        wait_for(run, lambda: rows(doris_fe, target) == expected, what="the changed table")
        assert settle(run, lambda: rows(doris_fe, target)) == expected


def test_exactly_once_mode_loads_every_row_once(
    tmp_path: Path,
    kafka_broker: KafkaBroker,
    mariadb: MariaDB,
    doris_fe: EmulatorHandle,
    connect_libs: Path,
    doris_plugin: Path,
) -> None:
    """The label scan (`SHOW TRANSACTION … LIKE` on the emulator's query port) skips offsets already visible:
    a second connector (new consumer group, so Kafka replays from offset 0) loads nothing again."""
    target = new_target(doris_fe, mariadb, kafka_broker, "DUPLICATE", partitions=1)
    kafka_broker.produce(target.topic, cases.values("json", 500))
    expected = [cases.expected_row(i) for i in range(500)]

    props = doris_connector(target, "json", exactly_once=True)
    with running_connector(tmp_path / "first", connect_libs, doris_plugin, kafka_broker, props) as run:
        wait_for(run, lambda: len(rows(doris_fe, target)) >= 500, timeout=45)
        assert settle(run, lambda: rows(doris_fe, target)) == expected
        wait_for(run, lambda: _all_visible(doris_fe, target.database), what="every transaction VISIBLE")
    first_txns = len(doris_fe.txns(db=target.database))

    replay = {**props, "name": "doris-json-replay"}
    with running_connector(tmp_path / "replay", connect_libs, doris_plugin, kafka_broker, replay) as run:
        scanned = f"init topic {target.topic} partition 0 offset 499"
        wait_for(run, lambda: scanned in _log(run), what=f"'{scanned}' in the log")
        assert settle(run, lambda: rows(doris_fe, target)) == expected
    assert len(doris_fe.txns(db=target.database)) == first_txns


def _log(run: ConnectRun) -> str:
    return run.log.read_text(errors="replace") if run.log.exists() else ""


def _all_visible(emulator: EmulatorHandle, db: str) -> bool:
    txns = emulator.txns(db=db)
    return bool(txns) and {t["state"] for t in txns} == {"VISIBLE"}
