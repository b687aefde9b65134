"""The Avro schemas and records the format tests share: an order with logical types, two versions."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from typing import Any

ORDER_V1: dict[str, Any] = {
    "type": "record",
    "name": "Order",
    "namespace": "olapsink.test",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "city", "type": "string"},
        {"name": "created", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {
            "name": "updated",
            "type": ["null", {"type": "long", "logicalType": "timestamp-micros"}],
            "default": None,
        },
        {"name": "day", "type": {"type": "int", "logicalType": "date"}},
        {"name": "at", "type": {"type": "int", "logicalType": "time-millis"}},
        {"name": "at_us", "type": {"type": "long", "logicalType": "time-micros"}},
        {"name": "amount", "type": {"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 2}},
        {"name": "ref", "type": {"type": "string", "logicalType": "uuid"}},
        {"name": "paid", "type": "boolean"},
        {"name": "score", "type": ["null", "double"], "default": None},
        {"name": "raw", "type": "bytes"},
        {
            "name": "line",
            "type": [
                "null",
                {
                    "type": "record",
                    "name": "Line",
                    "fields": [
                        {"name": "sku", "type": "string"},
                        {"name": "shipped", "type": {"type": "int", "logicalType": "date"}},
                    ],
                },
            ],
            "default": None,
        },
        {"name": "tags", "type": {"type": "array", "items": "string"}},
    ],
}

ORDER_V2: dict[str, Any] = {
    **ORDER_V1,
    "fields": [*ORDER_V1["fields"], {"name": "note", "type": ["null", "string"], "default": None}],
}

REF = uuid.UUID("8d3f1c52-6a0e-4c59-9a55-0f8a1b2c3d4e")


def order(i: int, **extra: Any) -> dict[str, Any]:
    """Record ``i``; every tenth has its nullable fields null."""
    nulls = i % 10 == 0
    return {
        "id": i,
        "city": f"c{i}",
        "created": dt.datetime(2024, 3, 1, 12, 30, 15, 250_000, tzinfo=dt.UTC) + dt.timedelta(seconds=i),
        "updated": None if nulls else dt.datetime(2024, 3, 1, 12, 30, 15, 123_456, tzinfo=dt.UTC),
        "day": dt.date(2024, 2, 29),
        "at": dt.time(8, 5, 9, 500_000),
        "at_us": dt.time(23, 59, 59, 999_999),
        "amount": decimal.Decimal(i).scaleb(-2) + decimal.Decimal("1000.00"),
        "ref": REF,
        "paid": i % 2 == 0,
        "score": None if nulls else i / 4,
        "raw": b"\x00\xab",
        "line": None if nulls else {"sku": f"s{i}", "shipped": dt.date(2024, 3, 2)},
        "tags": ["a", "b"],
        **extra,
    }


def expected_row(i: int, **extra: Any) -> dict[str, Any]:
    """What the row for ``order(i)`` holds once parsed back from JSON (decimals as text for exactness)."""
    nulls = i % 10 == 0
    return {
        "id": i,
        "city": f"c{i}",
        "created": f"2024-03-01 12:{30 + (15 + i) // 60:02d}:{(15 + i) % 60:02d}.25",
        "updated": None if nulls else "2024-03-01 12:30:15.123456",
        "day": "2024-02-29",
        "at": "08:05:09.5",
        "at_us": "23:59:59.999999",
        "amount": str(decimal.Decimal(i).scaleb(-2) + decimal.Decimal("1000.00")),
        "ref": str(REF),
        "paid": i % 2 == 0,
        "score": None if nulls else i / 4,
        "raw": "00AB",
        "line": None if nulls else {"sku": f"s{i}", "shipped": "2024-03-02"},
        "tags": ["a", "b"],
        **extra,
    }
