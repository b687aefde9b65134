"""/healthz, /readyz and /metrics on one small HTTP server (``spec.worker.metricsPort``).

- ``/healthz`` is 200 while the engine loop has turned within ``stall_after`` seconds: a wedged loop gets
  the pod restarted by its liveness probe.
- ``/readyz`` is 200 once the consumer has joined its group (an assignment arrived, possibly empty:
  a spare replica with no partition is still healthy) and no fatal error stopped the sink, and no
  partition waits for an unavailable schema registry (``Health.waiting`` says which: the worker runs, but
  loads nothing of them; docs/formats.md, "Registry outages").
- ``/metrics`` is the Prometheus text format of the worker's registry.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST


class Health:
    """Thread-safe enough: single attribute writes from the loop, reads from the HTTP thread."""

    def __init__(self, stall_after: float = 120.0) -> None:
        self.stall_after = stall_after
        self.last_beat = time.monotonic()
        self.joined = False
        self.fatal: str | None = None
        self.stopping = False
        #: Set by the engine loop while partitions wait for the schema registry: a finished sentence, so
        #: that the HTTP thread never reads the engine's structures.
        self.waiting: str | None = None

    def beat(self) -> None:
        self.last_beat = time.monotonic()

    def alive(self) -> tuple[bool, str]:
        age = time.monotonic() - self.last_beat
        if age > self.stall_after:
            return False, f"engine loop stalled for {age:.0f}s"
        return True, "ok"

    def ready(self) -> tuple[bool, str]:
        if self.fatal is not None:
            return False, f"stopped: {self.fatal}"
        if self.stopping:
            return False, "shutting down"
        if not self.joined:
            return False, "not yet in the consumer group"
        waiting = self.waiting  # read once: the loop may clear it meanwhile
        ok, why = self.alive()
        if ok and waiting is not None:
            return False, waiting
        return ok, why


class HealthServer:
    def __init__(self, health: Health, registry: CollectorRegistry, port: int, host: str = "0.0.0.0") -> None:
        handler = _handler(health, registry)
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="olapsink-health", daemon=True
        )

    def start(self) -> HealthServer:
        self._thread.start()
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler(health: Health, registry: CollectorRegistry) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._send(200, generate_latest(registry), CONTENT_TYPE_LATEST)
            elif path in ("/healthz", "/readyz"):
                ok, why = health.alive() if path == "/healthz" else health.ready()
                self._send(200 if ok else 503, (why + "\n").encode(), "text/plain; charset=utf-8")
            else:
                self._send(404, b"not found\n", "text/plain; charset=utf-8")

        def _send(self, code: int, body: bytes, content_type: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # probes every few seconds: stay quiet
            return

    return Handler
