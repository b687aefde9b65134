"""Avro/Protobuf values get the text the JSON-with-schema path writes for the same Connect data."""

import base64
import datetime as dt
import decimal
import uuid

import msgspec
import pytest
from olapsink_worker.decode import Decoder
from olapsink_worker.formats.values import plain


def test_logical_types_become_row_text():
    row = plain(
        {
            "ts": dt.datetime(2024, 1, 2, 3, 4, 5, 600_000, tzinfo=dt.UTC),
            "local": dt.datetime(2024, 1, 2, 3, 4, 5),
            "day": dt.date(1969, 12, 31),
            "t": dt.time(0, 0, 1, 1),
            "dec": decimal.Decimal("-1.50"),
            "u": uuid.UUID(int=1),
            "b": b"\x0f\xa0",
            "nested": [{"d": dt.date(2000, 1, 1)}, None],
        }
    )
    assert row == {
        "ts": "2024-01-02 03:04:05.6",
        "local": "2024-01-02 03:04:05",
        "day": "1969-12-31",
        "t": "00:00:01.000001",
        "dec": decimal.Decimal("-1.50"),
        "u": "00000000-0000-0000-0000-000000000001",
        "b": "0FA0",
        "nested": [{"d": "2000-01-01"}, None],
    }


def test_aware_stamp_in_another_zone_is_written_as_utc():
    stamp = dt.datetime(2024, 1, 2, 3, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert plain(stamp) == "2024-01-02 01:00:00"


def test_same_text_as_the_json_with_schema_path():
    when = dt.datetime(2023, 7, 9, 10, 11, 12, 345_000, tzinfo=dt.UTC)
    envelope = {
        "schema": {
            "type": "struct",
            "fields": [
                {"field": "d", "type": "int32", "name": "org.apache.kafka.connect.data.Date"},
                {"field": "t", "type": "int32", "name": "org.apache.kafka.connect.data.Time"},
                {"field": "ts", "type": "int64", "name": "org.apache.kafka.connect.data.Timestamp"},
                {
                    "field": "dec",
                    "type": "bytes",
                    "name": "org.apache.kafka.connect.data.Decimal",
                    "parameters": {"scale": "3"},
                },
                {"field": "b", "type": "bytes"},
            ],
        },
        "payload": {
            "d": (when.date() - dt.date(1970, 1, 1)).days,
            "t": ((10 * 60 + 11) * 60 + 12) * 1000 + 345,
            "ts": int(when.timestamp() * 1000),
            "dec": base64.b64encode((-123456).to_bytes(3, "big", signed=True)).decode(),
            "b": base64.b64encode(b"\x01\x02").decode(),
        },
    }
    json_row = Decoder(value_format="json_with_schema").decode(msgspec.json.encode(envelope))
    ours = {
        "d": when.date(),
        "t": when.time().replace(tzinfo=None),
        "ts": when,
        "dec": decimal.Decimal("-123.456"),
        "b": b"\x01\x02",
    }
    assert msgspec.json.Encoder(decimal_format="number").encode(plain(ours)) == json_row


def test_a_value_with_no_row_form_is_a_type_error():
    with pytest.raises(TypeError, match="set"):
        plain({1, 2})
