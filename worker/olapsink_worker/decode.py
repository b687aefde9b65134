"""Record value bytes → one row of the load body (bytes), or nothing.

Three shapes, chosen once per sink from ``spec.converter``:

- **passthrough** (``valueFormat: json`` or ``string`` in normal mode): the value already is the row
  (a JSON object or a CSV line). The engine never calls ``decode`` per record; it joins the values as they
  came from Kafka. This is the fast path, and the reason rows are ``bytes`` everywhere.
- **schema envelope** (``valueFormat: json_with_schema``): Kafka JsonConverter's ``{"schema", "payload"}``.
  The schema is kept as raw bytes and compiled once per distinct schema text (connect_types); the payload is
  parsed only when a field needs converting, else copied out unparsed.
- **debezium** (``mode: debezium_ingestion``): the change event's ``after`` (or ``before`` for ``op: d``),
  converted like an envelope and marked with the flavor's delete column: ``__DORIS_DELETE_SIGN__`` "0"/"1"
  for Doris (loaded only when ``deletes.enabled`` sends ``hidden_columns``), ``__op`` 0/1 for StarRocks.

Errors are ``RecordError`` without a location; the engine adds topic/partition/offset.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Hashable, Sequence
from typing import Any

import msgspec

from olapsink_worker.connect_types import Converter, SchemaError, compile_struct, time_millis_text, zone_named
from olapsink_worker.errors import ConfigError, ConfigProblem, RecordError

PASSTHROUGH_FORMATS = frozenset({"json", "string"})
SUPPORTED_FORMATS = frozenset({"json", "string", "json_with_schema"})
SCHEMA_FORMATS = frozenset({"avro", "protobuf"})  # decoded by olapsink_worker.formats
_SCHEMA_CACHE_SIZE = 256
log = logging.getLogger(__name__)


class _ChangeEvent(msgspec.Struct):
    op: Any = msgspec.UNSET
    before: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    after: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET


class _Envelope(msgspec.Struct):
    # Raw: the schema is only compared (cache key) and the payload often copied out, never parsed twice.
    schema: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    payload: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET


_DELETE_MARKERS: dict[str, tuple[str, Any, Any]] = {
    # flavor: (column, value for upsert, value for delete) — as each upstream connector writes them.
    "doris": ("__DORIS_DELETE_SIGN__", "0", "1"),
    "starrocks": ("__op", 0, 1),
}


class Decoder:
    """Turns one record value into one row. Build with ``Decoder.for_sink`` or directly in tests."""

    def __init__(
        self,
        *,
        value_format: str = "json",
        mode: str = "normal",
        flavor: str = "doris",
        null_values: str = "ignore",
        time_zone: str = "UTC",
        row_decoder: Callable[[bytes, str | None], bytes] | None = None,
        time_millis_format: str | None = None,
        time_millis_fields: Sequence[str] = (),
        deletes: bool = True,
        schema_key_of: Callable[[bytes], Hashable | None] | None = None,
    ) -> None:
        self._row_decoder = row_decoder
        self._schema_key_of = schema_key_of
        # StarRocks TimeMillisToStringTransform: named fields (ms of day) of any row, or with no names
        # every Connect Time field of schema'd values.
        self.time_format = time_millis_format
        self.time_fields = frozenset(time_millis_fields) if time_millis_fields else None
        if value_format not in SUPPORTED_FORMATS and row_decoder is None:
            raise ConfigError(
                ConfigProblem(
                    "spec.converter.valueFormat",
                    f"{value_format!r} is not supported by this worker yet; use one of "
                    f"{sorted(SUPPORTED_FORMATS)} (convert Avro/Protobuf to JSON upstream)",
                )
            )
        if flavor not in _DELETE_MARKERS:
            raise ConfigError(ConfigProblem("kind", f"unknown sink flavor {flavor!r}"))
        self.value_format = value_format
        self.mode = mode
        self.flavor = flavor
        self.fail_on_null = null_values == "fail"
        self.zone: dt.tzinfo = zone_named(time_zone)
        self.debezium = mode == "debezium_ingestion"
        column, upsert, delete = _DELETE_MARKERS[flavor]
        # Doris: the sign is always written and the hidden_columns header (deletes.enabled) decides whether
        # Doris reads it, as the Doris connector does. StarRocks reads __op by itself, so with deletes off
        # the marker says upsert: a `d` then loads its before image, as the Doris flavor does.
        self._marker = (column, upsert, delete if deletes or flavor == "doris" else upsert)
        # The schema of the last decoded value, for SchemaWatch.observe_schema (see schema_key).
        self._key: Hashable | None = None
        self._key_value: bytes | None = None
        self.passthrough = (
            value_format in PASSTHROUGH_FORMATS
            and not self.debezium
            and row_decoder is None
            and not (self.time_format and self.time_fields and value_format == "json")
        )
        self._schemas: dict[bytes, Converter | None] = {}
        self._envelope_keys: set[bytes] = set()  # Debezium schemas with an `after` field
        self._last_schema: Any = None
        self._last_key: bytes | None = None
        self._last_converter: Converter | None = None
        self._envelope = msgspec.json.Decoder(_Envelope)
        self._event = msgspec.json.Decoder(_ChangeEvent)
        self._any = msgspec.json.Decoder()
        self._encode = msgspec.json.Encoder(decimal_format="number").encode

    @classmethod
    def for_sink(cls, sink: Any) -> Decoder:
        spec = sink.spec
        value_format = str(spec.converter.value_format)
        row_decoder = None
        if value_format in SCHEMA_FORMATS:
            from olapsink_worker.formats import value_decoder

            row_decoder = value_decoder(spec.converter, time_zone=str(spec.time_zone))
        transform = spec.converter.time_millis_to_string
        if str(spec.converter.mode) == "debezium_ingestion" and value_format == "json":
            log.warning(
                "debezium_ingestion with valueFormat json (JsonConverter schemas.enable=false): Debezium's "
                "dates, timestamps and decimals arrive as bare numbers and base64 and load as NULL or fail; "
                "set valueFormat: json_with_schema (schemas.enable=true) to convert them"
            )
        return cls(
            time_millis_format=None if transform is None else str(transform.format),
            time_millis_fields=() if transform is None else list(transform.fields),
            value_format=value_format,
            mode=str(spec.converter.mode),
            flavor=sink.flavor,
            null_values=str(spec.null_values),
            time_zone=str(spec.time_zone),
            row_decoder=row_decoder,
            deletes=bool(spec.deletes.enabled),
            schema_key_of=_registry_key_of(value_format) if row_decoder is not None else None,
        )

    @property
    def schema_key(self) -> Hashable | None:
        """What identifies the schema of the value ``decode`` last read, in the form SchemaWatch keys it
        (the JSON envelope's schema text, the registry id of Avro, id and message path of Protobuf), or
        None when it had none. Lets the engine skip a second parse: ``watch.observe_schema(table, key)``.
        """
        if self._key_value is not None and self._schema_key_of is not None:
            self._key, self._key_value = self._schema_key_of(self._key_value), None
        return self._key

    def decode(self, value: bytes | None, topic: str | None = None) -> bytes | None:
        """The row for this value; None when the record is to be skipped (a tolerated tombstone)."""
        self._key = None
        if value is None:
            if self.fail_on_null:
                raise RecordError("null value (tombstone) and nullValues is 'fail'; set nullValues: ignore")
            return None
        if self.passthrough:
            return value
        if self._row_decoder is not None:
            self._key_value = value  # its key is read only when asked for
            row = self._row_decoder(value, topic)
            return self._event_row(row, None, None) if self.debezium else row
        if self.value_format == "json" and not self.debezium:
            return self._time_fields_row(value)
        if self.debezium:
            return self._debezium(value)
        return self._envelope_row(value)

    # -- schema envelopes ------------------------------------------------------------------------------

    def _split(self, value: bytes) -> tuple[bytes | None, bytes | None]:
        try:
            env = self._envelope.decode(value)
        except msgspec.DecodeError as exc:
            raise RecordError(f"value is not a JSON object with schema/payload: {exc}") from exc
        if env.payload is msgspec.UNSET:
            # What Kafka's JsonConverter (schemas.enable=true) rejects too: plain JSON is not an envelope.
            raise RecordError(
                "value has no 'payload' (not a JsonConverter schema envelope); for plain JSON set "
                "spec.converter.valueFormat: json"
            )
        schema = b"null" if env.schema is msgspec.UNSET else bytes(env.schema)
        payload = bytes(env.payload)
        return (None if schema == b"null" else schema), (None if payload == b"null" else payload)

    def _converter(self, key: bytes | None, *, debezium: bool = False) -> Converter | None:
        if key is None:
            return None
        try:
            return self._schemas[key]
        except KeyError:
            pass
        try:
            parsed = self._any.decode(key)
            if not isinstance(parsed, dict):
                raise SchemaError("schema is not a JSON object")
            if debezium:
                parsed, envelope = _debezium_row_schema(parsed)
                if envelope:
                    self._envelope_keys.add(key)
            conv = (
                compile_struct(parsed, self.zone, self.time_format, self.time_fields)
                if parsed is not None
                else None
            )
        except (msgspec.DecodeError, SchemaError) as exc:
            raise RecordError(f"unusable Connect schema: {exc}") from exc
        if len(self._schemas) >= _SCHEMA_CACHE_SIZE:
            self._schemas.clear()
            self._envelope_keys.clear()
        self._schemas[key] = conv
        return conv

    def _schema_converter(self, schema: Any, *, debezium: bool = False) -> Converter | None:
        # Records of a stream share one schema text: comparing Raw bytes (~0.1 us) saves copying and
        # hashing the schema per record, and keeps one key object (its hash cached) for the schema watch.
        if schema is msgspec.UNSET or schema != self._last_schema:
            key = None if schema is msgspec.UNSET else bytes(schema)
            key = None if key == b"null" else key
            self._last_schema, self._last_key = schema, key
            self._last_converter = self._converter(key, debezium=debezium)
        self._key = self._last_key
        return self._last_converter

    def _envelope_row(self, value: bytes) -> bytes | None:
        try:
            env = self._envelope.decode(value)
        except msgspec.DecodeError as exc:
            raise RecordError(f"value is not a JSON object with schema/payload: {exc}") from exc
        payload = env.payload
        if payload is msgspec.UNSET:
            self._split(value)  # raises the "not an envelope" error
        schema = env.schema
        # Records of a stream share one schema text: comparing Raw bytes (~0.1 us) saves copying and
        # hashing the schema per record.
        conv = self._schema_converter(schema)
        if conv is None:
            row = bytes(payload)  # type: ignore[arg-type]
            if row == b"null":
                return self._null_payload()
            return row
        try:
            obj = self._any.decode(payload)  # type: ignore[arg-type]
            if obj is None:
                return self._null_payload()
            return self._encode(conv(obj))
        except (SchemaError, TypeError, ValueError, OverflowError, msgspec.DecodeError) as exc:
            raise RecordError(f"payload does not match its schema: {exc}") from exc

    def _time_fields_row(self, value: bytes) -> bytes:
        """Schemaless JSON with TimeMillisToString fields: only those fields are rewritten."""
        assert self.time_format is not None and self.time_fields is not None
        try:
            row = self._any.decode(value)
        except msgspec.DecodeError as exc:
            raise RecordError(f"value is not JSON: {exc}") from exc
        if isinstance(row, dict):
            for name in self.time_fields:
                millis = row.get(name)
                if type(millis) is int:
                    row[name] = time_millis_text(millis, self.time_format)
        return self._encode(row)

    def _null_payload(self) -> bytes | None:
        if self.fail_on_null:
            raise RecordError("null payload and nullValues is 'fail'; set nullValues: ignore")
        return None

    # -- Debezium change events ------------------------------------------------------------------------

    def _debezium(self, value: bytes) -> bytes | None:
        if self.value_format == "json_with_schema":
            try:
                env = self._envelope.decode(value)
            except msgspec.DecodeError as exc:
                raise RecordError(f"value is not a JSON object with schema/payload: {exc}") from exc
            if env.payload is msgspec.UNSET:
                self._split(value)  # raises the "not an envelope" error
            schema = env.schema
            if (
                schema is not msgspec.UNSET
                and schema != self._last_schema
                and b"SchemaChangeValue" in bytes(schema)
            ):
                raise RecordError(
                    "Debezium schema-change event; exclude the schema-change topic from this sink"
                )
            conv = self._schema_converter(schema, debezium=True)
            raw: Any = env.payload
            # The schema says whether this is an envelope (the Doris connector: its name contains
            # Envelope), so a flattened row with columns named op or after stays a row.
            envelope: bool | None = None if self._key is None else self._key in self._envelope_keys
        else:
            conv, raw, envelope = None, value, None
        return self._event_row(raw, conv, envelope)

    def _event_row(self, raw: Any, conv: Converter | None, envelope: bool | None) -> bytes | None:
        """One change event (JSON) → its row with the delete marker. ``envelope`` None: tell by the keys."""
        column, upsert, delete = self._marker
        if envelope is False:  # already flattened, e.g. by ExtractNewRecordState
            return self._flattened(raw, conv)
        try:
            # Only op and the images are picked out; source, transaction, ts_* are skipped unparsed.
            event = self._event.decode(raw)
        except msgspec.ValidationError:
            if self._any.decode(raw) is None:
                return self._null_payload()
            return self._flattened(raw, conv)
        except msgspec.DecodeError as exc:
            raise RecordError(f"value is not JSON: {exc}") from exc
        op = event.op
        if envelope is None:  # no schema: Debezium always writes op with before and/or after
            envelope = op is not msgspec.UNSET and (
                event.before is not msgspec.UNSET or event.after is not msgspec.UNSET
            )
            if not envelope:
                return self._flattened(raw, conv)
        if op == "d":
            image, marker, name = event.before, delete, "before"
        elif op in ("c", "u", "r") or (op in (None, msgspec.UNSET) and event.after is not msgspec.UNSET):
            image, marker, name = event.after, upsert, "after"
        elif op == "t":
            raise RecordError(
                "Debezium truncate event (op 't') has no rows to load; leave truncates out at the "
                "source (skipped.operations=t, Debezium's default) or truncate the table by hand"
            )
        else:
            raise RecordError(f"Debezium event has unknown op {op!r} (expected c, u, r or d)")
        row = None if image is msgspec.UNSET else self._any.decode(image)
        if not isinstance(row, dict):
            hint = "; a delete needs the before image (PostgreSQL: REPLICA IDENTITY FULL or a primary key)"
            raise RecordError(
                f"Debezium event with op {op!r} has no '{name}' row" + (hint if op == "d" else "")
            )
        return self._marked(row, conv, column, marker)

    def _flattened(self, raw: Any, conv: Converter | None) -> bytes:
        """A row already unwrapped by ExtractNewRecordState; with ``delete.handling.mode=rewrite`` its
        ``__deleted`` field says whether it was a delete (neither connector reads it; it is what the
        person who set rewrite meant)."""
        column, upsert, delete = self._marker
        row = self._object(raw, "Debezium value")
        deleted = row.get("__deleted")
        return self._marked(row, conv, column, delete if deleted is True or deleted == "true" else upsert)

    def _object(self, raw: Any, what: str) -> dict[str, Any]:
        try:
            obj = self._any.decode(raw)
        except msgspec.DecodeError as exc:
            raise RecordError(f"value is not JSON: {exc}") from exc
        if not isinstance(obj, dict):
            raise RecordError(f"{what} must be a JSON object, got {type(obj).__name__}")
        return obj

    def _marked(self, row: dict[str, Any], conv: Converter | None, column: str, marker: Any) -> bytes:
        try:
            if conv is not None:
                row = conv(row)
            row[column] = marker
            return self._encode(row)
        except (SchemaError, TypeError, ValueError, OverflowError) as exc:
            raise RecordError(f"Debezium row does not match its schema: {exc}") from exc


def _debezium_row_schema(schema: dict[str, Any]) -> tuple[dict[str, Any] | None, bool]:
    """The struct schema of one row image and whether ``schema`` is an envelope: the envelope's
    ``after`` field, or the schema itself when the event is already flattened."""
    for field in schema.get("fields") or []:
        if isinstance(field, dict) and field.get("field") == "after" and field.get("type") == "struct":
            return field, True
    return (schema if schema.get("type") == "struct" else None), False


def _registry_key_of(value_format: str) -> Callable[[bytes], Hashable | None]:
    from olapsink_worker.formats.wire import avro_schema_key, protobuf_schema_key

    return avro_schema_key if value_format == "avro" else protobuf_schema_key
