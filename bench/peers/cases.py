"""The data sets every system loads, and the table each lands in (pure: values in, bytes and DDL out).

Three cases, one record shape (an ~200-byte page-view event with 8 fields):

- ``json``: schemaless JSON values, ~200 B. Connect reads them with JsonConverter(schemas.enable=false), the
  connectors re-encode the resulting Map; olapsink passes the bytes through.
- ``json_schema``: the same rows inside Kafka Connect's JSON schema envelope ({"schema", "payload"}), the
  form Connect sources write with schemas.enable=true (~3x the bytes on the wire).
- ``debezium``: Debezium change events (schema envelope around {"before", "after", "op", "source", ...});
  the Doris connector reads them with converter.mode=debezium_ingestion, StarRocks with the
  ExtractNewRecordState SMT.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

CASES = ("json", "json_schema", "debezium")

# Doris-style column types; the emulator maps them onto MariaDB.
COLUMNS: list[tuple[str, str]] = [
    ("id", "BIGINT NOT NULL"),
    ("user_id", "BIGINT"),
    ("event", "VARCHAR(32)"),
    ("url", "VARCHAR(200)"),
    ("ts", "VARCHAR(32)"),
    ("amount", "DOUBLE"),
    ("country", "VARCHAR(8)"),
    ("mobile", "BOOLEAN"),
]

_CONNECT_TYPES = {
    "id": "int64",
    "user_id": "int64",
    "event": "string",
    "url": "string",
    "ts": "string",
    "amount": "double",
    "country": "string",
    "mobile": "boolean",
}


@dataclass(frozen=True)
class Case:
    name: str
    keyed: bool  # debezium rows carry updates/deletes keyed by id, so they land in a UNIQUE table

    @property
    def model(self) -> str:
        return "UNIQUE" if self.keyed else "DUPLICATE"


def case(name: str) -> Case:
    if name not in CASES:
        raise ValueError(f"unknown case {name!r}: use one of {', '.join(CASES)}")
    return Case(name=name, keyed=name == "debezium")


def row(i: int) -> dict[str, Any]:
    """Row `i` of every data set (deterministic, so loaded rows can be checked against it)."""
    return {
        "id": i,
        "user_id": i * 7919 % 100000,
        "event": "page_view",
        "url": f"https://example.com/products/{i % 977}/details?ref=campaign-{i % 13}",
        "ts": "2026-11-21 06:00:00.123456",
        "amount": round(i * 0.37, 2),
        "country": "NO",
        "mobile": i % 2 == 0,
    }


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _struct_schema(name: str, optional: bool) -> dict[str, Any]:
    return {
        "type": "struct",
        "name": name,
        "optional": optional,
        "fields": [{"field": f, "type": t, "optional": f != "id"} for f, t in _CONNECT_TYPES.items()],
    }


_ROW_SCHEMA = _struct_schema("bench.event", optional=False)
_DBZ_ROW = _struct_schema("bench.public.events.Value", optional=True)
_DBZ_SOURCE = {
    "type": "struct",
    "name": "io.debezium.connector.postgresql.Source",
    "optional": False,
    "field": "source",
    "fields": [
        {"field": "version", "type": "string", "optional": False},
        {"field": "connector", "type": "string", "optional": False},
        {"field": "name", "type": "string", "optional": False},
        {"field": "ts_ms", "type": "int64", "optional": False},
        {"field": "db", "type": "string", "optional": False},
        {"field": "schema", "type": "string", "optional": False},
        {"field": "table", "type": "string", "optional": False},
    ],
}
_DBZ_SCHEMA = {
    "type": "struct",
    "name": "bench.public.events.Envelope",
    "optional": False,
    "fields": [
        {**_DBZ_ROW, "field": "before"},
        {**_DBZ_ROW, "field": "after"},
        _DBZ_SOURCE,
        {"field": "op", "type": "string", "optional": False},
        {"field": "ts_ms", "type": "int64", "optional": True},
    ],
}
_SOURCE = {
    "version": "2.7.0.Final",
    "connector": "postgresql",
    "name": "bench",
    "ts_ms": 1795240000000,
    "db": "bench",
    "schema": "public",
    "table": "events",
}


def debezium_event(op: str, before: dict[str, Any] | None, after: dict[str, Any] | None) -> bytes:
    """One Debezium change event with its Connect schema, as Debezium writes it with JsonConverter."""
    payload = {"before": before, "after": after, "source": _SOURCE, "op": op, "ts_ms": 1795240000000}
    return _dumps({"schema": _DBZ_SCHEMA, "payload": payload})


def value(name: str, i: int) -> bytes:
    """Record `i` of data set `name` (debezium: every row is a create, op "c")."""
    r = row(i)
    if name == "json":
        return _dumps(r)
    if name == "json_schema":
        return _dumps({"schema": _ROW_SCHEMA, "payload": r})
    if name == "debezium":
        return debezium_event("c", None, r)
    raise ValueError(f"unknown case {name!r}: use one of {', '.join(CASES)}")


def values(name: str, count: int, start: int = 0) -> Iterator[bytes]:
    for i in range(start, start + count):
        yield value(name, i)


def expected_row(i: int) -> tuple[Any, ...]:
    """Row `i` as MariaDB returns it from `SELECT <COLUMNS> ... ORDER BY id` (booleans as 0/1)."""
    r = row(i)
    return tuple(int(r[c]) if c == "mobile" else r[c] for c, _ in COLUMNS)
