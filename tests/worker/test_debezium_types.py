"""Debezium and Connect type vectors (doris.md §4.3): each value through ``Decoder`` in debezium mode.

One row per type of the Doris connector's type registry, with the value Doris ends up storing. Where the
Doris connector's text differs but loads the same (``2024-04-12T10:30`` vs ``2024-04-12 10:30:00``,
``"true"`` vs ``true``, ``[1, 2, 3]`` vs a JSON array), the expected value is the form this worker writes;
see docs/cdc.md for the side-by-side table. Every vector runs as an insert (``after``), a delete
(``before``) and a flattened row, for both flavors and in two time zones: only
``ZonedTime`` and ``ZonedTimestamp`` may depend on ``timeZone`` (database.time_zone); every other time type
is UTC wall-clock, which is how Debezium encodes MySQL DATETIME.

A vector marked ``xfail(strict=True)`` is a conversion the engine gets wrong today; the mark comes off with
the fix (strict: a passing xfail fails the run, so it cannot be forgotten).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from olapsink_worker.decode import Decoder

DBZ = "io.debezium.time."
CONNECT = "org.apache.kafka.connect.data."
ZONES = ("UTC", "Asia/Shanghai")


@dataclass(frozen=True)
class Vector:
    id: str
    schema: dict[str, Any]
    value: Any
    expected: Any  # the same in every zone, unless by_zone says otherwise
    by_zone: dict[str, Any] = field(default_factory=dict)
    engine_bug: str | None = None

    def expected_in(self, zone: str) -> Any:
        return self.by_zone.get(zone, self.expected)


def s(kind: str, name: str | None = None, **extra: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": kind, "optional": True, **extra}
    if name:
        schema["name"] = name
    return schema


_POINT_WKB = "AQEAAAAAAAAAAADwPwAAAAAAAPA/"  # POINT(1 1), little-endian WKB

VECTORS = [
    # io.debezium.time.*
    Vector("Date", s("int32", DBZ + "Date"), 8905, "1994-05-20"),
    Vector("Date-before-epoch", s("int32", DBZ + "Date"), -1, "1969-12-31"),
    Vector("Time-ms", s("int32", DBZ + "Time"), 37_800_000, "10:30:00"),
    Vector("Time-ms-fraction", s("int32", DBZ + "Time"), 37_800_123, "10:30:00.123"),
    Vector("MicroTime", s("int64", DBZ + "MicroTime"), 37_800_000_000, "10:30:00"),
    Vector("MicroTime-fraction", s("int64", DBZ + "MicroTime"), 37_800_123_456, "10:30:00.123456"),
    Vector("NanoTime", s("int64", DBZ + "NanoTime"), 37_800_123_456_000, "10:30:00.123456"),
    Vector(
        "ZonedTime",
        s("string", DBZ + "ZonedTime"),
        "04:34:56Z",
        "04:34:56",
        by_zone={"Asia/Shanghai": "12:34:56"},
    ),
    Vector(
        "ZonedTime-fraction",
        s("string", DBZ + "ZonedTime"),
        "04:34:56.789+00:00",
        "04:34:56.789",
        by_zone={"Asia/Shanghai": "12:34:56.789"},  # the Doris connector drops the fraction (#42)
    ),
    Vector("Timestamp", s("int64", DBZ + "Timestamp"), 1_712_917_800_000, "2024-04-12 10:30:00"),
    Vector("Timestamp-fraction", s("int64", DBZ + "Timestamp"), 1_712_917_800_123, "2024-04-12 10:30:00.123"),
    Vector(
        "MicroTimestamp", s("int64", DBZ + "MicroTimestamp"), 1_725_885_296_000_000, "2024-09-09 12:34:56"
    ),
    Vector(
        "NanoTimestamp",
        s("int64", DBZ + "NanoTimestamp"),
        1_725_885_296_123_456_000,
        "2024-09-09 12:34:56.123456",
    ),
    Vector(
        "ZonedTimestamp",
        s("string", DBZ + "ZonedTimestamp"),
        "2024-09-09T04:34:56Z",
        "2024-09-09 04:34:56",
        by_zone={"Asia/Shanghai": "2024-09-09 12:34:56"},
    ),
    Vector(
        "ZonedTimestamp-offset-fraction",
        s("string", DBZ + "ZonedTimestamp"),
        "2024-09-09T12:34:56.5+08:00",
        "2024-09-09 04:34:56.5",
        by_zone={"Asia/Shanghai": "2024-09-09 12:34:56.5"},
    ),
    # io.debezium.data.*
    Vector(
        "VariableScaleDecimal",
        s("struct", "io.debezium.data.VariableScaleDecimal", fields=[]),
        {"scale": 2, "value": "MDk="},
        Decimal("123.45"),
    ),
    Vector(
        "geometry.Point",
        s("struct", "io.debezium.data.geometry.Point", fields=[]),
        {"x": 1.0, "y": 1.0, "wkb": _POINT_WKB, "srid": 0},
        {"type": "Point", "coordinates": [1, 1], "srid": 0},
    ),
    Vector(
        "geometry.Geometry",
        s(
            "struct",
            "io.debezium.data.geometry.Geometry",
            fields=[s("bytes", field="wkb"), s("int32", field="srid")],
        ),
        {"wkb": _POINT_WKB, "srid": 4326},
        {"type": "Point", "coordinates": [1, 1], "srid": 4326},
    ),
    Vector(
        "geometry.Geography",
        s("struct", "io.debezium.data.geometry.Geography", fields=[]),
        {"wkb": _POINT_WKB, "srid": 4326},
        {"type": "Point", "coordinates": [1, 1], "srid": 4326},
    ),
    Vector("Bits", s("bytes", "io.debezium.data.Bits"), "AQ==", "01"),
    Vector("Json", s("string", "io.debezium.data.Json"), '{"a": 1}', '{"a": 1}'),
    Vector("Enum", s("string", "io.debezium.data.Enum"), "red", "red"),
    Vector(
        "Uuid",
        s("string", "io.debezium.data.Uuid"),
        "6ba7b810-9dad-11d1-80b4-00c04fd430c8",
        "6ba7b810-9dad-11d1-80b4-00c04fd430c8",
    ),
    # arrays: elements converted by their own type
    Vector("ARRAY-int", s("array", items=s("int32")), [1, 2, 3], [1, 2, 3]),
    Vector("ARRAY-string", s("array", items=s("string")), ["text1", "text2"], ["text1", "text2"]),
    Vector(
        "ARRAY-Date",
        s("array", items=s("int32", DBZ + "Date")),
        [19723, 19724],
        ["2024-01-01", "2024-01-02"],
    ),
    # org.apache.kafka.connect.data.*
    Vector("Decimal", s("bytes", CONNECT + "Decimal", parameters={"scale": "2"}), "MDk=", Decimal("123.45")),
    Vector(
        "Decimal-negative",
        s("bytes", CONNECT + "Decimal", parameters={"scale": "2"}),
        "z8c=",
        Decimal("-123.45"),
    ),
    Vector("connect.Date", s("int32", CONNECT + "Date"), 8905, "1994-05-20"),
    Vector("connect.Time", s("int32", CONNECT + "Time"), 37_800_000, "10:30:00"),
    Vector("connect.Timestamp", s("int64", CONNECT + "Timestamp"), 1_712_917_800_000, "2024-04-12 10:30:00"),
    # primitives
    Vector("BOOLEAN", s("boolean"), True, True),
    Vector("INT8", s("int8"), -5, -5),
    Vector("INT16", s("int16"), 300, 300),
    Vector("INT32", s("int32"), -2_000_000_000, -2_000_000_000),
    Vector("INT64", s("int64"), 9_007_199_254_740_993, 9_007_199_254_740_993),  # not a double
    Vector("FLOAT32", s("float32"), 1.5, Decimal("1.5")),
    Vector("FLOAT64", s("float64"), 2.25, Decimal("2.25")),
    Vector("STRING", s("string"), "héllo ✓", "héllo ✓"),
    Vector("BYTES", s("bytes"), "EjRWeJCrze8AAA==", "1234567890ABCDEF0000"),
    Vector("MAP", s("map", keys=s("string"), values=s("int32")), {"a": 1}, {"a": 1}),
]


SHAPES = ("create", "delete", "flattened")  # op c (after), op d (before), ExtractNewRecordState output
MARKERS = {"doris": ("__DORIS_DELETE_SIGN__", "0", "1"), "starrocks": ("__op", 0, 1)}


def event(vector: Vector, shape: str = "create") -> bytes:
    row_schema = {
        "type": "struct",
        "optional": True,
        "name": "srv.inv.t.Value",
        "fields": [s("int32", field="id", optional=False), {**vector.schema, "field": "v"}],
    }
    row = {"id": 1, "v": vector.value}
    if shape == "flattened":
        return json.dumps({"schema": row_schema, "payload": row}).encode()
    schema = {
        "type": "struct",
        "name": "srv.inv.t.Envelope",
        "fields": [
            {**row_schema, "field": "before"},
            {**row_schema, "field": "after"},
            s("string", field="op"),
        ],
    }
    if shape == "delete":
        payload = {"before": row, "after": None, "op": "d"}
    else:
        payload = {"before": None, "after": row, "op": "c"}
    return json.dumps({"schema": schema, "payload": payload}).encode()


def _normalised(value: Any) -> Any:
    # A geometry may come out as a JSON object or as JSON text in a string column; both load the same.
    if isinstance(value, str) and value.startswith("{") and '"type"' in value:
        return json.loads(value, parse_float=Decimal)
    return value


def _params() -> list[Any]:
    params = []
    for vector in VECTORS:
        marks = [pytest.mark.xfail(strict=True, reason=vector.engine_bug)] if vector.engine_bug else []
        for flavor in ("doris", "starrocks"):
            for zone in ZONES:
                for shape in SHAPES:
                    params.append(
                        pytest.param(
                            vector,
                            flavor,
                            zone,
                            shape,
                            id=f"{vector.id}-{flavor}-{zone}-{shape}",
                            marks=marks,
                        )
                    )
    return params


@pytest.mark.parametrize(("vector", "flavor", "zone", "shape"), _params())
def test_debezium_value_is_written_as_the_database_stores_it(
    vector: Vector, flavor: str, zone: str, shape: str
) -> None:
    decoder = Decoder(
        value_format="json_with_schema", mode="debezium_ingestion", flavor=flavor, time_zone=zone
    )
    out = decoder.decode(event(vector, shape))
    assert out is not None
    row = json.loads(out, parse_float=Decimal)
    column, upsert, delete = MARKERS[flavor]
    assert row[column] == (delete if shape == "delete" else upsert)
    assert _normalised(row["v"]) == vector.expected_in(zone)


def test_null_of_every_type_stays_null() -> None:
    for vector in VECTORS:
        nulled = Vector(vector.id, vector.schema, None, None)
        row = json.loads(
            Decoder(value_format="json_with_schema", mode="debezium_ingestion").decode(event(nulled)) or b""
        )
        assert row["v"] is None, vector.id


def test_only_zoned_types_have_zone_dependent_vectors() -> None:
    # Guards the table itself: a zone-dependent expectation on any other type would hide a zone bug.
    zoned = {v.schema.get("name") for v in VECTORS if v.by_zone}
    assert zoned == {DBZ + "ZonedTime", DBZ + "ZonedTimestamp"}
