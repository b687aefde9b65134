"""Conversion plans from Avro schemas: raw Avro values → row values, compiled once per schema.

fastavro turns logical types into Python objects (``datetime``, ``Decimal``…), which then have to be
turned into text again; that round trip is most of the decoding time. So a schema is read *without* its
logical types (``strip_logical``): dates, times and timestamps arrive as the integers on the wire and
decimals as their two's-complement bytes, and the plan built from the original schema
(``record_converter``) writes them with the ``connect_types`` helpers, the JSON path's own functions.

The one case this cannot serve is a union with more than one non-null branch where a branch needs
converting (``["int", {"type": "int", "logicalType": "date"}]``): the value alone does not say which
branch it came from. ``needs_objects`` tells the caller to keep fastavro's objects for such schemas.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
from collections.abc import Callable, Mapping
from typing import Any

from olapsink_worker.connect_types import (
    GEOMETRY_PREFIX,
    SchemaError,
    date_from_days,
    datetime_from_micros,
    debezium_scalar_converter,
    time_from_micros,
)
from olapsink_worker.wkb import WkbError, geometry_from_wkb

Convert = Callable[[Any], Any]
PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "string"})


def strip_logical(schema: Any) -> Any:
    """A copy of the schema JSON without ``logicalType`` anywhere."""
    if isinstance(schema, dict):
        return {k: strip_logical(v) for k, v in schema.items() if k != "logicalType"}
    if isinstance(schema, list):
        return [strip_logical(s) for s in schema]
    return schema


def _hex(value: bytes) -> str:
    return value.hex().upper()


def _decimal(scale: int) -> Convert:
    return lambda b: decimal.Decimal(int.from_bytes(b, "big", signed=True)).scaleb(-scale)


_LOGICAL: dict[str, Callable[[Mapping[str, Any]], Convert]] = {
    "date": lambda s: date_from_days,
    "time-millis": lambda s: lambda v: time_from_micros(v * 1000),
    "time-micros": lambda s: time_from_micros,
    "timestamp-millis": lambda s: lambda v: datetime_from_micros(v * 1000),
    "timestamp-micros": lambda s: datetime_from_micros,
    "timestamp-nanos": lambda s: lambda v: datetime_from_micros(v // 1000),
    # Local timestamps are wall-clock values already: the same text, without a zone to convert from.
    "local-timestamp-millis": lambda s: lambda v: datetime_from_micros(v * 1000),
    "local-timestamp-micros": lambda s: datetime_from_micros,
    "local-timestamp-nanos": lambda s: lambda v: datetime_from_micros(v // 1000),
    "decimal": lambda s: _decimal(int(s.get("scale") or 0)),
}


def _variable_scale_decimal(record: dict[str, Any]) -> decimal.Decimal:
    return decimal.Decimal(int.from_bytes(record["value"], "big", signed=True)).scaleb(-int(record["scale"]))


def _geometry(record: dict[str, Any]) -> str:
    try:
        geometry = geometry_from_wkb(bytes(record["wkb"]), record.get("srid"))
    except WkbError as exc:
        raise SchemaError(f"geometry wkb is not a well-known-binary geometry: {exc}") from exc
    return json.dumps(geometry, separators=(",", ":"), allow_nan=False)


class _Compiler:
    def __init__(self, names: Mapping[str, Any], debezium_zone: dt.tzinfo | None = None) -> None:
        self.names = names
        self.records: dict[str, Convert | None] = {}
        self.done: set[str] = set()
        # Debezium mode: its types, named by connect.name (AvroConverter keeps no logical type for them),
        # convert as in a JSON envelope.
        self.zone = debezium_zone

    def debezium(self, schema: Mapping[str, Any]) -> Convert | None:
        name = schema.get("connect.name")
        if self.zone is None or not isinstance(name, str):
            return None
        if name == "io.debezium.data.VariableScaleDecimal":
            return _variable_scale_decimal
        if name.startswith(GEOMETRY_PREFIX):
            return _geometry
        return debezium_scalar_converter(name, self.zone)

    def convert(self, schema: Any) -> Convert | None:
        """The converter for raw values of this (fastavro-parsed) schema; None when none is needed."""
        if isinstance(schema, str):
            if schema in PRIMITIVES:
                return None
            if schema == "bytes":
                return _hex
            return self.convert(self.names[schema])
        if isinstance(schema, list):
            branches = [b for b in schema if b != "null"]
            # Only one non-null branch here (needs_objects refused the rest); None skips the converter.
            return self.convert(branches[0]) if len(branches) == 1 else None
        special = self.debezium(schema)
        if special is not None:
            return special
        logical = schema.get("logicalType")
        if logical in _LOGICAL and not (logical == "date" and schema.get("type") != "int"):
            return _LOGICAL[logical](schema)
        kind = schema.get("type")
        if kind in ("bytes", "fixed"):
            return _hex
        if kind in ("record", "error"):
            return self.record(schema)
        if kind == "array":
            item = self.convert(schema["items"])
            return None if item is None else (lambda v: [None if x is None else item(x) for x in v])
        if kind == "map":
            val = self.convert(schema["values"])
            return (
                None if val is None else (lambda v: {k: None if x is None else val(x) for k, x in v.items()})
            )
        if kind == "enum":
            return None
        return self.convert(kind)

    def record(self, schema: Mapping[str, Any]) -> Convert | None:
        name = str(schema.get("name"))
        if name in self.records:
            # Compiled, or being compiled further up (a recursive type): look it up when called.
            return self.records[name] if name in self.done else _late(self.records, name)
        self.records[name] = None
        plan = []
        for f in schema["fields"]:
            conv = self.convert(f["type"])
            if conv is not None:
                plan.append((f["name"], conv))
        self.done.add(name)
        if not plan:
            return None

        def convert(record: dict[str, Any]) -> dict[str, Any]:
            for field, conv in plan:
                value = record[field]
                if value is not None:
                    record[field] = conv(value)
            return record

        self.records[name] = convert
        return convert


def _late(records: Mapping[str, Convert | None], name: str) -> Convert:
    def convert(value: Any) -> Any:
        conv = records[name]
        return value if conv is None else conv(value)

    return convert


def record_converter(parsed: Mapping[str, Any], debezium_zone: dt.tzinfo | None = None) -> Convert | None:
    """For a fastavro-parsed record schema: a function converting, in place, the dict read with the
    logical types stripped; None when no field needs converting. ``debezium_zone``: convert Debezium
    types (by ``connect.name``) too, zoned ones to that zone."""
    return _Compiler(parsed.get("__named_schemas") or {}, debezium_zone).record(parsed)


def needs_objects(schema: Any, names: Mapping[str, Any], seen: frozenset[str] = frozenset()) -> bool:
    """Whether some union has several non-null branches one of which needs converting."""
    if isinstance(schema, str):
        if schema in PRIMITIVES or schema in seen or schema not in names:
            return False
        return needs_objects(names[schema], names, seen | {schema})
    if isinstance(schema, list):
        branches = [b for b in schema if b != "null"]
        if len(branches) > 1 and any(converted(b, names, seen) for b in branches):
            return True
        return any(needs_objects(b, names, seen) for b in branches)
    if not isinstance(schema, dict):
        return False
    kind = schema.get("type")
    if kind in ("record", "error"):
        inner = seen | {str(schema.get("name"))}
        return any(needs_objects(f["type"], names, inner) for f in schema["fields"])
    if kind == "array":
        return needs_objects(schema["items"], names, seen)
    if kind == "map":
        return needs_objects(schema["values"], names, seen)
    return needs_objects(kind, names, seen) if isinstance(kind, str | list | dict) else False


def converted(schema: Any, names: Mapping[str, Any], seen: frozenset[str] = frozenset()) -> bool:
    """Whether values of this (parsed) schema can hold anything but JSON-ready primitives."""
    if isinstance(schema, str):
        if schema in PRIMITIVES:
            return False
        if schema == "bytes":
            return True
        return schema not in seen and schema in names and converted(names[schema], names, seen | {schema})
    if isinstance(schema, list):
        return any(converted(b, names, seen) for b in schema)
    if not isinstance(schema, dict):
        return False
    kind = schema.get("type")
    if "logicalType" in schema or kind in ("bytes", "fixed", "record", "error"):
        return True
    if kind == "array":
        return converted(schema["items"], names, seen)
    if kind == "map":
        return converted(schema["values"], names, seen)
    return kind != "enum" and converted(kind, names, seen)
