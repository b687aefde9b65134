import json
import uuid

import pytest
from olapsink_worker.errors import RecordError
from olapsink_worker.formats.protobuf import ProtobufRegistryDecoder

from tests.worker.formats.avro_schemas import ORDER_V1, order
from tests.worker.formats.messages import invoice_type, order_types
from tests.worker.formats.producers import avro_producer, protobuf_producer, registry_client


def _order(order_type, line_type, i, **extra):
    msg = order_type(id=i, city=f"c{i}", status=1, raw=b"\x00\xab", tags=["a", "b"], **extra)
    msg.created.seconds, msg.created.nanos = 1_709_296_215 + i, 250_000_000
    msg.day.year, msg.day.month, msg.day.day = 2024, 2, 29
    msg.at.hours, msg.at.minutes, msg.at.seconds, msg.at.nanos = 8, 5, 9, 500_000_000
    msg.amount.value, msg.amount.scale = (-123456).to_bytes(3, "big", signed=True), 2
    msg.discount = 0.5
    msg.coupon.value = "SPRING"
    msg.lines.append(line_type(sku="s1", qty=2))
    msg.attrs["weight"] = 7
    msg.extra.update({"gift": True, "codes": [1, "x", None]})
    return msg


EXPECTED = {
    "id": 1,
    "city": "c1",
    "created": "2024-03-01 12:30:16.25",
    "day": "2024-02-29",
    "at": "08:05:09.5",
    "amount": "-1234.56",
    "status": "PAID",
    "raw": "00AB",
    "discount": "0.5",
    "coupon": "SPRING",
    "tags": ["a", "b"],
    "lines": [{"sku": "s1", "qty": 2}],
    "attrs": {"weight": 7},
    "extra": {"gift": True, "codes": ["1.0", "x", None]},
}


@pytest.fixture
def topic():
    return f"pb-{uuid.uuid4().hex[:6]}"


def _row(raw):
    return json.loads(raw, parse_float=str)


def test_message_becomes_a_row_with_well_known_types_converted(schema_registry, topic):
    order_type, line_type = order_types(1)
    value = protobuf_producer(schema_registry, order_type, topic)(_order(order_type, line_type, 1))
    assert _row(ProtobufRegistryDecoder(registry_client(schema_registry))(value, topic)) == EXPECTED


def test_unset_fields_with_presence_are_null_plain_scalars_are_zero(schema_registry, topic):
    order_type, _ = order_types(1)
    value = protobuf_producer(schema_registry, order_type, topic)(order_type(id=2))
    row = _row(ProtobufRegistryDecoder(registry_client(schema_registry))(value, topic))
    assert row == {
        "id": 2,
        "city": "",
        "created": None,
        "day": None,
        "at": None,
        "amount": None,
        "status": "NEW",
        "raw": "",
        "discount": None,
        "coupon": None,
        "tags": [],
        "lines": [],
        "attrs": {},
        "extra": None,
    }


def test_a_new_optional_field_loads_alongside_older_messages(schema_registry, topic):
    v1, line1 = order_types(1)
    v2, line2 = order_types(2)
    old = protobuf_producer(schema_registry, v1, topic)(_order(v1, line1, 1))
    new = protobuf_producer(schema_registry, v2, topic)(_order(v2, line2, 1, note="gift"))
    unset = protobuf_producer(schema_registry, v2, topic)(_order(v2, line2, 1))
    decoder = ProtobufRegistryDecoder(registry_client(schema_registry))
    assert _row(decoder(old, topic)) == EXPECTED
    assert _row(decoder(new, topic)) == {**EXPECTED, "note": "gift"}
    assert _row(decoder(unset, topic)) == {**EXPECTED, "note": None}


def test_corrupt_message_is_a_record_error(schema_registry, topic):
    order_type, line_type = order_types(1)
    value = protobuf_producer(schema_registry, order_type, topic)(_order(order_type, line_type, 1))
    with pytest.raises(RecordError, match=r"does not decode as Protobuf olapsink\.test\.Order"):
        ProtobufRegistryDecoder(registry_client(schema_registry))(value[:-3], topic)


def test_message_index_outside_the_schema_is_a_record_error(schema_registry, topic):
    order_type, _ = order_types(1)
    value = protobuf_producer(schema_registry, order_type, topic)(order_type(id=1))
    # Header after the schema id: count 1, index 1 (Order). Point it at a fifth top-level message.
    assert value[5:7] == b"\x02\x02"
    bad = value[:5] + b"\x02\x0a" + value[7:]
    with pytest.raises(RecordError, match=r"message-index path \[5\]"):
        ProtobufRegistryDecoder(registry_client(schema_registry))(bad, topic)


def test_avro_schema_id_under_protobuf_format_is_a_record_error(schema_registry, topic):
    value = avro_producer(schema_registry, ORDER_V1, topic + "-avro")(order(1))
    with pytest.raises(RecordError, match="AVRO schema, but valueFormat is protobuf"):
        ProtobufRegistryDecoder(registry_client(schema_registry))(value, topic)


def test_schema_with_a_reference_to_another_registered_file(schema_registry, topic):
    invoice = invoice_type()
    msg = invoice(id=4)
    msg.total.currency, msg.total.cents = "EUR", 1250
    value = protobuf_producer(schema_registry, invoice, topic)(msg)
    schema_id = int.from_bytes(value[1:5], "big")
    assert schema_registry.store.schemas[schema_id - 1]["references"], "the producer registered a reference"
    row = _row(ProtobufRegistryDecoder(registry_client(schema_registry))(value, topic))
    assert row == {"id": 4, "total": {"currency": "EUR", "cents": 1250}}
