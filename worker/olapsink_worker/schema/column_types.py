"""Connect (and Debezium) field schema → the column type that holds what the decoder writes for it.

The mapping follows the Doris connector's schema evolution (doris.md §4.3/§5), with the changes that keep
values intact instead of copying its bugs:

- time-of-day types (``Time``, ``MicroTime``, ``NanoTime``, ``ZonedTime``) become ``VARCHAR(32)``, not
  ``DATETIME``: neither database has a TIME column type, and the ``HH:MM:SS`` text the decoder writes
  would load as NULL into a DATETIME;
- timestamp precision defaults to what the logical type carries (ms → 3, µs/ns → 6), not 0, so
  fractions are not cut off; Debezium's ``__debezium.source.column.scale``/``length`` still win;
- ``Decimal`` without a precision parameter gets 38, not 0 (``DECIMAL(0,s)`` is invalid DDL);
- strings get 4 bytes per source character, not 3 (utf8mb4 characters take up to 4);
- maps and nested structs become ``JSON``: the decoder writes them as JSON objects.

Three dialects: ``doris``, ``starrocks`` and ``mariadb``. MariaDB is what the Stream Load emulator keeps its
tables in; it has no STRING, ARRAY or precision-less DATETIME with microseconds, so it gets the nearest
types (LONGTEXT, DATETIME(p)).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

TypeDialect = Literal["doris", "starrocks", "mariadb"]

_DEBEZIUM_TIME = "io.debezium.time."
DATE_NAMES = frozenset({"org.apache.kafka.connect.data.Date", _DEBEZIUM_TIME + "Date"})
TIME_NAMES = frozenset(
    {
        "org.apache.kafka.connect.data.Time",
        _DEBEZIUM_TIME + "Time",
        _DEBEZIUM_TIME + "MicroTime",
        _DEBEZIUM_TIME + "NanoTime",
        _DEBEZIUM_TIME + "ZonedTime",
    }
)
# Logical timestamp type → the fraction digits its values carry (capped at microseconds, as both databases).
TIMESTAMP_PRECISION = {
    "org.apache.kafka.connect.data.Timestamp": 3,
    _DEBEZIUM_TIME + "Timestamp": 3,
    _DEBEZIUM_TIME + "MicroTimestamp": 6,
    _DEBEZIUM_TIME + "NanoTimestamp": 6,
    _DEBEZIUM_TIME + "ZonedTimestamp": 6,
}
DECIMAL = "org.apache.kafka.connect.data.Decimal"
VARIABLE_SCALE_DECIMAL = "io.debezium.data.VariableScaleDecimal"
GEOMETRY_PREFIX = "io.debezium.data.geometry."

_INTEGERS = {"int8": "TINYINT", "int16": "SMALLINT", "int32": "INT", "int64": "BIGINT"}
_FLOATS = {"float32": "FLOAT", "float64": "DOUBLE"}
# Longest VARCHAR in bytes (Doris, StarRocks) or characters (MariaDB, kept small to stay under its
# 65535-byte row limit); longer strings go to the unbounded text type.
_VARCHAR_MAX = {"doris": 65533, "starrocks": 1048576, "mariadb": 1024}
# StarRocks STRING is VARCHAR(65533); the longest VARCHAR holds 1 MiB.
_TEXT = {"doris": "STRING", "starrocks": "VARCHAR(1048576)", "mariadb": "LONGTEXT"}
_DECIMAL_MAX = {"doris": 38, "starrocks": 38, "mariadb": 65}
_TIME_TEXT = "VARCHAR(32)"  # HH:MM:SS.ffffff, up to 838 hours, or a zoned time with its offset


class UnmappableFieldError(ValueError):
    """A field whose schema has no column type here; the message names the field and what to do."""


def _params(field: Mapping[str, Any]) -> Mapping[str, Any]:
    params = field.get("parameters")
    return params if isinstance(params, Mapping) else {}


def _int_param(field: Mapping[str, Any], *keys: str) -> int | None:
    """The first of ``keys`` among the schema parameters that is a positive integer (they are strings)."""
    params = _params(field)
    for key in keys:
        try:
            value = int(params[key])
        except (KeyError, TypeError, ValueError):
            continue
        if value > 0:
            return value
    return None


def _datetime(field: Mapping[str, Any], default_precision: int, dialect: TypeDialect) -> str:
    if dialect == "starrocks":
        return "DATETIME"  # StarRocks DATETIME has no precision argument and keeps microseconds
    precision = _int_param(field, "__debezium.source.column.scale", "__debezium.source.column.length")
    return f"DATETIME({min(precision if precision is not None else default_precision, 6)})"


def _decimal(field: Mapping[str, Any], dialect: TypeDialect) -> str:
    params = _params(field)
    try:
        scale = int(params.get("scale", 0))
    except (TypeError, ValueError):
        scale = -1
    precision = _int_param(field, "connect.decimal.precision", "__debezium.source.column.length") or 38
    precision = max(precision, scale)
    if scale < 0 or precision > _DECIMAL_MAX[dialect]:
        return _TEXT[dialect]  # the decoder still writes an exact number; text keeps every digit
    return f"DECIMAL({precision},{scale})"


def _string(field: Mapping[str, Any], dialect: TypeDialect) -> str:
    length = _int_param(field, "__debezium.source.column.length")
    if length is None:
        return _TEXT[dialect]
    size = length if dialect == "mariadb" else length * 4
    return f"VARCHAR({size})" if size <= _VARCHAR_MAX[dialect] else _TEXT[dialect]


def column_type(field: Mapping[str, Any], dialect: TypeDialect) -> str:
    """The column type for one Connect field schema (``{"field", "type", "name", "parameters", …}``).

    Raises UnmappableFieldError for a type this table does not know.
    """
    name = field.get("name")
    kind = field.get("type")
    if name in DATE_NAMES:
        return "DATE"
    if name in TIME_NAMES:
        return _TIME_TEXT
    if isinstance(name, str) and name in TIMESTAMP_PRECISION:
        return _datetime(field, TIMESTAMP_PRECISION[name], dialect)
    if name == DECIMAL:
        return _decimal(field, dialect)
    if name == VARIABLE_SCALE_DECIMAL:
        return "DOUBLE"  # as the Doris connector: the scale differs per value, no DECIMAL fits them all
    if isinstance(name, str) and name.startswith(GEOMETRY_PREFIX):
        return _TEXT[dialect]
    if kind in _INTEGERS:
        return _INTEGERS[str(kind)]
    if kind in _FLOATS:
        return _FLOATS[str(kind)]
    if kind == "boolean":
        return "BOOLEAN"
    if kind == "string":
        return _string(field, dialect)
    if kind == "bytes":
        return _TEXT[dialect]  # the decoder writes bytes as upper-case hex text
    if kind in ("map", "struct"):
        return "JSON"
    if kind == "array":
        items = field.get("items")
        if dialect == "mariadb" or not isinstance(items, Mapping):
            return _TEXT[dialect]
        return f"ARRAY<{column_type(items, dialect)}>"
    label = field.get("field", "?")
    raise UnmappableFieldError(
        f"field {label!r} has Connect type {kind!r}"
        + (f" ({name})" if name else "")
        + " which has no column type here; add the column by hand"
    )
