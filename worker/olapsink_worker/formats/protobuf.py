"""Protobuf record values (Confluent ProtobufConverter framing) → JSON rows.

The writer's ``.proto`` comes from the registry by id as a serialized ``FileDescriptorProto``
(``format=serialized``), with its references, into a descriptor pool of its own; the message type is the
one the value's message-index path names. No generated classes: any message a producer registers loads.

Row shape, field by field (names as in the ``.proto``):

- scalars as they are; ``bytes`` as upper-case hex (as the JSON path writes Connect bytes); enums by name;
- a field with presence (``optional``, proto2, a message field) that is unset → null; a plain proto3
  scalar that is unset is its zero value, which is what proto3 says it is;
- ``google.protobuf.Timestamp`` → ``YYYY-MM-DD HH:MM:SS[.ffffff]`` (UTC), ``google.type.Date`` →
  ``YYYY-MM-DD``, ``google.type.TimeOfDay`` → ``HH:MM:SS[.ffffff]``, ``confluent.type.Decimal`` → an exact
  decimal, the ``google.protobuf.*Value`` wrappers → their value (so a wrapper is a nullable column),
  ``google.protobuf.Struct``/``Value``/``ListValue`` → the JSON they hold;
- other messages → nested JSON objects, repeated → arrays, maps → objects.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
from collections.abc import Callable
from typing import Any

import msgspec
from google.protobuf import descriptor_pb2, json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.descriptor_pool import DescriptorPool
from google.protobuf.message import DecodeError
from google.protobuf.message_factory import GetMessageClass

from olapsink_worker.connect_types import date_from_days, datetime_from_micros, time_from_micros
from olapsink_worker.errors import RecordError, SchemaUnusableError
from olapsink_worker.formats.registry import SchemaCache
from olapsink_worker.formats.wire import split_frame, split_message_indexes

_encode = msgspec.json.Encoder(decimal_format="number").encode
_EPOCH_DATE = dt.date(1970, 1, 1)
_WRAPPERS = frozenset(
    f"google.protobuf.{n}Value"
    for n in ("Double", "Float", "Int64", "UInt64", "Int32", "UInt32", "Bool", "String", "Bytes")
)
ToRow = Callable[[Any], Any]


def _timestamp(m: Any) -> str:
    return datetime_from_micros(m.seconds * 1_000_000 + m.nanos // 1000)


def _date(m: Any) -> str:
    try:
        return date_from_days((dt.date(m.year, m.month, m.day) - _EPOCH_DATE).days)
    except ValueError as exc:
        raise ValueError(f"google.type.Date {m.year}-{m.month}-{m.day} is not a full date: {exc}") from exc


def _time_of_day(m: Any) -> str:
    return time_from_micros(((m.hours * 60 + m.minutes) * 60 + m.seconds) * 1_000_000 + m.nanos // 1000)


def _decimal(m: Any) -> decimal.Decimal:
    return decimal.Decimal(int.from_bytes(m.value, "big", signed=True)).scaleb(-m.scale)


def _json_value(m: Any) -> Any:
    # Struct, Value and ListValue are JSON already; MessageToDict gives exactly that JSON.
    return json_format.MessageToDict(m)


def _wrapper(m: Any) -> Any:
    value = m.value
    return value.hex().upper() if isinstance(value, bytes) else value


_WELL_KNOWN: dict[str, ToRow] = {
    "google.protobuf.Timestamp": _timestamp,
    "google.type.Date": _date,
    "google.type.TimeOfDay": _time_of_day,
    "confluent.type.Decimal": _decimal,
    "google.protobuf.Struct": _json_value,
    "google.protobuf.Value": _json_value,
    "google.protobuf.ListValue": _json_value,
    **{name: _wrapper for name in _WRAPPERS},
}


class _Compiler:
    """Builds one ``message → dict`` function per message type, once (recursive types included)."""

    def __init__(self) -> None:
        self._done: dict[str, ToRow] = {}

    def message(self, desc: Descriptor) -> ToRow:
        known = _WELL_KNOWN.get(desc.full_name)
        if known is not None:
            return known
        if desc.full_name in self._done:
            return self._done[desc.full_name]
        plan: list[tuple[str, bool, ToRow | None]] = []

        def convert(msg: Any) -> dict[str, Any]:
            row: dict[str, Any] = {}
            for name, presence, to_row in plan:
                if presence and not msg.HasField(name):
                    row[name] = None
                    continue
                value = getattr(msg, name)
                row[name] = value if to_row is None else to_row(value)
            return row

        self._done[desc.full_name] = convert  # before the fields: a recursive type finds itself
        for field in desc.fields:
            presence = field.has_presence and not field.is_repeated
            plan.append((field.name, presence, self.field(field)))
        return convert

    def field(self, field: FieldDescriptor) -> ToRow | None:
        if field.is_repeated:
            entry = field.message_type
            if entry is not None and entry.GetOptions().map_entry:
                value = self.single(entry.fields_by_name["value"])
                if value is None:
                    return dict
                return lambda m: {k: value(v) for k, v in m.items()}
            item = self.single(field)
            if item is None:
                return list
            return lambda items: [item(v) for v in items]
        return self.single(field)

    def single(self, field: FieldDescriptor) -> ToRow | None:
        """Converter for one value of this field (None: the Python value already is the row value)."""
        if field.message_type is not None:
            return self.message(field.message_type)
        if field.enum_type is not None:
            by_number = {v.number: v.name for v in field.enum_type.values}
            return lambda n: by_number.get(n, n)
        if field.type == FieldDescriptor.TYPE_BYTES:
            return lambda b: b.hex().upper()
        return None


def _fresh_pool() -> DescriptorPool:
    # The same well-known files confluent-kafka's serializer treats as built in (it never registers them
    # as references), so a schema importing google/type/date.proto or confluent/type/decimal.proto resolves.
    from confluent_kafka.schema_registry.common.protobuf import _init_pool

    pool = DescriptorPool()
    _init_pool(pool)
    return pool


def _file_proto(name: str, schema_str: str) -> descriptor_pb2.FileDescriptorProto:
    try:
        proto = descriptor_pb2.FileDescriptorProto.FromString(base64.b64decode(schema_str, validate=True))
    except (ValueError, DecodeError) as exc:
        raise ValueError(
            "the registry did not return the schema as a serialized FileDescriptorProto "
            "(GET /schemas/ids/{id}?format=serialized); use a registry that supports that format"
        ) from exc
    proto.name = name
    return proto


class ProtobufMessageType:
    """One registered schema: its descriptor pool and a row converter per message-index path."""

    def __init__(self, pool: DescriptorPool, proto: descriptor_pb2.FileDescriptorProto) -> None:
        prefix = f"{proto.package}." if proto.package else ""
        self._pool = pool
        self._top = [prefix + m.name for m in proto.message_type]  # declaration order: index 0 is first
        self._compiler = _Compiler()
        self._types: dict[tuple[int, ...], tuple[type[Any], ToRow]] = {}

    def _type(self, indexes: list[int]) -> tuple[type[Any], ToRow]:
        key = tuple(indexes)
        found = self._types.get(key)
        if found is None:
            try:
                desc = self._pool.FindMessageTypeByName(self._top[indexes[0]])
                for index in indexes[1:]:
                    desc = desc.nested_types[index]
            except IndexError as exc:
                raise RecordError(f"message-index path {indexes} names no message in the schema") from exc
            found = (GetMessageClass(desc), self._compiler.message(desc))
            self._types[key] = found
        return found

    def row(self, payload: memoryview) -> bytes:
        indexes, body = split_message_indexes(payload)
        cls, to_row = self._type(indexes)
        msg = cls()
        try:
            msg.ParseFromString(body)
        except DecodeError as exc:
            raise RecordError(f"value does not decode as Protobuf {cls.DESCRIPTOR.full_name}: {exc}") from exc
        try:
            return _encode(to_row(msg))
        except (TypeError, ValueError, OverflowError) as exc:
            name = cls.DESCRIPTOR.full_name
            raise RecordError(f"Protobuf {name} has a value with no row form: {exc}") from exc


class ProtobufRegistryDecoder:
    """Confluent-framed Protobuf values, writer schemas from the registry by id."""

    def __init__(self, client: Any, url: str = "") -> None:
        self._client = client
        self._schemas: SchemaCache[ProtobufMessageType] = SchemaCache(self._compile, "Protobuf", url)

    def _compile(self, schema_id: int) -> ProtobufMessageType:
        schema = self._client.get_schema(schema_id, fmt="serialized")
        if schema.schema_type != "PROTOBUF":
            raise SchemaUnusableError(
                f"schema id {schema_id} is a {schema.schema_type or 'AVRO'} schema, "
                "but valueFormat is protobuf"
            )
        pool = _fresh_pool()
        added: set[str] = set()
        for ref in schema.references or []:
            self._add_reference(pool, ref, added)
        name = f"olapsink/schema_{schema_id}.proto"
        proto = _file_proto(name, schema.schema_str)
        pool.Add(proto)
        return ProtobufMessageType(pool, proto)

    def _add_reference(self, pool: DescriptorPool, ref: Any, added: set[str]) -> None:
        if ref.name in added:
            return
        added.add(ref.name)
        registered = self._client.get_version(ref.subject, ref.version, fmt="serialized")
        for inner in registered.schema.references or []:
            self._add_reference(pool, inner, added)
        pool.Add(_file_proto(ref.name, registered.schema.schema_str))

    def __call__(self, value: bytes, topic: str | None = None) -> bytes:
        schema_id, payload = split_frame(value)
        return self._schemas[schema_id].row(payload)
