"""The engine's hook: before a record's row is buffered, the table has a column for each of its fields.

``SchemaWatch.observe(table, value)`` looks at the record's Connect schema (JsonConverter
``{"schema", "payload"}`` values) and asks the evolver once per distinct (table, schema text); every later
record with the same schema costs one envelope split and one set lookup. A value without a schema is left
alone: the decoder decides what to do with it.

When a sink gets one (``watch_for_sink``): only for ``valueFormat: json_with_schema`` (no other format
carries the field types here), and

- ``schemaEvolution: basic``: always;
- ``none`` in ``debezium_ingestion`` mode: the columns are checked, as the Doris connector checks them,
  so that a new source column stops the sink by name instead of being dropped by the load. StarRocks
  sinks without ``starrocks.queryPort`` skip the check (StarRocks ignores unknown JSON keys, as before).
"""

from __future__ import annotations

from typing import Any

import msgspec

from olapsink_worker.schema.diff import row_fields
from olapsink_worker.schema.evolver import SchemaEvolver
from olapsink_worker.tables import TableRef

_NULL = msgspec.Raw(b"null")
_SEEN_LIMIT = 4096


class _SchemaOnly(msgspec.Struct):
    schema: msgspec.Raw = _NULL


class SchemaWatch:
    """Calls ``evolver.ensure`` for each new (table, record schema). Used from the consumer thread."""

    def __init__(self, evolver: SchemaEvolver) -> None:
        self.evolver = evolver
        self._split = msgspec.json.Decoder(_SchemaOnly)
        self._parse = msgspec.json.Decoder()
        self._seen: set[tuple[TableRef, bytes]] = set()

    def observe(self, table: TableRef, value: bytes | None) -> None:
        """Raises FatalSinkError (from the evolver) when the table lacks a column and it is not added."""
        if value is None:
            return
        try:
            schema = bytes(self._split.decode(value).schema)
        except msgspec.DecodeError:
            return  # not an envelope: the decoder reports it
        self.observe_schema(table, schema)

    def observe_schema(self, table: TableRef, schema: bytes) -> None:
        """``observe`` for a caller that already split the envelope (saves parsing the value twice)."""
        if schema == b"null":
            return
        key = (table, schema)
        if key in self._seen:
            return
        parsed = self._parse.decode(schema)
        if isinstance(parsed, dict):
            self.evolver.ensure(table, row_fields(parsed))
        if len(self._seen) >= _SEEN_LIMIT:
            self._seen.clear()
        self._seen.add(key)

    def close(self) -> None:
        self.evolver.close()


def watch_for_sink(sink: Any, password: str) -> SchemaWatch | None:
    """The watch this sink needs (see the module docstring), or None."""
    spec = sink.spec
    if str(spec.converter.value_format) != "json_with_schema":
        return None
    basic = str(spec.schema_evolution) == "basic"
    debezium = str(spec.converter.mode) == "debezium_ingestion"
    if not basic and not debezium:
        return None
    if sink.flavor == "starrocks" and spec.starrocks.query_port is None:
        return None  # the spec requires the port for basic, so this is none without a port
    return SchemaWatch(SchemaEvolver.for_sink(sink, password))
