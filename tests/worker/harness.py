"""Running real workers in tests: sink manifests for the emulator, a worker on a thread or as a process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from olapsink_worker.engine import EngineOptions
from olapsink_worker.main import Worker
from olapsink_worker.spec import parse_manifest

REPO = Path(__file__).resolve().parents[2]


def sink_doc(
    emulator: Any,
    broker: Any,
    database: str,
    topics: list[str],
    tables: dict[str, str] | None = None,
    *,
    name: str | None = None,
    **spec: Any,
) -> dict[str, Any]:
    """A DorisSink/StarRocksSink manifest pointing at the emulator and broker, with a fresh consumer group."""
    name = name or f"w{uuid.uuid4().hex[:8]}"
    body: dict[str, Any] = {
        "kafka": {"bootstrapServers": broker.bootstrap, "topics": topics, "groupId": f"g-{name}"},
        "tables": [{"topic": t, "table": tbl} for t, tbl in (tables or {}).items()],
        "buffer": {"records": 500, "flushIntervalMs": 500},
        "errors": {"maxRetries": 5, "retryIntervalMs": 200},
    }
    if emulator.flavor == "doris":
        host_port = emulator.fe_url.split("//", 1)[1]
        host, port = host_port.rsplit(":", 1)
        body["doris"] = {
            "feHosts": [host],
            "httpPort": int(port),
            "user": emulator.user,
            "database": database,
        }
        kind = "DorisSink"
    else:
        body["starrocks"] = {
            "httpUrls": [u.split("//", 1)[1] for u in emulator.fe_urls],
            "user": emulator.user,
            "database": database,
        }
        kind = "StarRocksSink"
    for key, value in spec.items():
        if isinstance(value, dict) and isinstance(body.get(key), dict):
            body[key] = {**body[key], **value}
        else:
            body[key] = value
    return {"apiVersion": "olapsink.io/v1alpha1", "kind": kind, "metadata": {"name": name}, "spec": body}


class ThreadWorker:
    """A worker engine on a thread (no signals, no HTTP server)."""

    def __init__(self, doc: dict[str, Any], password: str, **options: Any) -> None:
        opts = EngineOptions(**{"drain_timeout": 20.0, **options})
        self.worker = Worker(parse_manifest(doc), password, options=opts)
        self.exit_code: int | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def engine(self) -> Any:
        return self.worker.engine

    def _run(self) -> None:
        self.exit_code = self.worker.run()

    def start(self) -> ThreadWorker:
        self._thread.start()
        return self

    def stop(self, timeout: float = 60.0) -> int | None:
        self.worker.stop()
        self._thread.join(timeout)
        return self.exit_code

    def join(self, timeout: float) -> int | None:
        self._thread.join(timeout)
        return self.exit_code

    def __enter__(self) -> ThreadWorker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class ProcessWorker:
    """``olapsink-worker --config`` as a child process (for SIGTERM/SIGKILL tests)."""

    def __init__(self, doc: dict[str, Any], password: str, workdir: Path, *, tag: str = "w") -> None:
        self.config = workdir / f"{tag}.yaml"
        self.config.write_text(yaml.safe_dump(doc))
        self.log = workdir / f"{tag}.log"
        self.status = workdir / f"{tag}.status"
        self.env = {**os.environ, "OLAPSINK_DB_PASSWORD": password, "PYTHONPATH": str(REPO)}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ProcessWorker:
        cmd = [
            sys.executable,
            "-m",
            "olapsink_worker.main",
            "--config",
            str(self.config),
            "--metrics-port",
            "0",
            "--metrics-host",
            "127.0.0.1",
            "--status-file",
            str(self.status),
            "--log-format",
            "text",
        ]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=self.env)
        return self

    def signal(self, signum: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(signum)

    def wait(self, timeout: float = 60.0) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def wait_for(
    predicate: Callable[[], Any], timeout: float = 30.0, interval: float = 0.1, what: str = ""
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(interval)


def count(emulator: Any, db: str, table: str) -> int:
    return int(emulator.query(f"SELECT COUNT(*) FROM `{db}`.`{table}`")[0][0])


def ids(emulator: Any, db: str, table: str) -> list[int]:
    return [int(r[0]) for r in emulator.query(f"SELECT id FROM `{db}`.`{table}` ORDER BY id")]


def committed(broker: Any, group: str, topic: str, partitions: int) -> list[int]:
    from confluent_kafka import Consumer, KafkaException, TopicPartition

    c = Consumer(broker.client_config(**{"group.id": group, "enable.auto.commit": False}))
    try:
        tps = c.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=10)
        return [tp.offset for tp in tps]
    except KafkaException:  # e.g. NOT_COORDINATOR while the group coordinator moves: ask again later
        return []
    finally:
        c.close()


def produce_spread(broker: Any, topic: str, values_by_partition: dict[int, list[bytes]]) -> None:
    """Produce to many partitions with one producer (the fixture's helper makes one per call)."""
    from confluent_kafka import Producer

    producer = Producer(broker.client_config(**{"linger.ms": 5, "batch.size": 1_000_000}))
    for partition, values in values_by_partition.items():
        for value in values:
            while True:
                try:
                    producer.produce(topic, value=value, partition=partition)
                    break
                except BufferError:
                    producer.poll(0.1)
    assert producer.flush(60) == 0
