"""Pytest fixtures: `doris_emulator` and `starrocks_emulator` (plus count-only variants).

Each emulator starts once per session on the session's `mariadb` server with two FEs sharing one BE; each
test gets it with faults cleared and every FE running. Tests isolate themselves with
`emulator.create_database()` (a fresh, uniquely named database).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.emulator.handle import EmulatorHandle
from tests.emulator.server import EmulatorConfig

USER, PASSWORD = "loader", "s3cret:pw"


def _start(flavor: str, mariadb: Any, count_only: bool = False) -> EmulatorHandle:
    return EmulatorHandle(
        EmulatorConfig(
            flavor=flavor,
            user=USER,
            password=PASSWORD,
            mysql_host=mariadb.host if mariadb else "127.0.0.1",
            mysql_port=mariadb.port if mariadb else 0,
            mysql_user=mariadb.user if mariadb else "",
            mysql_password=mariadb.password if mariadb else "",
            count_only=count_only,
        )
    )


def _fresh(handle: EmulatorHandle) -> EmulatorHandle:
    handle.reset()
    handle.start_be()
    for index in range(len(handle.emulator.fes)):
        handle.start_fe(index)
    return handle


@pytest.fixture(scope="session")
def _doris_emulator_session(mariadb: Any) -> Iterator[EmulatorHandle]:
    handle = _start("doris", mariadb)
    yield handle
    handle.close()


@pytest.fixture(scope="session")
def _starrocks_emulator_session(mariadb: Any) -> Iterator[EmulatorHandle]:
    handle = _start("starrocks", mariadb)
    yield handle
    handle.close()


@pytest.fixture
def doris_emulator(_doris_emulator_session: EmulatorHandle) -> EmulatorHandle:
    """A Doris FE/BE pair (`.fe_url`, `.fe_urls`, `.be_url`, `.user`, `.password`) backed by MariaDB."""
    return _fresh(_doris_emulator_session)


@pytest.fixture
def starrocks_emulator(_starrocks_emulator_session: EmulatorHandle) -> EmulatorHandle:
    """A StarRocks FE/BE pair backed by MariaDB, with the transaction API."""
    return _fresh(_starrocks_emulator_session)


@pytest.fixture(params=["doris", "starrocks"])
def any_emulator(request: pytest.FixtureRequest) -> EmulatorHandle:
    """Each flavor in turn, for tests of behaviour both dialects share."""
    return _fresh(request.getfixturevalue(f"_{request.param}_emulator_session"))


@pytest.fixture
def count_only_emulator() -> Iterator[EmulatorHandle]:
    """A Doris emulator in count-only mode (no MariaDB), for framing and throughput checks."""
    handle = _start("doris", None, count_only=True)
    yield handle
    handle.close()


@pytest.fixture
def count_only_starrocks_emulator() -> Iterator[EmulatorHandle]:
    """A fresh StarRocks emulator in count-only mode (no MariaDB): its counters start at zero."""
    handle = _start("starrocks", None, count_only=True)
    yield handle
    handle.close()
