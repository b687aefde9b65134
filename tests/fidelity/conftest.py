"""Fixtures of the fidelity suite: the real connectors' plugins and emulators whose user is MariaDB's.

The Doris connector also runs SQL against the FE's MySQL port (information_schema in Debezium mode, SHOW
TRANSACTION for exactly-once): `doris.query.port` is the emulator's query port (tests/emulator/mysql_fe.py),
which answers SHOW TRANSACTION itself and forwards the rest to MariaDB. The emulator's Stream Load user is
MariaDB's (bench/peers/stack.py), unlike the shared `doris_emulator` fixture.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.peers import fetch
from bench.peers.stack import start_emulator
from tests.devstack.mariadb import MariaDB
from tests.emulator.handle import EmulatorHandle


@pytest.fixture(scope="session")
def connect_libs() -> Path:
    return fetch.ensure_connect_libs()


@pytest.fixture(scope="session")
def doris_plugin() -> Path:
    return fetch.ensure_plugin("doris")


@pytest.fixture(scope="session")
def starrocks_plugin() -> Path:
    return fetch.ensure_plugin("starrocks")


@pytest.fixture(scope="session")
def doris_fe(mariadb: MariaDB) -> Iterator[EmulatorHandle]:
    """A Doris emulator (one FE, one BE) on MariaDB, whose Stream Load user and password are MariaDB's."""
    handle = start_emulator("doris", mariadb)
    yield handle
    handle.close()


@pytest.fixture(scope="session")
def starrocks_fe(mariadb: MariaDB) -> Iterator[EmulatorHandle]:
    handle = start_emulator("starrocks", mariadb)
    yield handle
    handle.close()
