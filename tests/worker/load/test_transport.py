"""Transport helpers: user info never survives into URLs, TLS settings reach the client, BE list caching."""

from __future__ import annotations

import ssl

import httpx
import pytest
from olapsink_worker.errors import ConfigError
from olapsink_worker.load import LoaderSettings
from olapsink_worker.load.transport import Transport, origin, strip_userinfo, tls_verification


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "http://root:s3cret:pw@be1:8040/api/db/t/_stream_load?x=1",
            "http://be1:8040/api/db/t/_stream_load?x=1",
        ),
        ("http://u@[::1]:8040/p", "http://[::1]:8040/p"),
        ("https://be1/p", "https://be1/p"),
    ],
)
def test_strip_userinfo(url: str, expected: str) -> None:
    assert strip_userinfo(url) == expected


def test_origin_is_safe_to_log() -> None:
    assert origin("http://root:pw@be1:8040/api/x") == "http://be1:8040"


def settings(**values: object) -> LoaderSettings:
    base: dict[str, object] = {
        "flavor": "doris",
        "endpoints": ("http://fe1:8030",),
        "user": "u",
        "label_prefix": "p",
    }
    base.update(values)
    return LoaderSettings(**base)  # type: ignore[arg-type]


def test_https_endpoints_get_a_tls_context_with_the_configured_host_check() -> None:
    context = tls_verification(settings(endpoints=("https://fe1:8030",), check_hostname=False))
    assert isinstance(context, ssl.SSLContext)
    assert context.check_hostname is False
    assert context.verify_mode is ssl.CERT_REQUIRED  # skipping the host check still checks the chain
    assert tls_verification(settings()) is True


def test_a_missing_ca_file_fails_loudly() -> None:
    with pytest.raises(ConfigError, match=r"caSecretRef.*nonexistent"):
        tls_verification(settings(endpoints=("https://fe1:8030",), ca_file="/nonexistent/ca.pem"))


def test_backend_list_is_cached_then_refreshed_after_its_ttl() -> None:
    calls: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        return httpx.Response(200, json={"backends": [{"ip": "be1", "http_port": 8040, "is_alive": True}]})

    client = httpx.Client(transport=httpx.MockTransport(handle))
    cached = Transport(settings(backends_ttl=60.0), "Basic x", client)
    assert [cached.next_backend("/api/backends?is_alive=true") for _ in range(3)] == ["http://be1:8040"] * 3
    assert len(calls) == 1
    uncached = Transport(settings(backends_ttl=0.0), "Basic x", client)
    for _ in range(3):
        uncached.next_backend("/api/backends?is_alive=true")
    assert len(calls) == 4


def test_error_log_over_plain_http_gets_no_password_when_tls_is_configured() -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, text="Reason: bad row\n")

    client = httpx.Client(transport=httpx.MockTransport(handle))
    tls = Transport(settings(endpoints=("https://fe1:8030",)), "Basic secret", client)
    assert tls.fetch_text("http://be1:8040/api/_load_error_log?file=e", 1000) == "Reason: bad row\n"
    plain = Transport(settings(), "Basic secret", client)
    plain.fetch_text("http://be1:8040/api/_load_error_log?file=e", 1000)
    assert "authorization" not in seen[0].headers
    assert seen[1].headers["authorization"] == "Basic secret"


def test_a_large_body_goes_in_slices_with_its_length_announced() -> None:
    # Sliced so that httpcore never re-copies the remainder of a large body after each partial send;
    # still a Content-Length body (a BE may refuse chunked transfer), byte for byte the same.
    import http.server
    import threading

    from olapsink_worker.load.transport import BODY_SLICE

    seen: dict[str, object] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            seen["length"] = self.headers.get("Content-Length")
            seen["chunked"] = self.headers.get("Transfer-Encoding")
            seen["body"] = self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        body = bytes(range(256)) * (BODY_SLICE * 3 // 256 + 7)
        transport = Transport(settings(), "Basic x")
        url = f"http://127.0.0.1:{server.server_address[1]}/api/db/t/_stream_load"
        response = transport.request("PUT", url, {"label": "l1"}, body, read=10.0)
        transport.close()
    finally:
        server.shutdown()
        server.server_close()
    assert response.status == 200
    assert seen["length"] == str(len(body)) and seen["chunked"] is None
    assert seen["body"] == body
