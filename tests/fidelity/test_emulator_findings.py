"""What the real connectors showed about the emulator, pinned at the protocol level (no JVM needed)."""

from __future__ import annotations

import base64
import socket
from urllib.parse import urlsplit

import pytest

from tests.emulator.handle import EmulatorHandle

pytestmark = [pytest.mark.slow, pytest.mark.integration]


def _put_headers(user: str, password: str, label: str, length: int) -> bytes:
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    return (
        f"PUT /api/db/events/_stream_load HTTP/1.1\r\nHost: fe\r\nAuthorization: Basic {auth}\r\n"
        f"Expect: 100-continue\r\nlabel: {label}\r\nformat: json\r\nContent-Length: {length}\r\n\r\n"
    ).encode()


# Found by the real Doris connector: before the fix the FE kept the connection open after a 307 to a PUT with
# Expect: 100-continue whose body was never sent, and read the client's next request as that body. Apache
# HttpClient 4 reuses the pooled connection, its next load got a 400, and the connector silently drops
# non-200 loads (947 of 2000 rows were seen here). A real FE closes the connection instead.
def test_fe_redirect_leaves_the_connection_usable_for_the_next_request(doris_fe: EmulatorHandle) -> None:
    fe = urlsplit(doris_fe.fe_url)
    assert fe.hostname is not None and fe.port is not None
    with socket.create_connection((fe.hostname, fe.port), timeout=5) as sock:
        sock.sendall(_put_headers(doris_fe.user, doris_fe.password, "first", 100_000))
        first = sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 307")
        closing = b"connection: close" in first.lower()
        # The client saw a final reply before 100 Continue, so it sends no body and may reuse the socket,
        # unless the server said it closes it.
        if closing:
            return
        sock.settimeout(3)
        sock.sendall(_put_headers(doris_fe.user, doris_fe.password, "second", 100_000))
        try:
            second = sock.recv(65536)
        except TimeoutError:
            second = b""
        assert second.startswith(b"HTTP/1.1 307"), f"second request on the socket got {second[:80]!r}"
