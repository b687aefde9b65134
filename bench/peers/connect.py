"""Kafka Connect standalone as a measured subprocess: render its .properties, start the JVM, stop it.

One JVM per run (`ConnectStandalone worker.properties connector.properties`), the connector on
`plugin.path` so its jars (Jackson, HttpClient, Debezium) stay isolated from Connect's own.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bench.peers.procstat import ProcessSampler, die_with_parent

STANDALONE_MAIN = "org.apache.kafka.connect.cli.ConnectStandalone"
HEAP = "-Xmx1g"


def render_properties(props: Mapping[str, str | int | bool]) -> str:
    """Java .properties text; values are written as-is (booleans lower-case), one `key=value` a line."""
    lines = []
    for key, val in props.items():
        text = str(val).lower() if isinstance(val, bool) else str(val)
        # A backslash or a leading space would change the value when Java reads it back.
        lines.append(f"{key}={text.replace(chr(92), chr(92) * 2)}")
    return "\n".join(lines) + "\n"


def worker_properties(
    bootstrap: str, plugin_dirs: list[Path], offsets_file: Path, max_poll_records: int = 500
) -> dict[str, str | int | bool]:
    """Standalone worker settings; converters are set per connector (so each case picks its own)."""
    return {
        "bootstrap.servers": bootstrap,
        "plugin.path": ",".join(str(p) for p in plugin_dirs),
        "offset.storage.file.filename": str(offsets_file),
        # Connect's default is 60 s; a short interval bounds how long the connectors' commit-at-preCommit
        # paths (Doris 2PC, StarRocks flush on preCommit) hold rows back, in the bench and the fidelity suite.
        "offset.flush.interval.ms": 1000,
        "key.converter": "org.apache.kafka.connect.storage.StringConverter",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter.schemas.enable": False,
        "consumer.max.poll.records": max_poll_records,
        "consumer.auto.offset.reset": "earliest",
        "listeners": "http://127.0.0.1:0",
        "rest.advertised.host.name": "127.0.0.1",
    }


LOG4J = """log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File={log}
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c:%L)%n
log4j.logger.org.apache.kafka.clients=WARN
log4j.logger.org.reflections=ERROR
"""


@dataclass
class ConnectRun:
    """A running Connect standalone JVM; `sampler` reads its CPU time and peak RSS from /proc."""

    process: subprocess.Popen[bytes]
    workdir: Path
    sampler: ProcessSampler

    @property
    def log(self) -> Path:
        return self.workdir / "connect.log"

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no connect.log)"

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, grace: float = 20.0) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(grace)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def java_binary() -> str:
    java = shutil.which("java")
    if java is None:
        raise RuntimeError(
            "java is not on PATH: install a JRE 17 (apt-get install -y openjdk-17-jre-headless)"
        )
    return java


def start_connect(
    workdir: Path,
    connect_libs: Path,
    worker: Mapping[str, str | int | bool],
    connector: Mapping[str, str | int | bool],
) -> ConnectRun:
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "worker.properties").write_text(render_properties(worker))
    (workdir / "connector.properties").write_text(render_properties(connector))
    (workdir / "log4j.properties").write_text(LOG4J.format(log=workdir / "connect.log"))
    argv = [
        java_binary(),
        HEAP,
        f"-Dlog4j.configuration=file:{workdir / 'log4j.properties'}",
        "-cp",
        f"{connect_libs}/*",
        STANDALONE_MAIN,
        str(workdir / "worker.properties"),
        str(workdir / "connector.properties"),
    ]
    with (workdir / "stdout.log").open("wb") as out:
        process = subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=workdir,
            preexec_fn=die_with_parent,
            env=dict(os.environ),
        )
    return ConnectRun(process=process, workdir=workdir, sampler=ProcessSampler(process.pid))
