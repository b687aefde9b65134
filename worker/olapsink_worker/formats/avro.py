"""Avro record values → JSON rows: registry-framed (Confluent AvroConverter) or raw with a local schema.

- **Registry**: each value names its writer schema by id (``wire.split_frame``); the schema is fetched once
  and parsed once per id, so a producer that adds an optional field simply starts using a new id, and rows
  written with either schema load (the older ones without the new column, which loads as NULL).
- **Local schema files** (Doris's ``DorisAvroConverter``, ``value.converter.avro.topic2schema.filepath``):
  plain Avro binary without any framing, decoded with the one ``.avsc`` configured for its topic. Unlike
  the Doris connector, which loads ``GenericRecord.toString()``, the row is JSON with converted logical
  types, the same as every other format here.

The top-level schema must be a record: its fields are the row's columns. Values are read with the logical
types stripped and converted by a plan compiled from the schema (``avro_plan``); only fields that hold a
logical type, bytes, fixed or a nested record are touched, the rest go to the encoder as read.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import fastavro
import msgspec
from fastavro.schema import SchemaParseException
from fastavro.types import Schema

from olapsink_worker.errors import ConfigError, ConfigProblem, RecordError, SchemaUnusableError
from olapsink_worker.formats.avro_plan import converted, needs_objects, record_converter, strip_logical
from olapsink_worker.formats.registry import SchemaCache
from olapsink_worker.formats.values import plain
from olapsink_worker.formats.wire import split_frame

_encode = msgspec.json.Encoder(decimal_format="number").encode
# Where relative avroSchemaFiles paths are resolved (the operator's mount of avroSchemaConfigMap).
SCHEMA_DIR_ENV = "OLAPSINK_AVRO_SCHEMA_DIR"
RowDecoder = Callable[[bytes, "str | None"], bytes]


class AvroRecordSchema:
    """A record schema ready to read values with, and the plan that turns what it reads into a row."""

    def __init__(
        self, schema: Any, named: dict[str, Any] | None = None, debezium_zone: dt.tzinfo | None = None
    ) -> None:
        references = bool(named)
        original = fastavro.parse_schema(schema, named_schemas=named)
        if not isinstance(original, dict) or original.get("type") != "record":
            kind = original.get("type") if isinstance(original, dict) else original
            raise ValueError(f"the top-level schema must be a record (one column per field), not {kind!r}")
        self.name = str(original.get("name"))
        names = dict(original.get("__named_schemas") or {})
        self.parsed: Schema
        self._convert: Callable[[dict[str, Any]], Any] | None
        if references or needs_objects(original, names):
            # fastavro's logical-type objects, written out by values.plain: slower, works for any schema.
            # (Referenced types are parsed elsewhere, with their logical types, so they take this path.)
            self.parsed = original
            fields = [f["name"] for f in original["fields"] if converted(f["type"], names)]
            self._convert = _plain_fields(fields) if fields else None
        else:
            self.parsed = fastavro.parse_schema(strip_logical(schema))
            self._convert = record_converter(original, debezium_zone)

    def row(self, payload: bytes | memoryview) -> bytes:
        """The JSON row for one Avro-encoded record; RecordError when it does not decode."""
        buf = io.BytesIO(payload)
        try:
            record = fastavro.schemaless_reader(buf, self.parsed, None)
        except Exception as exc:  # fastavro raises EOFError, ValueError, IndexError, UnicodeError…
            raise RecordError(
                f"value does not decode as Avro record {self.name}: {type(exc).__name__}: {exc}"
            ) from exc
        if buf.tell() != len(payload):
            raise RecordError(
                f"value has {len(payload) - buf.tell()} bytes left after the Avro record {self.name}; "
                "it was written with a different schema"
            )
        if not isinstance(record, dict):
            raise RecordError(f"Avro value decoded to {type(record).__name__}, expected a record")
        try:
            if self._convert is not None:
                self._convert(record)
            return _encode(record)
        except (TypeError, ValueError, OverflowError, KeyError) as exc:
            raise RecordError(f"Avro record {self.name} has a value with no row form: {exc}") from exc


def _plain_fields(fields: list[str]) -> Callable[[dict[str, Any]], Any]:
    def convert(record: dict[str, Any]) -> None:
        for name in fields:
            record[name] = plain(record[name])

    return convert


class AvroRegistryDecoder:
    """Confluent-framed Avro values, writer schemas from the registry by id."""

    def __init__(self, client: Any, debezium_zone: dt.tzinfo | None = None, url: str = "") -> None:
        self._client = client
        self._zone = debezium_zone
        self._schemas: SchemaCache[AvroRecordSchema] = SchemaCache(self._compile, "Avro", url)

    def _compile(self, schema_id: int) -> AvroRecordSchema:
        schema = self._client.get_schema(schema_id)
        if (schema.schema_type or "AVRO") != "AVRO":
            raise SchemaUnusableError(
                f"schema id {schema_id} is a {schema.schema_type} schema but valueFormat is avro"
            )
        named: dict[str, Any] = {}
        for ref in schema.references or []:
            _add_reference(self._client, ref, named, set())
        return AvroRecordSchema(json.loads(schema.schema_str), named, self._zone)

    def __call__(self, value: bytes, topic: str | None = None) -> bytes:
        schema_id, payload = split_frame(value)
        return self._schemas[schema_id].row(payload)


def _add_reference(client: Any, ref: Any, named: dict[str, Any], seen: set[tuple[str, int]]) -> None:
    """Parse a referenced schema (and its own references first) into ``named``."""
    key = (ref.subject, ref.version)
    if key in seen:
        return
    seen.add(key)
    registered = client.get_version(ref.subject, ref.version)
    for inner in registered.schema.references or []:
        _add_reference(client, inner, named, seen)
    fastavro.parse_schema(json.loads(registered.schema.schema_str), named_schemas=named)


class AvroFileDecoder:
    """Raw Avro values (no framing), one local schema file per topic. Topics without a file go to the
    fallback (a registry decoder) when there is one."""

    def __init__(self, schemas: Mapping[str, AvroRecordSchema], fallback: RowDecoder | None = None) -> None:
        self._schemas = dict(schemas)
        self._fallback = fallback
        only = list(self._schemas.values())
        # An engine that does not pass the topic can still be served when the files name a single topic.
        self._only = only[0] if len(only) == 1 and fallback is None else None

    def with_fallback(self, fallback: RowDecoder | None) -> AvroFileDecoder:
        return AvroFileDecoder(self._schemas, fallback)

    def __call__(self, value: bytes, topic: str | None = None) -> bytes:
        schema = self._schemas.get(topic) if topic is not None else self._only
        if schema is not None:
            return schema.row(value)
        if self._fallback is not None and topic is not None:
            return self._fallback(value, topic)
        if topic is None:
            raise RecordError("several Avro schema sources are configured and the record's topic is unknown")
        raise RecordError(
            f"no Avro schema file for topic {topic!r}; add it to spec.converter.avroSchemaFiles"
        )


def load_schema_files(
    files: Mapping[str, str],
    field: str = "spec.converter.avroSchemaFiles",
    debezium_zone: dt.tzinfo | None = None,
) -> AvroFileDecoder:
    """Read and parse every ``topic → .avsc path``; a missing or invalid file is a ConfigError naming it.

    A relative path is resolved against ``$OLAPSINK_AVRO_SCHEMA_DIR`` (the operator sets it to where it
    mounts ``spec.converter.avroSchemaConfigMap``), never against the working directory, which nobody chose.
    """
    schema_dir = os.environ.get(SCHEMA_DIR_ENV)
    schemas: dict[str, AvroRecordSchema] = {}
    problems: list[ConfigProblem] = []
    for topic, path in files.items():
        where = f"{field}.{topic}"
        file = Path(path.removeprefix("file://"))
        if not file.is_absolute():
            if not schema_dir:
                problem = (
                    f"{path} is a relative path and {SCHEMA_DIR_ENV} is not set; set it to the directory "
                    "holding the .avsc files, or write an absolute path"
                )
                problems.append(ConfigProblem(where, problem))
                continue
            file = Path(schema_dir) / file
        try:
            text = file.read_text(encoding="utf-8")
        except OSError as exc:
            problem = f"cannot read {file} ({exc.strerror}); mount the file there"
            problems.append(ConfigProblem(where, problem))
            continue
        try:
            schemas[topic] = AvroRecordSchema(json.loads(text), debezium_zone=debezium_zone)
        except (ValueError, TypeError, KeyError, SchemaParseException) as exc:
            problems.append(ConfigProblem(where, f"{path} is not a usable Avro schema: {exc}"))
    if problems:
        raise ConfigError(problems)
    return AvroFileDecoder(schemas)
