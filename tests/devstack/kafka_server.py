"""Run a one-node Apache Kafka (KRaft, combined broker and controller) from the cached jars."""

from __future__ import annotations

import base64
import logging
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

from confluent_kafka.admin import AdminClient

from tests.devstack.errors import DevstackError
from tests.devstack.kafka_dist import ensure_kafka_libs, kafka_version
from tests.devstack.ports import accepts_connections, free_ports
from tests.devstack.process import ServerProcess, retry_port_clash, spawn

# Small and serial: the broker shares two cores with the tests and other engineers' runs.
JVM_OPTIONS = ("-Xms128m", "-Xmx512m", "-XX:+UseSerialGC", "-Djava.awt.headless=true")
START_TIMEOUT = 90.0


def render_server_properties(port: int, controller_port: int, log_dir: Path) -> str:
    """server.properties for a single node that is its own controller, tuned for fast test start-up."""
    settings = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@127.0.0.1:{controller_port}",
        "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(log_dir),
        "num.partitions": "1",
        "auto.create.topics.enable": "true",
        "delete.topic.enable": "true",
        # One replica of every internal topic, and few partitions: the default 50 offsets partitions make
        # the first consumer-group join slow.
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "4",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "4",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        # Groups form at once instead of waiting 3 s for more members.
        "group.initial.rebalance.delay.ms": "0",
        "num.network.threads": "2",
        "num.io.threads": "2",
        "num.recovery.threads.per.data.dir": "1",
    }
    return "".join(f"{key}={value}\n" for key, value in settings.items())


def render_log4j_properties() -> str:
    """log4j2 config: INFO on stdout, which the launcher sends to server.log next to the JVM's own errors."""
    return (
        "status = error\n"
        "appender.out.type = Console\n"
        "appender.out.name = out\n"
        "appender.out.layout.type = PatternLayout\n"
        "appender.out.layout.pattern = [%d] %p %m (%c)%n\n"
        "rootLogger.level = INFO\n"
        "rootLogger.appenderRef.out.ref = out\n"
        # The request logger and the state-change logger are chatty at INFO and say nothing tests need.
        "logger.request.name = kafka.request.logger\n"
        "logger.request.level = WARN\n"
        "logger.statechange.name = state.change.logger\n"
        "logger.statechange.level = WARN\n"
    )


def new_cluster_id() -> str:
    """A Kafka cluster id: a random UUID in URL-safe base64 without padding (22 characters).

    Never one that starts with ``-``: the storage tool's argument parser would read it as an option
    ("--cluster-id expected one argument"), which made about one start in 64 fail.
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def broker_answers(bootstrap: str, timeout: float = 2.0) -> bool:
    """True when a Kafka client can fetch cluster metadata listing at least one broker."""
    quiet = logging.getLogger("olapsink.devstack.librdkafka")
    quiet.addHandler(logging.NullHandler())
    quiet.propagate = False
    config: dict[str, Any] = {"bootstrap.servers": bootstrap, "logger": quiet}
    admin = AdminClient(config)
    try:
        return bool(admin.list_topics(timeout=timeout).brokers)
    except Exception:
        return False


def start_kafka(workdir: Path | None = None, *, detach: bool = False) -> tuple[ServerProcess, str]:
    """Format storage and start the broker; returns the process and its bootstrap address once it answers."""
    java = shutil.which("java")
    if java is None:
        raise DevstackError("Apache Kafka needs Java 17 or newer: `java` is not on PATH")
    version = kafka_version()
    libs = ensure_kafka_libs(version)
    workdir = workdir or Path(tempfile.mkdtemp(prefix="olapsink-kafka-"))
    workdir.mkdir(parents=True, exist_ok=True)
    log4j = workdir / "log4j2.properties"
    log4j.write_text(render_log4j_properties())
    java_cmd = [java, *JVM_OPTIONS, f"-Dlog4j2.configurationFile={log4j}", "-cp", f"{libs}/*"]

    def start_once() -> tuple[ServerProcess, str]:
        port, controller_port = free_ports(2)
        data = workdir / "data"
        shutil.rmtree(data, ignore_errors=True)  # a retry formats afresh
        config = workdir / "server.properties"
        config.write_text(render_server_properties(port, controller_port, data))
        # Kafka 3.x and 4.x both ship the storage tool as kafka.tools.StorageTool in the kafka_2.13 jar;
        # it runs for a second, so the JIT's optimising tier would only cost start-up time.
        fmt = [*java_cmd, "-XX:TieredStopAtLevel=1", "kafka.tools.StorageTool", "format"]
        fmt += ["-t", new_cluster_id(), "-c", str(config)]
        formatter = spawn("kafka storage format", fmt, workdir, workdir / "format.log")
        if formatter.process.wait(timeout=120) != 0:
            raise formatter.failure("`kafka-storage format` failed")

        argv = [*java_cmd, "kafka.Kafka", str(config)]
        server = spawn(f"Apache Kafka {version}", argv, workdir, workdir / "server.log", detach=detach)
        bootstrap = f"127.0.0.1:{port}"
        server.wait_ready(lambda: accepts_connections(port) and broker_answers(bootstrap), START_TIMEOUT)
        return server, bootstrap

    return retry_port_clash(start_once)
