"""Avro record schema → the Connect-style field schemas ``column_type`` maps. Pure.

The mapping follows what the Avro row decoder (``formats.values.plain``) writes for each type, so that the
column fits the value: Avro logical types become the Connect/Debezium names whose text they share
(``date`` → Connect Date, ``timestamp-micros`` → MicroTimestamp, ``decimal`` → Connect Decimal with its
precision). ``connect.name`` annotations are used only in ``debezium_ingestion`` mode, where the decoder
converts Debezium's types by them; otherwise a ``MicroTimestamp`` carried as a plain ``long`` is a BIGINT
here, as its value is a number.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from olapsink_worker.schema.diff import Field

_CONNECT = "org.apache.kafka.connect.data."
_DBZ = "io.debezium.time."
_PRIMITIVES = {
    "boolean": "boolean",
    "int": "int32",
    "long": "int64",
    "float": "float32",
    "double": "float64",
    "bytes": "bytes",
    "string": "string",
}
_CONNECT_KINDS = {**_PRIMITIVES, "record": "struct", "enum": "string", "fixed": "bytes"}
_LOGICAL = {
    "date": _CONNECT + "Date",
    "time-millis": _CONNECT + "Time",
    "time-micros": _DBZ + "MicroTime",
    "timestamp-millis": _CONNECT + "Timestamp",
    "local-timestamp-millis": _CONNECT + "Timestamp",
    "timestamp-micros": _DBZ + "MicroTimestamp",
    "local-timestamp-micros": _DBZ + "MicroTimestamp",
    "timestamp-nanos": _DBZ + "NanoTimestamp",
    "local-timestamp-nanos": _DBZ + "NanoTimestamp",
}


def avro_fields(
    record: Mapping[str, Any], named: Mapping[str, Any] | None = None, *, debezium: bool = False
) -> list[Field]:
    """The fields of an Avro record schema (parsed or plain JSON), each as a Connect-style field schema.

    ``named`` resolves references to named types defined elsewhere (fastavro's ``__named_schemas``).
    ``debezium``: a change-event envelope gives its ``after`` record's fields, and Debezium types named by
    ``connect.name`` keep that name (the decoder converts them in that mode).
    """
    names = dict(named or {})
    names.update(record.get("__named_schemas") or {})
    _collect_named(record, names, record.get("namespace"))
    if debezium:
        record = _after_record(record, names) or record
    out: list[Field] = []
    for field in record.get("fields") or []:
        schema = _connect(field["type"], names, set(), debezium)
        schema["field"] = field["name"]
        if field.get("doc"):
            schema["doc"] = field["doc"]
        out.append(schema)
    return out


def _collect_named(avro: Any, names: dict[str, Any], namespace: Any) -> None:
    """Register the named types defined inline (records, enums, fixed), so later references resolve."""
    if isinstance(avro, list):
        for branch in avro:
            _collect_named(branch, names, namespace)
        return
    if not isinstance(avro, Mapping):
        return
    kind = avro.get("type")
    if kind in ("record", "error", "enum", "fixed") and avro.get("name"):
        name = str(avro["name"])
        namespace = avro.get("namespace", namespace)
        names.setdefault(name, avro)
        if namespace and "." not in name:
            names.setdefault(f"{namespace}.{name}", avro)
    for field in avro.get("fields") or []:
        if isinstance(field, Mapping):
            _collect_named(field.get("type"), names, namespace)
    for key in ("items", "values"):
        if key in avro:
            _collect_named(avro[key], names, namespace)
    if isinstance(kind, Mapping | list):
        _collect_named(kind, names, namespace)


def _after_record(envelope: Mapping[str, Any], names: dict[str, Any]) -> Mapping[str, Any] | None:
    for field in envelope.get("fields") or []:
        if isinstance(field, Mapping) and field.get("name") == "after":
            kind = field.get("type")
            for branch in kind if isinstance(kind, list) else [kind]:
                branch = names.get(branch, branch) if isinstance(branch, str) else branch
                if isinstance(branch, Mapping) and branch.get("type") in ("record", "error"):
                    return branch
    return None


def _connect(avro: Any, names: dict[str, Any], seen: set[str], debezium: bool = False) -> dict[str, Any]:
    if isinstance(avro, list):
        branches = [b for b in avro if b != "null"]
        if len(branches) == 1:
            return {**_connect(branches[0], names, seen, debezium), "optional": True}
        # A union of several types: the value is whichever branch was written; text holds them all.
        return {"type": "string", "optional": True}
    if isinstance(avro, str):
        if avro in _PRIMITIVES:
            return {"type": _PRIMITIVES[avro]}
        if avro in seen or avro not in names:
            return {"type": "struct"}  # a recursive or unknown reference: a nested object
        return _connect(names[avro], names, seen | {avro}, debezium)
    if not isinstance(avro, Mapping):
        return {"type": "string"}
    kind = avro.get("type")
    connect_name = avro.get("connect.name")
    if debezium and isinstance(connect_name, str) and connect_name.startswith("io.debezium."):
        schema: dict[str, Any] = {"type": _CONNECT_KINDS.get(str(kind), "struct"), "name": connect_name}
        if isinstance(avro.get("connect.parameters"), Mapping):
            schema["parameters"] = dict(avro["connect.parameters"])
        return schema
    logical = avro.get("logicalType")
    if logical == "decimal":
        params = {"scale": str(avro.get("scale", 0))}
        if avro.get("precision"):
            params["connect.decimal.precision"] = str(avro["precision"])
        return {"type": "bytes", "name": _CONNECT + "Decimal", "parameters": params}
    if logical in _LOGICAL:
        return {"type": _PRIMITIVES.get(str(kind), "int64"), "name": _LOGICAL[str(logical)]}
    if kind == "enum":
        return {"type": "string"}
    if kind == "fixed":
        return {"type": "bytes"}
    if kind in ("record", "error"):
        return {"type": "struct"}
    if kind == "array":
        return {"type": "array", "items": _connect(avro.get("items"), names, seen)}
    if kind == "map":
        return {"type": "map", "values": _connect(avro.get("values"), names, seen)}
    return _connect(kind, names, seen)  # {"type": "long"} and the like, logical type unknown
