"""Debezium mode of the Decoder beyond the type vectors: ops, deletes per flavor, tombstones, schema keys."""

import base64
import json
from pathlib import Path

import pytest
from olapsink_worker.decode import Decoder
from olapsink_worker.errors import RecordError
from olapsink_worker.formats.wire import avro_schema_key, protobuf_schema_key
from olapsink_worker.spec import parse_manifest
from olapsink_worker.spec.convert import convert_connector_config

from tests.fixtures import debezium as dbz

SEEDS = Path(__file__).resolve().parents[1] / "fixtures" / "seeds"
PG = [dbz.integer("id", optional=False), dbz.text("email")]


def _decoder(flavor="starrocks", schemas=True, **kw):
    fmt = "json_with_schema" if schemas else "json"
    return Decoder(value_format=fmt, mode="debezium_ingestion", flavor=flavor, **kw)


def _events(schemas=True):
    source = dbz.Source(dbz.Table("postgresql", "test", "postgres", "customers", PG, schemas=schemas))
    source.snapshot([{"id": 1, "email": "a"}])
    source.update(1, email="b")
    source.delete(1)
    return source.values  # r, u, d, tombstone


@pytest.mark.parametrize("schemas", [True, False])
def test_snapshot_update_delete_and_tombstone_with_full_envelopes(schemas):
    d = _decoder(schemas=schemas)
    rows = [d.decode(v) for v in _events(schemas)]
    assert [json.loads(r) if r else r for r in rows] == [
        {"id": 1, "email": "a", "__op": 0},
        {"id": 1, "email": "b", "__op": 0},
        {"id": 1, "email": "b", "__op": 1},
        None,
    ]
    with pytest.raises(RecordError, match="nullValues"):
        _decoder(schemas=schemas, null_values="fail").decode(_events(schemas)[-1])


def test_starrocks_without_deletes_loads_the_before_image_as_an_upsert():
    d = _decoder(deletes=False)
    assert json.loads(d.decode(_events()[2])) == {"id": 1, "email": "b", "__op": 0}


def test_doris_always_writes_the_sign_the_header_decides():
    d = _decoder(flavor="doris", deletes=False)
    assert json.loads(d.decode(_events()[2]))["__DORIS_DELETE_SIGN__"] == "1"


def _sink(seed_overrides):
    config = json.loads((SEEDS / "starrocks_debezium_sr-sink.json").read_text())["config"]
    doc = convert_connector_config(config | seed_overrides, name="s", bootstrap_servers="k:9092").manifest
    return parse_manifest(doc)


@pytest.mark.parametrize(("mode", "op"), [("rewrite", 1), ("drop", 0)])
def test_compat_translation_and_decoder_agree_on_deletes(mode, op):
    """addfield+unwrap(rewrite) deletes; with drop, Connect discards the delete: the row stays here too."""
    sink = _sink({"transforms.unwrap.delete.handling.mode": mode})
    d = Decoder.for_sink(sink)
    source = dbz.Source(dbz.Table("postgresql", "test", "postgres", "customers", PG, schemas=False))
    source.snapshot([{"id": 5, "email": "x"}])
    source.delete(5)
    assert json.loads(d.decode(source.values[1])) == {"id": 5, "email": "x", "__op": op}


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"op": "t", "before": None, "after": None}, "truncate"),
        ({"op": "m", "after": None}, "unknown op 'm'"),
        ({"op": "d", "before": None, "after": None}, "REPLICA IDENTITY FULL"),
        ({"op": "c", "after": None}, "no 'after'"),
    ],
)
def test_events_without_rows_are_named_record_errors(payload, message):
    with pytest.raises(RecordError, match=message):
        _decoder(schemas=False).decode(json.dumps(payload).encode())


def test_schema_change_events_are_refused():
    value = {
        "schema": {"type": "struct", "name": "io.debezium.connector.mysql.SchemaChangeValue"},
        "payload": {},
    }
    with pytest.raises(RecordError, match="schema-change"):
        _decoder().decode(json.dumps(value).encode())


def test_schema_key_is_the_envelope_schema_text_and_one_object_per_stream():
    d = _decoder()
    values = _events()
    d.decode(values[0])
    first = d.schema_key
    assert json.loads(first)["name"] == "test.public.customers.Envelope"
    d.decode(values[1])
    assert d.schema_key is first  # same object: its hash is computed once
    d.decode(values[3])
    assert d.schema_key is None  # a tombstone has no schema
    plain = Decoder(value_format="json_with_schema")
    plain.decode(b'{"schema":{"type":"struct","fields":[]},"payload":{"a":1}}')
    assert plain.schema_key == b'{"type":"struct","fields":[]}'
    assert Decoder().schema_key is None


def test_registry_keys_match_what_the_schema_watch_uses():
    framed = b"\x00" + (42).to_bytes(4, "big")
    assert avro_schema_key(framed + b"\x02") == 42
    assert protobuf_schema_key(framed + b"\x00\x08\x01") == (42, (0,))
    assert protobuf_schema_key(framed + b"\x04\x02\x06") == (42, (1, 3))
    assert avro_schema_key(b"{}") is None and protobuf_schema_key(b"\x01abcdef") is None
    d = Decoder(value_format="avro", row_decoder=lambda v, t: b"{}", schema_key_of=avro_schema_key)
    d.decode(framed + b"\x02")
    assert d.schema_key == 42


def test_zoned_time_with_any_offset_lands_in_the_sink_zone():
    schema = {"type": "string", "optional": True, "name": "io.debezium.time.ZonedTime", "field": "t"}
    value = {"schema": {"type": "struct", "fields": [schema]}, "payload": {"t": "23:30:00.25-05:00"}}
    d = Decoder(value_format="json_with_schema", mode="debezium_ingestion", time_zone="Asia/Shanghai")
    assert json.loads(d.decode(json.dumps(value).encode()))["t"] == "12:30:00.25"
    value["payload"]["t"] = "not a time"
    with pytest.raises(RecordError, match="ZonedTime"):
        d.decode(json.dumps(value).encode())


def test_bad_geometry_is_a_record_error_naming_wkb():
    schema = {"type": "struct", "name": "io.debezium.data.geometry.Point", "field": "g", "fields": []}
    bad = base64.b64encode(b"\x01\x01").decode()
    value = {"schema": {"type": "struct", "fields": [schema]}, "payload": {"g": {"wkb": bad, "srid": 0}}}
    with pytest.raises(RecordError, match="wkb"):
        _decoder().decode(json.dumps(value).encode())


def test_flattened_row_with_columns_named_op_and_after_stays_a_row():
    fields = [
        {"type": "int32", "field": "id"},
        {"type": "string", "optional": True, "field": "op"},
        {"type": "string", "optional": True, "field": "after"},
    ]
    value = {
        "schema": {"type": "struct", "name": "srv.db.t.Value", "fields": fields},
        "payload": {"id": 1, "op": "d", "after": "x"},
    }
    row = json.loads(_decoder().decode(json.dumps(value).encode()))
    assert row == {"id": 1, "op": "d", "after": "x", "__op": 0}


@pytest.mark.parametrize("zone", ["America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu"])
def test_zoned_timestamps_around_transitions_match_astimezone(zone):
    import datetime as dt
    from zoneinfo import ZoneInfo

    from olapsink_worker.connect_types import _leaf_converter

    tz = ZoneInfo(zone)
    convert = _leaf_converter({"type": "string", "name": "io.debezium.time.ZonedTimestamp"}, tz)
    assert convert is not None
    start = dt.datetime(2024, 3, 9, tzinfo=dt.UTC)
    for minutes in range(0, 60 * 24 * 240, 7):  # through spring and autumn transitions, every 7 minutes
        stamp = start + dt.timedelta(minutes=minutes, microseconds=250)
        local = stamp.astimezone(tz)
        assert convert(stamp.isoformat()) == local.strftime("%Y-%m-%d %H:%M:%S") + ".00025", stamp


@pytest.mark.parametrize("deleted", ["true", True])
def test_flattened_rewrite_rows_marked_deleted_are_deletes(deleted):
    d = _decoder(schemas=False)
    assert json.loads(d.decode(json.dumps({"id": 1, "__deleted": deleted}).encode()))["__op"] == 1
    assert json.loads(d.decode(b'{"id": 1, "__deleted": "false"}'))["__op"] == 0
    assert (
        json.loads(_decoder(schemas=False, deletes=False).decode(b'{"id": 1, "__deleted": "true"}'))["__op"]
        == 0
    )


def test_schemaless_debezium_sink_warns_that_types_cannot_be_converted(caplog):
    sink = _sink(
        {
            "value.converter": "org.apache.kafka.connect.json.JsonConverter",
            "value.converter.schemas.enable": "false",
        }
    )
    Decoder.for_sink(sink)
    assert "json_with_schema" in caplog.text


def test_schema_key_equals_the_watch_key_for_every_value():
    """What lets the engine call observe_schema(table, decoder.schema_key) instead of observe(value)."""
    from olapsink_worker.schema.watch import JsonEnvelopeSchemas

    source = JsonEnvelopeSchemas()
    for flavor in ("doris", "starrocks"):
        d = _decoder(flavor)
        for value in _events():
            d.decode(value)
            assert d.schema_key == (None if value is None else source.key(value))
