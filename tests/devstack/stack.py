"""Choose and start the dev-stack servers, or use the ones named by environment variables.

Environment:
  OLAPSINK_KAFKA_BOOTSTRAP   host:port of a running broker to use instead of starting one
  OLAPSINK_KAFKA_KIND        "kafka" (default) or "tansu": the kind of that broker, or the kind to start
  OLAPSINK_REQUIRE_REAL_KAFKA=1  fail instead of falling back to tansu when Java or Maven is missing (CI)
  OLAPSINK_MARIADB           host:port:user:password of a running MariaDB to use instead of starting one
  OLAPSINK_KAFKA_VERSION, OLAPSINK_CACHE  see kafka_dist.py
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import cast

from tests.devstack.errors import DevstackError
from tests.devstack.kafka_broker import BrokerKind, KafkaBroker
from tests.devstack.kafka_dist import cached_kafka_libs, kafka_version
from tests.devstack.kafka_server import broker_answers, start_kafka
from tests.devstack.mariadb import MariaDB
from tests.devstack.mariadb_server import start_mariadb
from tests.devstack.ports import accepts_connections, parse_host_port
from tests.devstack.process import ServerProcess
from tests.devstack.tansu_server import start_tansu

_KINDS = ("kafka", "tansu")


def _requested_kind() -> BrokerKind:
    kind = os.environ.get("OLAPSINK_KAFKA_KIND", "kafka")
    if kind not in _KINDS:
        raise DevstackError(f"OLAPSINK_KAFKA_KIND={kind!r}: expected one of {', '.join(_KINDS)}")
    return cast(BrokerKind, kind)


def kafka_from_env() -> KafkaBroker | None:
    """The broker named by OLAPSINK_KAFKA_BOOTSTRAP, checked to answer; None when the variable is unset."""
    bootstrap = os.environ.get("OLAPSINK_KAFKA_BOOTSTRAP")
    if not bootstrap:
        return None
    try:
        host, port = parse_host_port(bootstrap)
    except ValueError as exc:
        raise DevstackError(f"OLAPSINK_KAFKA_BOOTSTRAP: {exc}") from exc
    if not (accepts_connections(port, host) and broker_answers(bootstrap, timeout=10)):
        raise DevstackError(
            f"OLAPSINK_KAFKA_BOOTSTRAP={bootstrap} does not answer: start it (scripts/devstack.py up) "
            "or unset the variable to let the tests start their own broker"
        )
    return KafkaBroker(bootstrap=bootstrap, kind=_requested_kind())


def mariadb_from_env() -> MariaDB | None:
    """The server named by OLAPSINK_MARIADB=host:port:user:password; None when the variable is unset."""
    spec = os.environ.get("OLAPSINK_MARIADB")
    if not spec:
        return None
    host, _, rest = spec.partition(":")
    port, _, rest = rest.partition(":")
    user, _, password = rest.partition(":")
    if not (host and port.isdigit() and user):
        raise DevstackError(f"OLAPSINK_MARIADB={spec!r}: expected host:port:user:password")
    server = MariaDB(host=host, port=int(port), user=user, password=password)
    try:
        server.connect().close()
    except Exception as exc:
        raise DevstackError(f"OLAPSINK_MARIADB: cannot connect to {host}:{port} as {user}: {exc}") from exc
    return server


def real_kafka_missing_tools() -> list[str]:
    """What this machine lacks to run Apache Kafka from Maven jars (empty when it can)."""
    missing = [] if shutil.which("java") else ["java"]
    if not shutil.which("mvn") and cached_kafka_libs(kafka_version()) is None:
        missing.append("mvn")
    return missing


def start_kafka_broker(
    workdir: Path | None = None, *, detach: bool = False
) -> tuple[ServerProcess, KafkaBroker]:
    """Start Apache Kafka; tansu when asked, or when Java/Maven are missing and real Kafka is optional."""
    if _requested_kind() == "kafka":
        missing = real_kafka_missing_tools()
        if not missing:
            server, bootstrap = start_kafka(workdir, detach=detach)
            return server, KafkaBroker(bootstrap=bootstrap, kind="kafka")
        if os.environ.get("OLAPSINK_REQUIRE_REAL_KAFKA") == "1":
            raise DevstackError(
                f"real Apache Kafka required (OLAPSINK_REQUIRE_REAL_KAFKA=1) but {' and '.join(missing)} "
                "not installed: apt-get install -y openjdk-17-jre-headless maven"
            )
    server, bootstrap = start_tansu(workdir, detach=detach)
    return server, KafkaBroker(bootstrap=bootstrap, kind="tansu")


def start_mariadb_server(
    workdir: Path | None = None, *, detach: bool = False
) -> tuple[ServerProcess, MariaDB]:
    return start_mariadb(workdir, detach=detach)
