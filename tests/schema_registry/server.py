"""A small Schema Registry speaking the part of Confluent's REST API that serializers and our decoders use.

No Confluent Schema Registry runs here: io.confluent artifacts are not on Maven Central, and
`pip install karapace` finds no distribution. So the tests use this: schemas are stored as registered
(confluent-kafka's Protobuf serializer registers base64 ``FileDescriptorProto`` text, which is also what
``format=serialized`` returns), ids are global and the same schema text gets the same id, as in the real
registry.

Endpoints: ``POST /subjects/{s}/versions``, ``POST /subjects/{s}`` (lookup), ``GET /schemas/ids/{id}``,
``GET /subjects/{s}/versions/{v|latest}``, ``GET /subjects``. Optional HTTP basic auth.

Outages for tests: ``available = False`` answers 503, ``failure = (status, error_code)`` answers that,
``stall`` seconds delay every answer (a registry that hangs past the client's timeout).
"""

from __future__ import annotations

import base64
import json
import re
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_JSON = "application/vnd.schemaregistry.v1+json"


@dataclass
class _Store:
    schemas: list[dict[str, Any]] = field(default_factory=list)  # index = id - 1
    subjects: dict[str, list[int]] = field(default_factory=dict)  # subject → ids by version
    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: int = 0

    def register(self, subject: str, body: dict[str, Any]) -> int:
        entry = {
            "schema": body["schema"],
            "schemaType": body.get("schemaType", "AVRO"),
            "references": body.get("references") or [],
        }
        with self.lock:
            try:
                schema_id = self.schemas.index(entry) + 1
            except ValueError:
                self.schemas.append(entry)
                schema_id = len(self.schemas)
            versions = self.subjects.setdefault(subject, [])
            if schema_id not in versions:
                versions.append(schema_id)
            return schema_id


class SchemaRegistryServer:
    """Runs on a thread at ``url``; ``close()`` stops it. ``user_info`` ("user:pw") turns on basic auth;
    ``tls`` (certificate file, key file) serves HTTPS."""

    def __init__(self, user_info: str | None = None, tls: tuple[str, str] | None = None) -> None:
        self.store = _Store()
        self.user_info = user_info
        self.available = True  # False: answer 503, as a registry that is down behind a proxy
        self.failure: tuple[int, int] | None = None  # (HTTP status, error code) for every request
        self.stall = 0.0
        handler = _handler(self)
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        scheme = "http"
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True)
            scheme = "https"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        self.url = f"{scheme}://127.0.0.1:{self._httpd.server_address[1]}"

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def _handler(server: SchemaRegistryServer) -> type[BaseHTTPRequestHandler]:
    store = server.store

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep pytest output quiet
            pass

        def _reply(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", _JSON)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _error(self, status: int, code: int, message: str) -> None:
            self._reply(status, {"error_code": code, "message": message})

        def _allowed(self) -> bool:
            store.requests += 1
            if server.stall:
                time.sleep(server.stall)
            if not server.available:
                self._error(503, 50301, "registry unavailable")
                return False
            if server.failure is not None:
                status, code = server.failure
                self._error(status, code, f"failure {status} set by the test")
                return False
            if server.user_info is None:
                return True
            expected = "Basic " + base64.b64encode(server.user_info.encode()).decode()
            if self.headers.get("Authorization") != expected:
                self._error(401, 40101, "Unauthorized")
                return False
            return True

        def _body(self) -> dict[str, Any]:
            length = int(self.headers.get("Content-Length") or 0)
            parsed = json.loads(self.rfile.read(length) or b"{}")
            return parsed if isinstance(parsed, dict) else {}

        def do_POST(self) -> None:
            if not self._allowed():
                return
            path = self.path.split("?", 1)[0]
            if m := re.fullmatch(r"/subjects/([^/]+)/versions", path):
                schema_id = store.register(m.group(1), self._body())
                self._reply(200, {"id": schema_id})
            elif m := re.fullmatch(r"/subjects/([^/]+)", path):
                body = self._body()
                subject = m.group(1)
                for version, schema_id in enumerate(store.subjects.get(subject, []), 1):
                    if store.schemas[schema_id - 1]["schema"] == body.get("schema"):
                        entry = store.schemas[schema_id - 1]
                        self._reply(200, {"subject": subject, "id": schema_id, "version": version, **entry})
                        return
                self._error(404, 40403, "Schema not found")
            else:
                self._error(404, 404, f"no route {path}")

        def do_GET(self) -> None:
            if not self._allowed():
                return
            path = self.path.split("?", 1)[0]
            if m := re.fullmatch(r"/schemas/ids/(\d+)", path):
                schema_id = int(m.group(1))
                if not 0 < schema_id <= len(store.schemas):
                    self._error(404, 40403, "Schema not found")
                    return
                self._reply(200, store.schemas[schema_id - 1])
            elif m := re.fullmatch(r"/subjects/([^/]+)/versions/(\w+)", path):
                subject, version = m.group(1), m.group(2)
                ids = store.subjects.get(subject)
                if not ids:
                    self._error(404, 40401, "Subject not found")
                    return
                index = len(ids) if version == "latest" else int(version)
                if not 0 < index <= len(ids):
                    self._error(404, 40402, "Version not found")
                    return
                schema_id = ids[index - 1]
                entry = store.schemas[schema_id - 1]
                self._reply(200, {"subject": subject, "id": schema_id, "version": index, **entry})
            elif path == "/subjects":
                self._reply(200, sorted(store.subjects))
            else:
                self._error(404, 404, f"no route {path}")

    return Handler
