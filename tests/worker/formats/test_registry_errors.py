"""Whose fault a failed schema fetch is, over real HTTP against the test registry: an outage is retried
(RegistryUnavailableError), a missing or broken schema is the record's (SchemaUnusableError, a
RecordError), credentials/TLS/URL stop the sink (RegistryConfigError)."""

from __future__ import annotations

import json

import pytest
from olapsink_worker.errors import (
    RecordError,
    RegistryConfigError,
    RegistryUnavailableError,
    SchemaUnusableError,
)
from olapsink_worker.formats import value_decoder
from olapsink_worker.formats.registry import SchemaCache, client_config
from olapsink_worker.spec import ConverterSpec

from tests.schema_registry.server import SchemaRegistryServer
from tests.worker.formats.avro_schemas import ORDER_V1, order
from tests.worker.formats.producers import avro_producer


@pytest.fixture(scope="module")
def _server():
    server = SchemaRegistryServer()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def registry(_server):
    """A registry of this module's own (no auth); each test's failure switch is undone after it."""
    yield _server
    _server.available, _server.failure, _server.stall = True, None, 0.0


def _decoder(url: str, kind: str = "avro"):
    return value_decoder(ConverterSpec.model_validate({"valueFormat": kind, "schemaRegistry": {"url": url}}))


def _framed(registry) -> bytes:
    return avro_producer(registry, ORDER_V1, "t")(order(1))


@pytest.mark.parametrize("status", [503, 500, 502, 429, 408])
def test_server_errors_and_throttling_are_an_outage_not_the_records_fault(registry, status):
    value = _framed(registry)
    registry.failure = (status, status * 100 + 1)
    with pytest.raises(RegistryUnavailableError, match=f"HTTP status code {status}") as err:
        _decoder(registry.url)(value, "t")
    assert not isinstance(err.value, RecordError)
    assert err.value.url == registry.url and err.value.schema_id == 1


def test_connection_refused_is_an_outage(registry):
    value = _framed(registry)
    gone = SchemaRegistryServer()
    gone.close()
    with pytest.raises(RegistryUnavailableError, match="ConnectError"):
        _decoder(gone.url)(value, "t")


def test_a_registry_that_hangs_past_the_timeout_is_an_outage(registry, monkeypatch):
    monkeypatch.setattr("olapsink_worker.formats.registry.REQUEST_TIMEOUT_S", 0.2)
    value = _framed(registry)
    decoder = _decoder(registry.url)
    registry.stall = 1.0
    with pytest.raises(RegistryUnavailableError, match="Timeout"):
        decoder(value, "t")


def test_an_unknown_schema_id_is_the_records_fault(registry):
    with pytest.raises(SchemaUnusableError, match=r"schema id 4242.*40403"):
        _decoder(registry.url)(b"\x00" + (4242).to_bytes(4, "big") + b"\x02", "t")


def test_a_schema_that_does_not_parse_is_the_records_fault(registry):
    broken = {"type": "record", "name": "r", "fields": [{"name": "a", "type": "no.such.Type"}]}
    schema_id = registry.store.register("t-value", {"schema": json.dumps(broken)})
    with pytest.raises(SchemaUnusableError, match=f"schema id {schema_id}"):
        _decoder(registry.url)(b"\x00" + schema_id.to_bytes(4, "big") + b"\x02", "t")


@pytest.mark.parametrize("status", [401, 403])
def test_refused_credentials_stop_the_sink_naming_the_secret(registry, status):
    value = _framed(registry)
    registry.failure = (status, status * 100 + 1)
    with pytest.raises(RegistryConfigError) as err:
        _decoder(registry.url)(value, "t")
    assert err.value.reason == "SchemaRegistryConfig"
    assert "spec.converter.schemaRegistry.basicAuthSecretRef" in str(err.value)
    assert registry.url in str(err.value)


def test_a_url_that_is_not_a_registry_stops_the_sink_naming_the_url(registry):
    value = _framed(registry)
    with pytest.raises(RegistryConfigError, match=r"spec\.converter\.schemaRegistry\.url"):
        _decoder(registry.url + "/not-the-registry")(value, "t")


def test_https_to_a_plain_http_registry_stops_the_sink_naming_tls(registry):
    value = _framed(registry)
    with pytest.raises(RegistryConfigError, match=r"schemaRegistry\.tls\.caSecretRef"):
        _decoder(registry.url.replace("http://", "https://"))(value, "t")


def test_protobuf_outage_is_an_outage_too(registry):
    registry.available = False
    with pytest.raises(RegistryUnavailableError):
        _decoder(registry.url, "protobuf")(b"\x00\x00\x00\x00\x01\x00\x08\x01", "t")


def test_the_decoders_client_leaves_retries_to_the_engine():
    conv = ConverterSpec.model_validate({"valueFormat": "avro", "schemaRegistry": {"url": "http://sr"}})
    assert client_config(conv.schema_registry, {}, retries=0)["max.retries"] == 0
    assert client_config(conv.schema_registry, {})["max.retries"] == 0  # nobody sleeps in the loop


def test_after_an_outage_misses_fail_fast_then_ask_the_registry_again(registry):
    from confluent_kafka.schema_registry import SchemaRegistryClient

    _framed(registry)
    client = SchemaRegistryClient({"url": registry.url, "max.retries": 0})
    now = [100.0]
    cache: SchemaCache[str] = SchemaCache(
        lambda i: client.get_schema(i).schema_str, "Avro", registry.url, clock=lambda: now[0]
    )
    registry.available = False
    with pytest.raises(RegistryUnavailableError):
        cache[1]
    asked = registry.store.requests
    registry.available = True
    with pytest.raises(RegistryUnavailableError):
        cache[1]  # within the window: no request, the same outage
    assert registry.store.requests == asked
    now[0] += 1.0
    assert "Order" in cache[1]
    assert registry.store.requests == asked + 1


@pytest.mark.parametrize("body", [b"<html>welcome</html>", b""])
def test_a_url_that_answers_but_not_as_a_registry_is_the_configuration(registry, body):
    # A 200 that is not a registry's JSON (a web app, a proxy page, an empty body) would fail every record
    # alike: it stops the sink naming the URL, never dead-letters the records.
    import http.server
    import threading

    class NotARegistry(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    value = _framed(registry)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotARegistry)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(RegistryConfigError, match="url"):
            _decoder(f"http://127.0.0.1:{server.server_address[1]}")(value, "t")
    finally:
        server.shutdown()
        server.server_close()
