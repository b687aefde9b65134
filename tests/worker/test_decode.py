import json

import pytest
from olapsink_worker.decode import Decoder
from olapsink_worker.errors import ConfigError, RecordError

DATE = "org.apache.kafka.connect.data.Date"


def envelope(payload, fields):
    return json.dumps({"schema": {"type": "struct", "fields": fields}, "payload": payload}).encode()


def test_plain_json_is_passed_through_untouched():
    d = Decoder(value_format="json")
    assert d.passthrough
    raw = b'{"id": 1,  "city":"New York"}'
    assert d.decode(raw) is raw


def test_tombstones_are_skipped_or_fail_per_null_values():
    assert Decoder().decode(None) is None
    with pytest.raises(RecordError, match="nullValues"):
        Decoder(null_values="fail").decode(None)


def test_envelope_without_logical_types_copies_payload_bytes():
    d = Decoder(value_format="json_with_schema")
    assert not d.passthrough
    value = b'{"schema":{"type":"struct","fields":[{"field":"id","type":"int32"}]},"payload":{"id": 7}}'
    assert d.decode(value) == b'{"id": 7}'


def test_envelope_with_logical_types_is_converted_and_schema_cached():
    d = Decoder(value_format="json_with_schema")
    fields = [
        {"field": "id", "type": "int32"},
        {"field": "d", "type": "int32", "name": DATE},
        {
            "field": "m",
            "type": "bytes",
            "name": "org.apache.kafka.connect.data.Decimal",
            "parameters": {"scale": "2"},
        },
    ]
    assert json.loads(d.decode(envelope({"id": 1, "d": 1, "m": "MDk="}, fields))) == {
        "id": 1,
        "d": "1970-01-02",
        "m": 123.45,
    }
    # exact decimal text, not a float rendering
    assert b'"m":123.45' in d.decode(envelope({"id": 2, "d": 1, "m": "MDk="}, fields))
    assert len(d._schemas) == 1


def test_envelope_null_payload_and_garbage():
    d = Decoder(value_format="json_with_schema")
    assert d.decode(b'{"schema":null,"payload":null}') is None
    with pytest.raises(RecordError, match="schema/payload"):
        d.decode(b"not json")
    with pytest.raises(RecordError, match="valueFormat: json"):
        d.decode(b'{"id": 1}')
    with pytest.raises(RecordError, match="does not match"):
        d.decode(envelope({"d": "x"}, [{"field": "d", "type": "int32", "name": DATE}]))


def test_unsupported_formats_are_config_errors_naming_the_field():
    with pytest.raises(ConfigError, match=r"spec\.converter\.valueFormat"):
        Decoder(value_format="avro")


def _debezium_event(op, before, after):
    row = {
        "type": "struct",
        "fields": [{"field": "id", "type": "int32"}, {"field": "d", "type": "int32", "name": DATE}],
    }
    schema = {
        "type": "struct",
        "name": "db.tbl.Envelope",
        "fields": [dict(row, field="before"), dict(row, field="after"), {"field": "op", "type": "string"}],
    }
    return json.dumps({"schema": schema, "payload": {"op": op, "before": before, "after": after}}).encode()


def test_debezium_doris_marks_deletes_with_the_before_image():
    d = Decoder(value_format="json_with_schema", mode="debezium_ingestion", flavor="doris")
    assert json.loads(d.decode(_debezium_event("c", None, {"id": 1, "d": 0}))) == {
        "id": 1,
        "d": "1970-01-01",
        "__DORIS_DELETE_SIGN__": "0",
    }
    assert json.loads(d.decode(_debezium_event("d", {"id": 1, "d": 0}, None))) == {
        "id": 1,
        "d": "1970-01-01",
        "__DORIS_DELETE_SIGN__": "1",
    }


def test_debezium_starrocks_uses_op_column_and_snapshot_reads_upsert():
    d = Decoder(value_format="json", mode="debezium_ingestion", flavor="starrocks")
    assert json.loads(d.decode(b'{"op":"r","after":{"id":3}}')) == {"id": 3, "__op": 0}
    assert json.loads(d.decode(b'{"op":"d","before":{"id":3}}')) == {"id": 3, "__op": 1}
    with pytest.raises(RecordError, match="before"):
        d.decode(b'{"op":"d","before":null}')


def test_time_millis_to_string_on_named_plain_json_fields():
    d = Decoder(
        value_format="json", flavor="starrocks", time_millis_format="HH:mm:ss", time_millis_fields=["t"]
    )
    assert not d.passthrough
    assert json.loads(d.decode(b'{"t": 3723004, "u": 5}')) == {"t": "01:02:03", "u": 5}
    d = Decoder(value_format="json", time_millis_format="HH:mm:ss.SSS", time_millis_fields=["t"])
    assert json.loads(d.decode(b'{"t": 3723004}')) == {"t": "01:02:03.004"}


def test_time_millis_to_string_on_every_time_field_of_envelopes():
    d = Decoder(value_format="json_with_schema", time_millis_format="HH:mm:ss.SSS")
    fields = [{"field": "t", "type": "int32", "name": "org.apache.kafka.connect.data.Time"}]
    assert json.loads(d.decode(envelope({"t": 3723000}, fields))) == {"t": "01:02:03.000"}
