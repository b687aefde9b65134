import base64
import decimal

import msgspec
import pytest
from olapsink_worker.connect_types import (
    SchemaError,
    compile_struct,
    date_from_days,
    datetime_from_micros,
    decimal_from_connect,
    decimal_text,
    time_from_micros,
    zone_named,
)


def test_dates_times_and_timestamps_render_as_database_text():
    assert date_from_days(8905) == "1994-05-20"
    assert date_from_days(-1) == "1969-12-31"
    assert time_from_micros(37_800_000_000) == "10:30:00"
    assert time_from_micros(37_800_123_000) == "10:30:00.123"
    assert datetime_from_micros(1712917800000 * 1000) == "2024-04-12 10:30:00"
    assert datetime_from_micros(1712917800000 * 1000 + 5) == "2024-04-12 10:30:00.000005"


def test_decimal_text_is_exact():
    assert decimal_text(12345, 2) == "123.45"
    assert decimal_text(-5, 3) == "-0.005"
    assert decimal_text(7, 0) == "7"
    assert decimal_text(7, -2) == "700"


def test_decimal_from_base64_two_complement_and_from_numbers():
    assert decimal_from_connect("MDk=", 2) == decimal.Decimal("123.45")
    negative = base64.b64encode((-12345).to_bytes(2, "big", signed=True)).decode()
    assert decimal_from_connect(negative, 2) == decimal.Decimal("-123.45")
    assert decimal_from_connect(0.1, 1) == decimal.Decimal("0.1")
    with pytest.raises(SchemaError):
        decimal_from_connect("not base64!", 2)
    with pytest.raises(SchemaError):
        decimal_from_connect(True, 2)


def _schema(*fields):
    return {"type": "struct", "fields": list(fields)}


def test_struct_without_logical_types_compiles_to_none():
    assert compile_struct(_schema({"field": "id", "type": "int32"}, {"field": "s", "type": "string"})) is None


def test_struct_converts_only_logical_fields_and_keeps_nulls():
    conv = compile_struct(
        _schema(
            {"field": "id", "type": "int32"},
            {"field": "d", "type": "int32", "name": "org.apache.kafka.connect.data.Date"},
            {"field": "t", "type": "int32", "name": "org.apache.kafka.connect.data.Time"},
            {"field": "ts", "type": "int64", "name": "org.apache.kafka.connect.data.Timestamp"},
            {
                "field": "amount",
                "type": "bytes",
                "name": "org.apache.kafka.connect.data.Decimal",
                "parameters": {"scale": "2"},
            },
            {"field": "missing", "type": "int32", "name": "org.apache.kafka.connect.data.Date"},
        )
    )
    assert conv is not None
    row = conv({"id": 1, "d": 8905, "t": 3_600_000, "ts": 1712917800000, "amount": "MDk=", "missing": None})
    assert row == {
        "id": 1,
        "d": "1994-05-20",
        "t": "01:00:00",
        "ts": "2024-04-12 10:30:00",
        "amount": msgspec.Raw(b"123.45"),
        "missing": None,
    }


def test_nested_structs_arrays_and_zoned_timestamps():
    conv = compile_struct(
        _schema(
            {
                "field": "inner",
                "type": "struct",
                "fields": [{"field": "d", "type": "int32", "name": "io.debezium.time.Date"}],
            },
            {"field": "days", "type": "array", "items": {"type": "int32", "name": "io.debezium.time.Date"}},
            {"field": "z", "type": "string", "name": "io.debezium.time.ZonedTimestamp"},
        ),
        zone_named("Asia/Shanghai"),
    )
    assert conv is not None
    row = conv({"inner": {"d": 0}, "days": [0, None, 1], "z": "2024-09-09T04:34:56Z"})
    assert row == {
        "inner": {"d": "1970-01-01"},
        "days": ["1970-01-01", None, "1970-01-02"],
        "z": "2024-09-09 12:34:56",
    }


def test_wrong_payload_types_are_schema_errors():
    conv = compile_struct(
        _schema({"field": "d", "type": "int32", "name": "org.apache.kafka.connect.data.Date"})
    )
    assert conv is not None
    with pytest.raises(SchemaError):
        conv({"d": "yesterday"})
    with pytest.raises(SchemaError):
        compile_struct({"type": "int32"})
