"""Debezium change events as Avro (Confluent AvroConverter's schema shape): unwrapped, types converted."""

import io
import json
import struct
from zoneinfo import ZoneInfo

import fastavro
from olapsink_worker.decode import Decoder
from olapsink_worker.formats.avro import AvroRecordSchema
from olapsink_worker.schema.avro_fields import avro_fields
from olapsink_worker.schema.column_types import column_type


def _t(kind, name, **extra):
    return {"type": kind, "connect.version": 1, "connect.name": name, **extra}


VALUE = {
    "type": "record",
    "name": "Value",
    "namespace": "mysql1.inventory.customers",
    "fields": [
        {"name": "id", "type": "int"},
        {"name": "born", "type": ["null", _t("int", "io.debezium.time.Date")], "default": None},
        {"name": "seen", "type": ["null", _t("long", "io.debezium.time.MicroTimestamp")], "default": None},
        {
            "name": "changed",
            "type": ["null", _t("string", "io.debezium.time.ZonedTimestamp")],
            "default": None,
        },
        {"name": "opens", "type": ["null", _t("string", "io.debezium.time.ZonedTime")], "default": None},
        {
            "name": "balance",
            "type": [
                "null",
                {
                    "type": "record",
                    "name": "VariableScaleDecimal",
                    "namespace": "io.debezium.data",
                    "fields": [{"name": "scale", "type": "int"}, {"name": "value", "type": "bytes"}],
                    "connect.name": "io.debezium.data.VariableScaleDecimal",
                },
            ],
            "default": None,
        },
        {
            "name": "spot",
            "type": [
                "null",
                {
                    "type": "record",
                    "name": "Point",
                    "namespace": "io.debezium.data.geometry",
                    "fields": [
                        {"name": "x", "type": "double"},
                        {"name": "y", "type": "double"},
                        {"name": "wkb", "type": ["null", "bytes"], "default": None},
                        {"name": "srid", "type": ["null", "int"], "default": None},
                    ],
                    "connect.name": "io.debezium.data.geometry.Point",
                },
            ],
            "default": None,
        },
        {
            "name": "price",
            "type": ["null", {"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 2}],
            "default": None,
        },
    ],
    "connect.name": "mysql1.inventory.customers.Value",
}
ENVELOPE = {
    "type": "record",
    "name": "Envelope",
    "namespace": "mysql1.inventory.customers",
    "fields": [
        {"name": "before", "type": ["null", VALUE], "default": None},
        {"name": "after", "type": ["null", "Value"], "default": None},
        {
            "name": "source",
            "type": {
                "type": "record",
                "name": "Source",
                "namespace": "io.debezium.connector.mysql",
                "fields": [{"name": "db", "type": "string"}, {"name": "ts_ms", "type": "long"}],
            },
        },
        {"name": "op", "type": "string"},
        {"name": "ts_ms", "type": ["null", "long"], "default": None},
        {
            "name": "transaction",
            "type": [
                "null",
                {
                    "type": "record",
                    "name": "block",
                    "namespace": "event",
                    "fields": [
                        {"name": "id", "type": "string"},
                        {"name": "total_order", "type": "long"},
                        {"name": "data_collection_order", "type": "long"},
                    ],
                },
            ],
            "default": None,
        },
    ],
    "connect.name": "mysql1.inventory.customers.Envelope",
}
ROW = {
    "id": 7,
    "born": 8905,
    "seen": 1_725_885_296_123_456,
    "changed": "2024-09-09T04:34:56Z",
    "opens": "01:00:00Z",
    "balance": {"scale": 3, "value": (123456).to_bytes(3, "big", signed=True)},
    "spot": {"x": 1.0, "y": 2.0, "wkb": struct.pack("<BIdd", 1, 1, 1.0, 2.0), "srid": 0},
    "price": (12345).to_bytes(2, "big", signed=True),
}


def _avro(op, before, after):
    buf = io.BytesIO()
    event = {
        "before": before,
        "after": after,
        "source": {"db": "inventory", "ts_ms": 1},
        "op": op,
        "ts_ms": 2,
    }
    fastavro.schemaless_writer(buf, fastavro.parse_schema(ENVELOPE), {**event, "transaction": None})
    return buf.getvalue()


def _decoder(flavor):
    zone = ZoneInfo("Asia/Shanghai")
    schema = AvroRecordSchema(ENVELOPE, debezium_zone=zone)
    return Decoder(
        value_format="avro",
        mode="debezium_ingestion",
        flavor=flavor,
        time_zone="Asia/Shanghai",
        row_decoder=lambda value, topic: schema.row(value),
    )


def test_avro_envelope_unwrapped_with_debezium_types_converted():
    row = json.loads(_decoder("doris").decode(_avro("c", None, ROW)))
    assert row == {
        "id": 7,
        "born": "1994-05-20",
        "seen": "2024-09-09 12:34:56.123456",
        "changed": "2024-09-09 12:34:56",
        "opens": "09:00:00",
        "balance": 123.456,
        "spot": '{"type":"Point","coordinates":[1.0,2.0],"srid":0}',
        "price": 123.45,
        "__DORIS_DELETE_SIGN__": "0",
    }


def test_avro_delete_uses_the_before_image():
    row = json.loads(_decoder("starrocks").decode(_avro("d", ROW, None)))
    assert row["id"] == 7 and row["__op"] == 1


def test_avro_envelope_fields_for_schema_evolution_are_the_after_fields_typed_by_connect_name():
    fields = avro_fields(fastavro.parse_schema(ENVELOPE), debezium=True)
    types = {str(f["field"]): column_type(f, "doris") for f in fields}
    assert types == {
        "id": "INT",
        "born": "DATE",
        "seen": "DATETIME(6)",
        "changed": "DATETIME(6)",
        "opens": "VARCHAR(32)",
        "balance": "DOUBLE",
        "spot": "STRING",
        "price": "DECIMAL(10,2)",
    }
    plain = {str(f["field"]) for f in avro_fields(fastavro.parse_schema(ENVELOPE))}
    assert plain == {"before", "after", "source", "op", "ts_ms", "transaction"}
