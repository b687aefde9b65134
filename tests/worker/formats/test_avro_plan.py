"""The two ways an Avro record becomes a row give the same text: the compiled plan over raw values (logical
types stripped) and fastavro's objects written by values.plain (kept for ambiguous unions)."""

import datetime as dt
import decimal
import json

import fastavro
import pytest
from olapsink_worker.formats.avro import AvroRecordSchema
from olapsink_worker.formats.avro_plan import needs_objects

from tests.worker.formats.producers import raw_avro

RICH = {
    "type": "record",
    "name": "Rich",
    "fields": [
        {
            "name": "fx",
            "type": {
                "type": "fixed",
                "name": "Money",
                "size": 6,
                "logicalType": "decimal",
                "precision": 12,
                "scale": 3,
            },
        },
        {"name": "fx2", "type": "Money"},
        {"name": "lts", "type": {"type": "long", "logicalType": "local-timestamp-millis"}},
        {"name": "tsu", "type": {"type": "long", "logicalType": "timestamp-micros"}},
        {"name": "days", "type": {"type": "array", "items": {"type": "int", "logicalType": "date"}}},
        {
            "name": "times",
            "type": {"type": "map", "values": ["null", {"type": "long", "logicalType": "time-micros"}]},
        },
        {"name": "kind", "type": {"type": "enum", "name": "Kind", "symbols": ["A", "B"]}},
        {"name": "blob", "type": ["null", "bytes"]},
        {
            "name": "tree",
            "type": {
                "type": "record",
                "name": "Node",
                "fields": [
                    {"name": "born", "type": {"type": "int", "logicalType": "date"}},
                    {"name": "child", "type": ["null", "Node"]},
                ],
            },
        },
    ],
}
RECORD = {
    "fx": decimal.Decimal("-12.345"),
    "fx2": decimal.Decimal("0.001"),
    "lts": dt.datetime(2024, 5, 6, 7, 8, 9, 10_000),
    "tsu": dt.datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=dt.UTC),
    "days": [dt.date(2024, 1, 1), dt.date(1900, 3, 1)],
    "times": {"a": dt.time(1, 2, 3, 4), "b": None},
    "kind": "B",
    "blob": b"\xde\xad",
    "tree": {"born": dt.date(2000, 1, 2), "child": {"born": dt.date(2001, 1, 2), "child": None}},
}
EXPECTED = {
    "fx": "-12.345",
    "fx2": "0.001",
    "lts": "2024-05-06 07:08:09.01",
    "tsu": "1969-12-31 23:59:59.999999",
    "days": ["2024-01-01", "1900-03-01"],
    "times": {"a": "01:02:03.000004", "b": None},
    "kind": "B",
    "blob": "DEAD",
    "tree": {"born": "2000-01-02", "child": {"born": "2001-01-02", "child": None}},
}
AMBIGUOUS = {"name": "either", "type": ["null", "string", {"type": "int", "logicalType": "date"}]}


def _parsed(schema):
    p = fastavro.parse_schema(schema)
    return p, p["__named_schemas"]


def test_plain_schema_reads_raw_values_through_the_plan():
    assert not needs_objects(*_parsed(RICH))
    row = AvroRecordSchema(RICH).row(raw_avro(RICH, RECORD))
    assert json.loads(row, parse_float=str) == EXPECTED


def test_union_of_several_converted_branches_keeps_fastavro_objects_with_the_same_text():
    schema = {**RICH, "fields": [*RICH["fields"], AMBIGUOUS]}
    assert needs_objects(*_parsed(schema))
    for either, text in ((dt.date(2024, 2, 29), "2024-02-29"), ("plain text", "plain text"), (None, None)):
        row = AvroRecordSchema(schema).row(raw_avro(schema, {**RECORD, "either": either}))
        assert json.loads(row, parse_float=str) == {**EXPECTED, "either": text}


@pytest.mark.parametrize(
    ("logical", "raw", "text"),
    [
        ({"type": "int", "logicalType": "time-millis"}, 3_600_000 + 1, "01:00:00.001"),
        ({"type": "long", "logicalType": "timestamp-millis"}, -1, "1969-12-31 23:59:59.999"),
        ({"type": "int", "logicalType": "date"}, -719162, "0001-01-01"),
        (
            {"type": "string", "logicalType": "uuid"},
            "0f0e0d0c-0b0a-0908-0706-050403020100",
            "0f0e0d0c-0b0a-0908-0706-050403020100",
        ),
        ({"type": "long", "logicalType": "no-such-type"}, 5, 5),
    ],
)
def test_edge_values_match_connect_types(logical, raw, text):
    schema = {"type": "record", "name": "One", "fields": [{"name": "v", "type": logical}]}
    stripped = {"type": "record", "name": "One", "fields": [{"name": "v", "type": logical["type"]}]}
    assert json.loads(AvroRecordSchema(schema).row(raw_avro(stripped, {"v": raw}))) == {"v": text}
