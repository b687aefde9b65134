"""Session fixtures for integration tests: `kafka_broker` and `mariadb`.

Each server starts on first use, once per test session, and is stopped when the session ends (also after
failures; and by the kernel if pytest itself is killed). Set OLAPSINK_KAFKA_BOOTSTRAP / OLAPSINK_MARIADB to
use servers that are already running (e.g. from `python scripts/devstack.py up`).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from tests.devstack.kafka_broker import KafkaBroker
from tests.devstack.mariadb import MariaDB
from tests.devstack.stack import kafka_from_env, mariadb_from_env, start_kafka_broker, start_mariadb_server


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[KafkaBroker]:
    """A broker for the whole session: `.bootstrap`, `.kind` ("kafka" or "tansu"), topic/produce helpers."""
    reused = kafka_from_env()
    if reused is not None:
        yield reused
        return
    server, broker = start_kafka_broker()
    try:
        yield broker
    finally:
        server.stop()
        shutil.rmtree(server.workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def mariadb() -> Iterator[MariaDB]:
    """A MariaDB server for the whole session, with a user (`.user`/`.password`) granted everything."""
    reused = mariadb_from_env()
    if reused is not None:
        yield reused
        return
    server, database = start_mariadb_server()
    try:
        yield database
    finally:
        server.stop()
        shutil.rmtree(server.workdir, ignore_errors=True)
