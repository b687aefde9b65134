"""What a peers run needs: Apache Kafka, MariaDB and a Stream Load emulator, started and stopped together.

Reuses the dev stack's starters (tests/devstack) and the emulator's own handle, so the peers, the fidelity
suite and olapsink's worker all run against exactly the same broker and emulator code.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.devstack.kafka_broker import KafkaBroker
from tests.devstack.mariadb import MariaDB
from tests.devstack.stack import start_kafka_broker, start_mariadb_server
from tests.emulator.handle import EmulatorHandle
from tests.emulator.server import EmulatorConfig

USER, PASSWORD = "loader", "s3cret"


@dataclass(frozen=True)
class Stack:
    kafka: KafkaBroker
    mariadb: MariaDB | None
    emulator: EmulatorHandle


def start_emulator(flavor: str, mariadb: MariaDB | None, count_only: bool = False) -> EmulatorHandle:
    """An emulator with one FE; `count_only` (nothing stored, only counted) for throughput runs.

    Backed by MariaDB, its Stream Load user is MariaDB's: the Doris connector also speaks SQL to the FE's
    MySQL port (information_schema in Debezium mode, SHOW TRANSACTION for exactly-once). The emulator's query
    port answers SHOW TRANSACTION and forwards the rest to MariaDB with those credentials.
    """
    store = mariadb if not count_only else None
    config = EmulatorConfig(
        flavor=flavor,
        user=mariadb.user if mariadb else USER,
        password=mariadb.password if mariadb else PASSWORD,
        mysql_host=store.host if store else "127.0.0.1",
        mysql_port=store.port if store else 0,
        mysql_user=store.user if store else "",
        mysql_password=store.password if store else "",
        count_only=count_only,
    )
    return EmulatorHandle(config, fe_count=1)


@contextlib.contextmanager
def running_kafka(workdir: Path) -> Iterator[KafkaBroker]:
    server, broker = start_kafka_broker(workdir / "kafka")
    try:
        yield broker
    finally:
        server.stop()


@contextlib.contextmanager
def running_mariadb(workdir: Path) -> Iterator[MariaDB]:
    server, db = start_mariadb_server(workdir / "mariadb")
    try:
        yield db
    finally:
        server.stop()


@contextlib.contextmanager
def running_emulator(
    flavor: str, mariadb: MariaDB | None, count_only: bool = False
) -> Iterator[EmulatorHandle]:
    handle = start_emulator(flavor, mariadb, count_only)
    try:
        yield handle
    finally:
        handle.close()


@contextlib.contextmanager
def scratch_dir(keep: Path | None = None) -> Iterator[Path]:
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        yield keep
        return
    with tempfile.TemporaryDirectory(prefix="olapsink-peers-") as tmp:
        yield Path(tmp)
