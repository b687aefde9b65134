"""The seed docs' connector configurations, converted by the spec, give loaders that send what the
connectors sent (headers, body framing, compression, credentials)."""

from __future__ import annotations

import base64
import gzip
from typing import Any

import httpx
from olapsink_worker.load import StreamLoader
from olapsink_worker.spec import parse_manifest

ROWS = [b'{"id":1,"name":"a"}', b'{"id":2,"name":"b"}']

# /work/shared/seeds/000_*.txt "Configure doris-connector-sink.properties"
DORIS_SEED = {
    "name": "test-doris-sink",
    "connector.class": "org.apache.doris.kafka.connector.DorisSinkConnector",
    "topics": "topic_test",
    "doris.topic2table.map": "topic_test:test_kafka_tbl",
    "buffer.count.records": "10000",
    "buffer.flush.time": "120",
    "buffer.size.bytes": "5000000",
    "doris.urls": "10.10.10.1",
    "doris.http.port": "8030",
    "doris.query.port": "9030",
    "doris.user": "root",
    "doris.password": "",
    "doris.database": "test_db",
    "key.converter": "org.apache.kafka.connect.storage.StringConverter",
    "value.converter": "org.apache.kafka.connect.json.JsonConverter",
}

# /work/shared/seeds/004_*.txt "connect-StarRocks-sink.properties" (password left to the secret)
STARROCKS_SEED = {
    "name": "starrocks-kafka-connector",
    "connector.class": "com.starrocks.connector.kafka.StarRocksSinkConnector",
    "topics": "test",
    "key.converter": "org.apache.kafka.connect.json.JsonConverter",
    "value.converter": "org.apache.kafka.connect.json.JsonConverter",
    "key.converter.schemas.enable": "true",
    "value.converter.schemas.enable": "false",
    "starrocks.http.url": "192.168.0.10:8030",
    "starrocks.topic2table.map": "test:test_tbl",
    "starrocks.username": "user1",
    "starrocks.database.name": "example_db",
    "sink.properties.strip_outer_array": "true",
}


def manifest(kind: str, config: dict[str, str]) -> Any:
    return parse_manifest(
        {
            "apiVersion": "olapsink.io/v1alpha1",
            "kind": kind,
            "metadata": {"name": "seed", "namespace": "default"},
            "spec": {"kafka": {"bootstrapServers": "kafka:9092"}, "connectorConfig": config},
        }
    )


def load_once(sink: Any, password: str, topic: str) -> httpx.Request:
    """Load ROWS through a scripted FE→BE pair; return the BE's request."""
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        request.read()
        if request.url.host != "be":
            return httpx.Response(
                307, headers={"Location": f"http://u:p@be:8040{request.url.raw_path.decode()}"}
            )
        seen.append(request)
        return httpx.Response(
            200, json={"TxnId": 1, "Status": "Success", "Message": "OK", "NumberLoadedRows": 2}
        )

    loader = StreamLoader(sink, password, client=httpx.Client(transport=httpx.MockTransport(handle)))
    table = sink.spec.target_for_topic(topic)
    label = loader.label_for(table, [(topic, 0, 0, 1)])
    assert loader.load(table, loader.frame(ROWS), label, 2).loaded_rows == 2
    (request,) = seen
    return request


def test_doris_seed_config_sends_gzipped_json_lines() -> None:
    request = load_once(manifest("DorisSink", DORIS_SEED), "", "topic_test")
    assert request.url.path == "/api/test_db/test_kafka_tbl/_stream_load"
    assert request.headers["format"] == "json"
    assert request.headers["read_json_by_line"] == "true"
    assert request.headers["compress_type"] == "gz"  # the connector's default since #95
    assert gzip.decompress(request.content) == b"\n".join(ROWS)
    assert request.headers["authorization"] == "Basic " + base64.b64encode(b"root:").decode()
    assert request.headers["label"].startswith("default_seed-test_kafka_tbl-topic_test-0-0-1-")


def test_starrocks_seed_config_sends_a_json_array() -> None:
    request = load_once(manifest("StarRocksSink", STARROCKS_SEED), "123456", "test")
    assert request.url.path == "/api/example_db/test_tbl/_stream_load"
    assert request.headers["format"] == "json"
    assert request.headers["strip_outer_array"] == "true"
    assert "compression" not in request.headers
    assert request.content == b"[" + b",".join(ROWS) + b"]"
    assert request.headers["authorization"] == "Basic " + base64.b64encode(b"user1:123456").decode()
