"""StarRocks's starrocks-connector-for-kafka 1.0.6, unmodified, in Kafka Connect 3.7.2 on the emulator."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.peers import cases
from bench.peers.systems import starrocks_connector
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
def test_default_mode_loads_every_row_through_transaction_stream_load(
    case: str,
    tmp_path: Path,
    kafka_broker: KafkaBroker,
    mariadb: MariaDB,
    starrocks_fe: EmulatorHandle,
    connect_libs: Path,
    starrocks_plugin: Path,
) -> None:
    target = new_target(starrocks_fe, mariadb, kafka_broker, "DUPLICATE")
    kafka_broker.produce(target.topic, cases.values(case, COUNT))
    expected = [cases.expected_row(i) for i in range(COUNT)]

    props = starrocks_connector(target, case)
    with running_connector(tmp_path, connect_libs, starrocks_plugin, kafka_broker, props) as run:
        wait_for(run, lambda: len(rows(starrocks_fe, target)) >= COUNT)
        assert settle(run, lambda: rows(starrocks_fe, target)) == expected

    # Always the transaction API (begin/load/prepare/commit) with the SDK's random "-<uuid>" labels.
    txns = starrocks_fe.txns(db=target.database)
    assert txns and {t["state"] for t in txns} == {"VISIBLE"}
    assert all(t["label"].startswith("-") for t in txns)


def test_debezium_extract_new_record_state_applies_creates_updates_and_deletes(
    tmp_path: Path,
    kafka_broker: KafkaBroker,
    mariadb: MariaDB,
    starrocks_fe: EmulatorHandle,
    connect_libs: Path,
    starrocks_plugin: Path,
) -> None:
    count = 700
    target = new_target(starrocks_fe, mariadb, kafka_broker, "PRIMARY", partitions=1)
    kafka_broker.produce(target.topic, debezium_changes(count))
    expected = expected_after_changes(count)

    props = starrocks_connector(target, "debezium")
    with running_connector(tmp_path, connect_libs, starrocks_plugin, kafka_broker, props) as run:
        wait_for(run, lambda: rows(starrocks_fe, target) == expected, what="the changed table")
        assert settle(run, lambda: rows(starrocks_fe, target)) == expected
