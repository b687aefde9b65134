"""Protobuf message descriptor → the Connect-style field schemas ``column_type`` maps. Pure.

The mapping follows what the Protobuf row decoder (``formats.protobuf``) writes for each field:

- scalars as themselves; ``uint32``/``fixed32`` need a BIGINT and ``uint64``/``fixed64`` a DECIMAL(20,0),
  since neither fits the signed type of their width; enums by name (text); bytes as hex (text);
- ``google.protobuf.Timestamp`` → a µs timestamp, ``google.type.Date`` → a date, ``google.type.TimeOfDay``
  → a time of day (text); ``confluent.type.Decimal`` carries its scale per value, so it is mapped like
  Debezium's VariableScaleDecimal (DOUBLE);
- the ``google.protobuf.*Value`` wrappers → their value's type;
- maps → JSON, other messages → JSON, repeated fields → ARRAY of the element.
"""

from __future__ import annotations

from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor

from olapsink_worker.schema.diff import Field

_CONNECT = "org.apache.kafka.connect.data."
_D = FieldDescriptor
_SCALARS: dict[int, dict[str, Any]] = {
    _D.TYPE_DOUBLE: {"type": "float64"},
    _D.TYPE_FLOAT: {"type": "float32"},
    _D.TYPE_INT64: {"type": "int64"},
    _D.TYPE_SINT64: {"type": "int64"},
    _D.TYPE_SFIXED64: {"type": "int64"},
    _D.TYPE_UINT64: {
        "type": "bytes",
        "name": _CONNECT + "Decimal",
        "parameters": {"scale": "0", "connect.decimal.precision": "20"},
    },
    _D.TYPE_FIXED64: {
        "type": "bytes",
        "name": _CONNECT + "Decimal",
        "parameters": {"scale": "0", "connect.decimal.precision": "20"},
    },
    _D.TYPE_INT32: {"type": "int32"},
    _D.TYPE_SINT32: {"type": "int32"},
    _D.TYPE_SFIXED32: {"type": "int32"},
    _D.TYPE_UINT32: {"type": "int64"},
    _D.TYPE_FIXED32: {"type": "int64"},
    _D.TYPE_BOOL: {"type": "boolean"},
    _D.TYPE_STRING: {"type": "string"},
    _D.TYPE_BYTES: {"type": "bytes"},
    _D.TYPE_ENUM: {"type": "string"},
}
_WELL_KNOWN: dict[str, dict[str, Any]] = {
    "google.protobuf.Timestamp": {"type": "int64", "name": "io.debezium.time.MicroTimestamp"},
    "google.type.Date": {"type": "int32", "name": _CONNECT + "Date"},
    "google.type.TimeOfDay": {"type": "int64", "name": "io.debezium.time.MicroTime"},
    "confluent.type.Decimal": {"type": "struct", "name": "io.debezium.data.VariableScaleDecimal"},
}
_WRAPPERS = frozenset(
    f"google.protobuf.{n}Value"
    for n in ("Double", "Float", "Int64", "UInt64", "Int32", "UInt32", "Bool", "String", "Bytes")
)


def message_fields(message: Descriptor) -> list[Field]:
    """The fields of one message type, in declaration order, each as a Connect-style field schema."""
    out: list[Field] = []
    for field in message.fields:
        schema = _field_schema(field)
        schema["field"] = field.name
        schema["optional"] = field.has_presence or field.is_repeated
        out.append(schema)
    return out


def _field_schema(field: FieldDescriptor) -> dict[str, Any]:
    if field.is_repeated:
        entry = field.message_type
        if entry is not None and entry.GetOptions().map_entry:
            return {"type": "map", "values": _single(entry.fields_by_name["value"])}
        return {"type": "array", "items": _single(field)}
    return _single(field)


def _single(field: FieldDescriptor) -> dict[str, Any]:
    message = field.message_type
    if message is None:
        return dict(_SCALARS.get(field.type, {"type": "string"}))
    if message.full_name in _WELL_KNOWN:
        return dict(_WELL_KNOWN[message.full_name])
    if message.full_name in _WRAPPERS:
        return _single(message.fields_by_name["value"])
    return {"type": "struct"}
