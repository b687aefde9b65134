import decimal
import io
import json
import uuid

import fastavro
import pytest
from olapsink_worker.errors import (
    ConfigError,
    RecordError,
    RegistryConfigError,
    RegistryUnavailableError,
    SchemaUnusableError,
)
from olapsink_worker.formats.avro import AvroRegistryDecoder, load_schema_files

from tests.worker.formats.avro_schemas import ORDER_V1, ORDER_V2, expected_row, order
from tests.worker.formats.producers import avro_producer, raw_avro, registry_client


def _row(raw: bytes) -> dict:
    # Decimals as text: the comparison must be exact, not float-equal.
    return json.loads(raw, parse_float=str)


def _expected(i, **extra):
    row = expected_row(i, **extra)
    if row["score"] is not None:
        row["score"] = str(row["score"])
    return row


@pytest.fixture
def topic():
    return f"orders-{uuid.uuid4().hex[:6]}"


def test_registry_framed_records_become_rows_with_logical_types_and_nulls(schema_registry, topic):
    produce = avro_producer(schema_registry, ORDER_V1, topic)
    decoder = AvroRegistryDecoder(registry_client(schema_registry))
    for i in (0, 7):
        assert _row(decoder(produce(order(i)), topic)) == _expected(i)


def test_a_new_optional_field_loads_alongside_older_records(schema_registry, topic):
    old = avro_producer(schema_registry, ORDER_V1, topic)(order(3))
    new = avro_producer(schema_registry, ORDER_V2, topic)(order(4, note="gift"))
    assert old[1:5] != new[1:5], "the new schema version must have its own id"
    decoder = AvroRegistryDecoder(registry_client(schema_registry))
    assert "note" not in _row(decoder(old, topic))
    assert _row(decoder(new, topic)) == _expected(4, note="gift")


def test_schema_fetched_once_per_id(schema_registry, topic):
    produce = avro_producer(schema_registry, ORDER_V1, topic)
    values = [produce(order(i)) for i in range(5)]
    decoder = AvroRegistryDecoder(registry_client(schema_registry))
    decoder(values[0], topic)
    before = schema_registry.store.requests
    for value in values:
        decoder(value, topic)
    assert schema_registry.store.requests == before


def test_unknown_schema_id_is_a_record_error_naming_the_id(schema_registry):
    decoder = AvroRegistryDecoder(registry_client(schema_registry))
    with pytest.raises(SchemaUnusableError, match="schema id 99999"):
        decoder(b"\x00" + (99999).to_bytes(4, "big") + b"\x02", "t")


def test_registry_down_is_not_the_records_fault_and_recovers(schema_registry, topic, monkeypatch):
    monkeypatch.setattr("olapsink_worker.formats.registry.FAIL_FAST_S", 0.0)  # ask again at once
    value = avro_producer(schema_registry, ORDER_V1, topic)(order(1))
    decoder = AvroRegistryDecoder(registry_client(schema_registry), url=schema_registry.url)
    schema_registry.available = False
    try:
        with pytest.raises(RegistryUnavailableError, match="is unavailable") as err:
            decoder(value, topic)
    finally:
        schema_registry.available = True
    assert not isinstance(err.value, RecordError)
    assert err.value.url == schema_registry.url
    assert _row(decoder(value, topic))["id"] == 1


def test_wrong_credentials_stop_the_sink_naming_the_secret_field(schema_registry, topic):
    from confluent_kafka.schema_registry import SchemaRegistryClient

    value = avro_producer(schema_registry, ORDER_V1, topic)(order(1))
    client = SchemaRegistryClient({"url": schema_registry.url, "basic.auth.user.info": "sr-user:wrong"})
    with pytest.raises(RegistryConfigError, match=r"schemaRegistry\.basicAuthSecretRef") as err:
        AvroRegistryDecoder(client)(value, topic)
    assert err.value.reason == "SchemaRegistryConfig"


def test_truncated_or_foreign_value_is_a_record_error(schema_registry, topic):
    value = avro_producer(schema_registry, ORDER_V1, topic)(order(1))
    decoder = AvroRegistryDecoder(registry_client(schema_registry))
    with pytest.raises(RecordError, match=r"does not decode as Avro record olapsink\.test\.Order"):
        decoder(value[:20], topic)
    with pytest.raises(RecordError, match="Confluent wire format"):
        decoder(b'{"id": 1}', topic)


def test_protobuf_schema_id_under_avro_format_is_a_record_error(schema_registry):
    from tests.worker.formats.messages import order_types
    from tests.worker.formats.producers import protobuf_producer

    order_type, _ = order_types(1)
    value = protobuf_producer(schema_registry, order_type, "pb-under-avro")(order_type(id=1))
    with pytest.raises(RecordError, match="PROTOBUF schema but valueFormat is avro"):
        AvroRegistryDecoder(registry_client(schema_registry))(value, "pb-under-avro")


# -- local schema files -----------------------------------------------------------------------------------


def _files(tmp_path, **schemas):
    paths = {}
    for topic, schema in schemas.items():
        path = tmp_path / f"{topic}.avsc"
        path.write_text(json.dumps(schema))
        paths[topic] = f"file://{path}"
    return paths


def test_raw_avro_with_local_schema_file_per_topic(tmp_path):
    decoder = load_schema_files(_files(tmp_path, a=ORDER_V1, b=ORDER_V2))
    assert _row(decoder(raw_avro(ORDER_V1, order(5)), "a")) == _expected(5)
    assert _row(decoder(raw_avro(ORDER_V2, order(6, note="n")), "b")) == _expected(6, note="n")


def test_raw_avro_written_with_another_schema_is_a_record_error(tmp_path):
    decoder = load_schema_files(_files(tmp_path, a=ORDER_V1))
    with pytest.raises(RecordError, match="bytes left after the Avro record"):
        decoder(raw_avro(ORDER_V2, order(6, note="a longer note")), "a")


def test_topic_without_schema_file_is_a_record_error(tmp_path):
    decoder = load_schema_files(_files(tmp_path, a=ORDER_V1, b=ORDER_V1))
    with pytest.raises(RecordError, match="no Avro schema file for topic 'c'"):
        decoder(raw_avro(ORDER_V1, order(1)), "c")


def test_single_schema_file_serves_a_caller_that_gives_no_topic(tmp_path):
    decoder = load_schema_files(_files(tmp_path, a=ORDER_V1))
    assert _row(decoder(raw_avro(ORDER_V1, order(2)), None))["id"] == 2


def test_missing_and_invalid_schema_files_are_config_errors_naming_the_topic(tmp_path):
    (tmp_path / "bad.avsc").write_text('{"type": "record", "name": "R", "fields": [{"type": "int"}]}')
    (tmp_path / "enum.avsc").write_text('{"type": "enum", "name": "E", "symbols": ["A"]}')
    with pytest.raises(ConfigError) as err:
        load_schema_files(
            {
                "gone": str(tmp_path / "nope.avsc"),
                "bad": str(tmp_path / "bad.avsc"),
                "e": str(tmp_path / "enum.avsc"),
            }
        )
    paths = [p.path for p in err.value.problems]
    assert paths == [
        "spec.converter.avroSchemaFiles.gone",
        "spec.converter.avroSchemaFiles.bad",
        "spec.converter.avroSchemaFiles.e",
    ]
    assert "must be a record" in err.value.problems[2].message


def test_schema_with_a_reference_to_another_subject(schema_registry):
    from confluent_kafka.schema_registry import Schema, SchemaReference

    money = {
        "type": "record",
        "name": "Money",
        "namespace": "olapsink.common",
        "fields": [
            {
                "name": "amount",
                "type": {"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 2},
            },
            {"name": "currency", "type": "string"},
        ],
    }
    invoice = {
        "type": "record",
        "name": "Invoice",
        "namespace": "olapsink.test",
        "fields": [{"name": "id", "type": "long"}, {"name": "total", "type": "olapsink.common.Money"}],
    }
    client = registry_client(schema_registry)
    client.register_schema("money-value", Schema(json.dumps(money), "AVRO"))
    ref = SchemaReference("olapsink.common.Money", "money-value", 1)
    schema_id = client.register_schema("invoice-value", Schema(json.dumps(invoice), "AVRO", [ref]))
    named: dict = {}
    fastavro.parse_schema(money, named_schemas=named)
    body = io.BytesIO()
    record = {"id": 8, "total": {"amount": decimal.Decimal("12.50"), "currency": "EUR"}}
    fastavro.schemaless_writer(body, fastavro.parse_schema(invoice, named_schemas=named), record)
    value = b"\x00" + schema_id.to_bytes(4, "big") + body.getvalue()
    row = json.loads(AvroRegistryDecoder(client)(value, "invoices"), parse_float=str)
    assert row == {"id": 8, "total": {"amount": "12.50", "currency": "EUR"}}
