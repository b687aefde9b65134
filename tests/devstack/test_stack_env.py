"""How the dev stack reads its environment and reports failures, without starting real servers."""

import os
import sys
from pathlib import Path

import pytest

from tests.devstack.errors import DevstackError
from tests.devstack.kafka_dist import ensure_kafka_libs
from tests.devstack.mariadb import quote_identifier
from tests.devstack.ports import free_ports, parse_host_port
from tests.devstack.process import retry_port_clash, spawn
from tests.devstack.stack import kafka_from_env, mariadb_from_env, start_kafka_broker


def test_host_port_is_split_and_garbage_is_named() -> None:
    assert parse_host_port("127.0.0.1:9092") == ("127.0.0.1", 9092)
    with pytest.raises(ValueError, match="'localhost'"):
        parse_host_port("localhost")


def test_unset_variables_mean_start_our_own_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OLAPSINK_KAFKA_BOOTSTRAP", raising=False)
    monkeypatch.delenv("OLAPSINK_MARIADB", raising=False)
    assert kafka_from_env() is None
    assert mariadb_from_env() is None


def test_malformed_mariadb_variable_says_the_expected_form(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLAPSINK_MARIADB", "127.0.0.1:notaport")
    with pytest.raises(DevstackError, match="host:port:user:password"):
        mariadb_from_env()


def test_unreachable_kafka_variable_says_how_to_fix_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLAPSINK_KAFKA_BOOTSTRAP", "127.0.0.1:1")
    with pytest.raises(DevstackError, match=r"does not answer.*devstack.py up"):
        kafka_from_env()


def test_ci_refuses_the_tansu_fallback_when_java_is_missing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no java, no mvn
    monkeypatch.setenv("OLAPSINK_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("OLAPSINK_REQUIRE_REAL_KAFKA", "1")
    monkeypatch.delenv("OLAPSINK_KAFKA_KIND", raising=False)
    with pytest.raises(DevstackError, match="java and mvn not installed"):
        start_kafka_broker(tmp_path / "work")


def test_missing_maven_with_an_empty_cache_is_explained(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(DevstackError, match=r"not cached in .*`mvn` is not installed"):
        ensure_kafka_libs("4.1.1", root=tmp_path)


def test_a_server_that_exits_while_starting_fails_with_its_log(tmp_path: Path) -> None:
    argv = [sys.executable, "-c", "print('port already in use'); raise SystemExit(3)"]
    server = spawn("fake server", argv, tmp_path, tmp_path / "server.log")
    with pytest.raises(DevstackError, match=r"(?s)fake server: exited with code 3.*port already in use"):
        server.wait_ready(lambda: False, timeout=30)


def test_a_server_that_never_answers_is_stopped_at_the_timeout(tmp_path: Path) -> None:
    argv = [sys.executable, "-c", "import time; time.sleep(60)"]
    server = spawn("silent server", argv, tmp_path, tmp_path / "server.log")
    with pytest.raises(DevstackError, match="not ready after 1 s"):
        server.wait_ready(lambda: False, timeout=1)
    assert server.process.poll() is not None
    assert os.path.isdir(tmp_path)


def test_identifiers_with_quotes_or_dots_are_refused() -> None:
    assert quote_identifier("sink_db1") == "`sink_db1`"
    for bad in ("a`b", "db.table", "", "x" * 65):
        with pytest.raises(ValueError, match="identifier"):
            quote_identifier(bad)


def test_a_port_taken_by_another_process_makes_the_start_retry(tmp_path: Path) -> None:
    attempts: list[int] = []

    def start() -> str:
        attempts.append(len(attempts) + 1)
        if len(attempts) == 1:
            code = "print('java.net.BindException: Address already in use'); raise SystemExit(1)"
        else:
            code = "import time; time.sleep(30)"
        server = spawn("clashing server", [sys.executable, "-c", code], tmp_path, tmp_path / "server.log")
        server.wait_ready(lambda: len(attempts) > 1 and server.process.poll() is None, timeout=10)
        server.stop()
        return "started"

    assert retry_port_clash(start) == "started"
    assert attempts == [1, 2]


def test_other_start_failures_are_not_retried(tmp_path: Path) -> None:
    attempts: list[int] = []

    def start() -> None:
        attempts.append(1)
        server = spawn("broken", [sys.executable, "-c", "raise SystemExit(2)"], tmp_path, tmp_path / "s.log")
        server.wait_ready(lambda: False, timeout=10)

    with pytest.raises(DevstackError, match="exited with code 2"):
        retry_port_clash(start)
    assert attempts == [1]


def test_free_ports_are_distinct() -> None:
    ports = free_ports(4)
    assert len(set(ports)) == 4
