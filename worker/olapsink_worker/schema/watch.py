"""The engine's hook: before a record's row is buffered, the table has a column for each of its fields.

``SchemaWatch.observe(table, value)`` finds the record's schema and asks the evolver once per distinct
(table, schema); every later record with the same schema costs a key lookup. Where the schema comes from:

- ``valueFormat: json_with_schema``: the JsonConverter envelope's ``schema`` (key: its text);
- ``valueFormat: avro`` with a schema registry: the writer schema named by the value's id (key: the id),
  fetched once per id and mapped by ``avro_fields``;
- ``valueFormat: protobuf`` with a schema registry: the message type named by the value's id and
  message-index path (key: both), mapped by ``protobuf_fields``.

A value whose schema cannot be found is left alone: the decoder decides what to do with it.

The registry is asked through a ``formats.registry.SchemaCache``, so its failures are classified as the
decoders' are (the decoder may have read the schema just before the registry went down): unavailable raises
``RegistryUnavailableError`` (the engine holds the partition back at the record and reads it again,
docs/formats.md "Registry outages"), refused credentials or TLS raise ``RegistryConfigError`` (the sink
stops), a schema that cannot be used raises ``SchemaUnusableError`` (a RecordError: the errors policy).
Its client does not retry by itself either: the engine's backoff waits without holding up the loop.

When a sink gets a watch (``watch_for_sink``), for those formats:

- ``schemaEvolution: basic``: always;
- ``none`` in ``debezium_ingestion`` mode: the columns are checked, as the Doris connector checks them,
  so that a new source column stops the sink by name instead of being dropped by the load. StarRocks
  sinks without ``starrocks.queryPort`` skip the check (StarRocks ignores unknown JSON keys, as before).
"""

from __future__ import annotations

import json
from collections.abc import Hashable
from typing import Any, Protocol

import msgspec

from olapsink_worker.errors import SchemaUnusableError
from olapsink_worker.formats.registry import SchemaCache
from olapsink_worker.formats.wire import avro_schema_key, protobuf_schema_key
from olapsink_worker.schema.avro_fields import avro_fields
from olapsink_worker.schema.diff import Field, row_fields
from olapsink_worker.schema.evolver import SchemaEvolver
from olapsink_worker.tables import TableRef

_NULL = msgspec.Raw(b"null")
_SEEN_LIMIT = 4096


class SchemaSource(Protocol):
    def key(self, value: bytes) -> Hashable | None:
        """What identifies the value's schema (cheap), or None when it has none."""

    def fields(self, key: Any) -> list[Field] | None:
        """The row fields of the schema ``key`` names (called once per key and table)."""


class _SchemaOnly(msgspec.Struct):
    schema: msgspec.Raw = _NULL


class JsonEnvelopeSchemas:
    """JsonConverter ``{"schema", "payload"}`` values; a Debezium envelope gives its ``after`` fields."""

    def __init__(self) -> None:
        self._split = msgspec.json.Decoder(_SchemaOnly)
        self._parse = msgspec.json.Decoder()

    def key(self, value: bytes) -> bytes | None:
        try:
            schema = bytes(self._split.decode(value).schema)
        except msgspec.DecodeError:
            return None  # not an envelope: the decoder reports it
        return None if schema == b"null" else schema

    def fields(self, key: Any) -> list[Field] | None:
        parsed = self._parse.decode(key)
        return row_fields(parsed) if isinstance(parsed, dict) else None


class AvroRegistrySchemas:
    """Confluent-framed Avro values; writer schemas from the registry (``client.get_schema(id)``) at ``url``
    (named in errors)."""

    def __init__(self, client: Any, *, debezium: bool = False, url: str = "") -> None:
        self._client = client
        self._debezium = debezium
        # Per id: the parsed record schema and the named types it references (None: not an Avro record).
        self._schemas: SchemaCache[tuple[dict[str, Any], dict[str, Any]] | None] = SchemaCache(
            self._fetch, "Avro", url
        )

    def key(self, value: bytes) -> int | None:
        return avro_schema_key(value)  # None when not framed: the decoder reports it

    def fields(self, key: Any) -> list[Field] | None:
        """Raises RegistryUnavailableError, RegistryConfigError or SchemaUnusableError (see the module
        docstring) when the schema cannot be fetched or parsed."""
        fetched = self._schemas[key]
        if fetched is None:
            return None
        parsed, named = fetched
        return avro_fields(parsed, named, debezium=self._debezium)

    def _fetch(self, schema_id: int) -> tuple[dict[str, Any], dict[str, Any]] | None:
        schema = self._client.get_schema(schema_id)
        if (schema.schema_type or "AVRO") != "AVRO":
            return None
        named: dict[str, Any] = {}
        for ref in schema.references or []:
            self._add_reference(ref, named, set())
        parsed = json.loads(schema.schema_str)
        if not isinstance(parsed, dict) or parsed.get("type") != "record":
            return None
        return parsed, named

    def _add_reference(self, ref: Any, named: dict[str, Any], seen: set[tuple[str, int]]) -> None:
        if (ref.subject, ref.version) in seen:
            return
        seen.add((ref.subject, ref.version))
        registered = self._client.get_version(ref.subject, ref.version)
        for inner in registered.schema.references or []:
            self._add_reference(inner, named, seen)
        parsed = json.loads(registered.schema.schema_str)
        if isinstance(parsed, dict) and parsed.get("name"):
            namespace = parsed.get("namespace")
            name = str(parsed["name"])
            full = name if "." in name or not namespace else f"{namespace}.{name}"
            named[full] = parsed


class ProtobufRegistrySchemas:
    """Confluent-framed Protobuf values; the message type named by the value's id and message-index path,
    from the registry at ``url`` (named in errors)."""

    def __init__(self, client: Any, url: str = "") -> None:
        self._client = client
        # Per id: the descriptor pool holding the schema's file, and the file (None: not Protobuf).
        self._schemas: SchemaCache[tuple[Any, Any] | None] = SchemaCache(self._fetch, "Protobuf", url)

    def key(self, value: bytes) -> tuple[int, tuple[int, ...]] | None:
        return protobuf_schema_key(value)  # None when not framed: the decoder reports it

    def fields(self, key: Any) -> list[Field] | None:
        """Raises RegistryUnavailableError, RegistryConfigError or SchemaUnusableError (see the module
        docstring) when the schema cannot be fetched or compiled, or has no message at the value's path."""
        from olapsink_worker.schema.protobuf_fields import message_fields

        schema_id, indexes = key
        fetched = self._schemas[schema_id]
        if fetched is None:
            return None
        pool, proto = fetched
        try:
            prefix = f"{proto.package}." if proto.package else ""
            message = pool.FindMessageTypeByName(prefix + proto.message_type[indexes[0]].name)
            for index in indexes[1:]:
                message = message.nested_types[index]
        except (IndexError, KeyError) as exc:
            raise SchemaUnusableError(
                f"Protobuf schema id {schema_id} has no message at the value's message-index path "
                f"{list(indexes)}: {type(exc).__name__}: {exc}"
            ) from exc
        return message_fields(message)

    def _fetch(self, schema_id: int) -> tuple[Any, Any] | None:
        # The same pool building as formats.protobuf, which decodes the values (its helpers, reused).
        from olapsink_worker.formats.protobuf import _file_proto, _fresh_pool

        schema = self._client.get_schema(schema_id, fmt="serialized")
        if schema.schema_type != "PROTOBUF":
            return None
        pool = _fresh_pool()
        added: set[str] = set()
        for ref in schema.references or []:
            self._add_reference(pool, ref, added, _file_proto)
        proto = _file_proto(f"olapsink/evolution_{schema_id}.proto", schema.schema_str)
        pool.Add(proto)
        return pool, proto

    def _add_reference(self, pool: Any, ref: Any, added: set[str], file_proto: Any) -> None:
        if ref.name in added:
            return
        added.add(ref.name)
        registered = self._client.get_version(ref.subject, ref.version, fmt="serialized")
        for inner in registered.schema.references or []:
            self._add_reference(pool, inner, added, file_proto)
        pool.Add(file_proto(ref.name, registered.schema.schema_str))


class SchemaWatch:
    """Calls ``evolver.ensure`` for each new (table, record schema). Used from the consumer thread."""

    def __init__(self, evolver: SchemaEvolver, source: SchemaSource | None = None) -> None:
        self.evolver = evolver
        self.source: SchemaSource = source or JsonEnvelopeSchemas()
        self._seen: set[tuple[TableRef, Hashable]] = set()

    def observe(self, table: TableRef, value: bytes | None) -> None:
        """Raises FatalSinkError (from the evolver) when the table lacks a column and it is not added, and
        the registry's classified errors (see the module docstring) when the schema cannot be read."""
        if value is None:
            return
        key = self.source.key(value)
        if key is not None:
            self.observe_schema(table, key)

    def observe_schema(self, table: TableRef, key: Hashable | None) -> None:
        """``observe`` for a caller that already has the schema key (``Decoder.schema_key``: the JSON
        envelope's schema text, the Avro schema id, …; None for a value without one): saves parsing the
        value twice."""
        if key is None or (table, key) in self._seen:
            return
        fields = self.source.fields(key)
        if fields is not None:
            self.evolver.ensure(table, fields)
        if len(self._seen) >= _SEEN_LIMIT:
            self._seen.clear()
        self._seen.add((table, key))

    def close(self) -> None:
        self.evolver.close()


def watch_for_sink(sink: Any, password: str) -> SchemaWatch | None:
    """The watch this sink needs (see the module docstring), or None."""
    spec = sink.spec
    value_format = str(spec.converter.value_format)
    registry = spec.converter.schema_registry
    debezium = str(spec.converter.mode) == "debezium_ingestion"
    if value_format == "json_with_schema":
        source: SchemaSource = JsonEnvelopeSchemas()
    elif value_format in ("avro", "protobuf") and registry.url:
        from olapsink_worker.formats.registry import registry_client

        # No retries in the client: they would sleep in the engine loop (see the module docstring).
        client = registry_client(registry, retries=0)
        source = (
            AvroRegistrySchemas(client, debezium=debezium, url=registry.url)
            if value_format == "avro"
            else ProtobufRegistrySchemas(client, url=registry.url)
        )
    else:
        return None
    basic = str(spec.schema_evolution) == "basic"
    if not basic and not debezium:
        return None
    if sink.flavor == "starrocks" and spec.starrocks.query_port is None:
        return None  # the spec requires the port for basic, so this is none without a port
    return SchemaWatch(SchemaEvolver.for_sink(sink, password), source)
