"""Kafka Connect logical types → the text Doris and StarRocks parse.

Kafka's JsonConverter (``schemas.enable=true``) writes every record as ``{"schema": …, "payload": …}``. The
payload of a logical type is a plain number or base64 string whose meaning is given only by the schema's
``name``: a Connect ``Date`` is days since the epoch, ``Time`` milliseconds of the day, ``Timestamp`` epoch
milliseconds, ``Decimal`` the unscaled two's-complement integer in base64. Both upstream connectors hand these
raw numbers to the database, which loads NULL (StarRocks issue #12); here they become ``YYYY-MM-DD``,
``HH:MM:SS[.ffffff]``, ``YYYY-MM-DD HH:MM:SS[.ffffff]`` and exact decimals.

``compile_struct(schema)`` turns a struct schema into a converter once; the decoder caches it per schema
text, so each record pays only for the fields that actually need converting. A schema with no such field
compiles to ``None`` and its payload goes out byte for byte.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import decimal
import json
import re
import time
from collections.abc import Callable, Mapping
from typing import Any
from zoneinfo import ZoneInfo

import msgspec

from olapsink_worker.wkb import WkbError, geometry_from_wkb

Converter = Callable[[Any], Any]

_EPOCH_DATE = dt.date(1970, 1, 1)
_EPOCH = dt.datetime(1970, 1, 1)
_UTC = dt.UTC
_EPOCH_UTC = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICROSECOND = dt.timedelta(microseconds=1)

CONNECT_DATE = "org.apache.kafka.connect.data.Date"
CONNECT_TIME = "org.apache.kafka.connect.data.Time"
CONNECT_TIMESTAMP = "org.apache.kafka.connect.data.Timestamp"
CONNECT_DECIMAL = "org.apache.kafka.connect.data.Decimal"
GEOMETRY_PREFIX = "io.debezium.data.geometry."


class SchemaError(ValueError):
    """A schema or payload value does not match what its Connect type promises."""


_DATES: dict[int, str] = {}


def date_from_days(days: int) -> str:
    # Cached: a stream's dates cluster around a few days, and date arithmetic is ~1 us per call.
    text = _DATES.get(days)
    if text is None:
        if len(_DATES) > 100_000:
            _DATES.clear()
        text = _DATES[days] = (_EPOCH_DATE + dt.timedelta(days=days)).isoformat()
    return text


_FRACTIONS: dict[int, str] = {}


def _fraction(micros: int) -> str:
    """``.ffffff`` trimmed of trailing zeros, or nothing: Doris and StarRocks accept both forms."""
    if not micros:
        return ""
    text = _FRACTIONS.get(micros)
    if text is None:
        if len(_FRACTIONS) > 100_000:
            _FRACTIONS.clear()
        text = _FRACTIONS[micros] = "." + f"{micros:06d}".rstrip("0")
    return text


def time_from_micros(micros_of_day: int) -> str:
    seconds, micros = divmod(micros_of_day, 1_000_000)
    minutes, sec = divmod(seconds, 60)
    hours, minute = divmod(minutes, 60)
    return f"{hours:02d}:{minute:02d}:{sec:02d}{_fraction(micros)}"


def datetime_from_micros(epoch_micros: int) -> str:
    """Epoch microseconds as UTC wall-clock text, the way both connectors treat Connect timestamps.

    Integer arithmetic and a cached date instead of datetime.strftime (4x faster on the hot path)."""
    seconds, micros = divmod(epoch_micros, 1_000_000)
    text = _SECONDS.get(seconds)
    if text is None:
        if len(_SECONDS) > 100_000:
            _SECONDS.clear()
        days, second_of_day = divmod(seconds, 86_400)
        text = _SECONDS[seconds] = f"{date_from_days(days)} {time_from_micros(second_of_day * 1_000_000)}"
    return text + _fraction(micros) if micros else text


_SECONDS: dict[int, str] = {}


def decimal_text(unscaled: int, scale: int) -> str:
    """The exact decimal text of ``unscaled * 10**-scale`` (no float, no exponent)."""
    if scale <= 0:
        return str(unscaled * 10**-scale)
    sign = "-" if unscaled < 0 else ""
    digits = str(abs(unscaled)).rjust(scale + 1, "0")
    return f"{sign}{digits[:-scale]}.{digits[-scale:]}"


def decimal_raw(value: Any, scale: int) -> Any:
    """A Connect Decimal as a JSON number written verbatim (``msgspec.Raw``): exact and cheaper than
    building a ``decimal.Decimal`` only to render it again."""
    if type(value) is str:
        try:
            raw = binascii.a2b_base64(value, strict_mode=True)
        except binascii.Error as exc:
            raise SchemaError(f"Decimal value {value!r} is not base64") from exc
        return msgspec.Raw(decimal_text(int.from_bytes(raw, "big", signed=True), scale).encode())
    return decimal_from_connect(value, scale)


def decimal_from_connect(value: Any, scale: int) -> decimal.Decimal:
    """A Connect Decimal: base64 of the unscaled big-endian two's-complement integer, or already a number
    when the producer used ``decimal.format=NUMERIC``."""
    if isinstance(value, str):
        try:
            raw = base64.b64decode(value, validate=True)
        except binascii.Error as exc:
            raise SchemaError(f"Decimal value {value!r} is not base64") from exc
        unscaled = int.from_bytes(raw, "big", signed=True)
        return decimal.Decimal(unscaled).scaleb(-scale)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SchemaError(f"Decimal value {value!r} is neither base64 text nor a number")
    # Through str() so that a float keeps the digits the producer wrote, not its binary expansion.
    return decimal.Decimal(str(value))


def _int(value: Any, type_name: str) -> int:
    if type(value) is int:
        return value
    if isinstance(value, bool) or not isinstance(value, int):
        raise SchemaError(f"{type_name} value {value!r} must be an integer")
    return value


def _scale_of(schema: Mapping[str, Any]) -> int:
    params = schema.get("parameters") or {}
    try:
        return int(params.get("scale", 0))
    except (TypeError, ValueError) as exc:
        raise SchemaError(f"Decimal schema has a non-integer scale {params.get('scale')!r}") from exc


def _variable_scale_decimal(value: Any) -> decimal.Decimal:
    if not isinstance(value, Mapping) or "value" not in value:
        raise SchemaError(f"VariableScaleDecimal value {value!r} must be {{scale, value}}")
    return decimal_from_connect(value["value"], int(value.get("scale") or 0))


class _ZoneOffsets:
    """A zone's UTC offset in seconds at an epoch second, cached per 15-minute slot of UTC time.

    Zone transitions fall on quarter hours of UTC time (historic local-mean-time ones excepted, which the
    check of both ends of a slot catches), so one lookup serves a slot: ~0.1 us instead of ~2 us for
    ``astimezone`` per value."""

    _SLOT = 900

    def __init__(self, zone: dt.tzinfo) -> None:
        self.zone = zone
        self._slots: dict[int, int | None] = {}

    def exact(self, epoch_seconds: int) -> int:
        offset = dt.datetime.fromtimestamp(epoch_seconds, _UTC).astimezone(self.zone).utcoffset()
        return int(offset.total_seconds()) if offset else 0

    def __call__(self, epoch_seconds: int) -> int:
        slot = epoch_seconds // self._SLOT
        try:
            offset = self._slots[slot]
        except KeyError:
            if len(self._slots) > 100_000:
                self._slots.clear()
            start = self.exact(slot * self._SLOT)
            offset = start if start == self.exact(slot * self._SLOT + self._SLOT - 1) else None
            self._slots[slot] = offset
        return self.exact(epoch_seconds) if offset is None else offset


def _zoned_timestamp(zone: dt.tzinfo) -> Converter:
    offsets = _ZoneOffsets(zone)

    def convert(value: Any) -> str:
        if not isinstance(value, str):
            raise SchemaError(f"ZonedTimestamp value {value!r} must be ISO-8601 text")
        try:
            stamp = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:
            raise SchemaError(f"ZonedTimestamp value {value!r} is not ISO-8601") from exc
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=_UTC)
        micros = (stamp - _EPOCH_UTC) // _MICROSECOND
        return datetime_from_micros(micros + offsets(micros // 1_000_000) * 1_000_000)

    return convert


_ZONED_TIME = re.compile(r"(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}(?::?\d{2})?)?\Z")


def _zoned_time(zone: dt.tzinfo) -> Converter:
    """Debezium ``ZonedTime`` (ISO offset time, ``04:34:56Z``) as wall-clock time in ``zone``.

    A time of day has no date, so the zone's offset is the one in force today, as the Doris connector
    does; the fraction is kept (the Doris connector drops it, its issue #42)."""
    offsets = _ZoneOffsets(zone)
    # Times of day repeat: their text is cached for the UTC day it was computed on (the offset may differ
    # tomorrow).
    cache: dict[str, str] = {}
    cache_day = [0]

    def cached(value: Any) -> str:
        day = int(time.time()) // 86_400
        if day != cache_day[0] or len(cache) > 100_000:
            cache.clear()
            cache_day[0] = day
        text = cache.get(value) if isinstance(value, str) else None
        if text is None:
            text = convert(value)
            cache[value] = text
        return text

    def convert(value: Any) -> str:
        match = _ZONED_TIME.match(value) if isinstance(value, str) else None
        if match is None:
            raise SchemaError(f"ZonedTime value {value!r} is not an ISO-8601 time with offset")
        hours, minutes, seconds, fraction, offset = match.groups()
        micros = int((fraction or "").ljust(6, "0")[:6])
        offset_seconds = 0
        if offset and offset != "Z":
            sign = -1 if offset[0] == "-" else 1
            digits = offset[1:].replace(":", "")
            offset_seconds = sign * (int(digits[:2]) * 3600 + int(digits[2:4] or 0) * 60)
        utc_seconds = (int(hours) * 3600 + int(minutes) * 60 + int(seconds or 0) - offset_seconds) % 86_400
        today = int(time.time()) // 86_400 * 86_400
        local = (utc_seconds + offsets(today + utc_seconds)) % 86_400
        return time_from_micros(local * 1_000_000 + micros)

    return cached


def _geometry(value: Any) -> str:
    """A Debezium geometry struct ``{wkb, srid}`` as GeoJSON-shaped JSON text (doris.md §4.3)."""
    if not isinstance(value, Mapping) or not isinstance(value.get("wkb"), str):
        raise SchemaError(f"geometry value {value!r} must be a struct with base64 'wkb'")
    try:
        wkb = binascii.a2b_base64(value["wkb"], strict_mode=True)
        geometry = geometry_from_wkb(wkb, value.get("srid"))
    except (binascii.Error, WkbError) as exc:
        raise SchemaError(f"geometry wkb is not a well-known-binary geometry: {exc}") from exc
    return json.dumps(geometry, separators=(",", ":"), allow_nan=False)


def time_millis_text(millis_of_day: int, fmt: str) -> str:
    """StarRocks TimeMillisToStringTransform: ``HH:mm:ss`` or ``HH:mm:ss.SSS`` (fixed 3 digits)."""
    seconds, millis = divmod(millis_of_day, 1000)
    text = time_from_micros(seconds * 1_000_000)
    return f"{text}.{millis:03d}" if fmt == "HH:mm:ss.SSS" else text


def _leaf_converter(
    schema: Mapping[str, Any], zone: dt.tzinfo, time_format: str | None = None
) -> Converter | None:
    """The converter for one non-struct schema, or None when its JSON value is already right."""
    name = schema.get("name")
    type_name = schema.get("type")
    if name in (CONNECT_DATE, "io.debezium.time.Date"):
        return lambda v: date_from_days(_int(v, "Date"))
    if name in (CONNECT_TIME, "io.debezium.time.Time"):
        if time_format is not None:
            return lambda v: time_millis_text(_int(v, "Time"), time_format)
        return lambda v: time_from_micros(_int(v, "Time") * 1000)
    if name == "io.debezium.time.MicroTime":
        return lambda v: time_from_micros(_int(v, "MicroTime"))
    if name == "io.debezium.time.NanoTime":
        return lambda v: time_from_micros(_int(v, "NanoTime") // 1000)
    if name in (CONNECT_TIMESTAMP, "io.debezium.time.Timestamp"):
        return lambda v: datetime_from_micros(_int(v, "Timestamp") * 1000)
    if name == "io.debezium.time.MicroTimestamp":
        return lambda v: datetime_from_micros(_int(v, "MicroTimestamp"))
    if name == "io.debezium.time.NanoTimestamp":
        return lambda v: datetime_from_micros(_int(v, "NanoTimestamp") // 1000)
    if name == "io.debezium.time.ZonedTimestamp":
        return _zoned_timestamp(zone)
    if name == "io.debezium.time.ZonedTime":
        return _zoned_time(zone)
    if isinstance(name, str) and name.startswith(GEOMETRY_PREFIX):
        return _geometry
    if name == CONNECT_DECIMAL:
        scale = _scale_of(schema)
        return lambda v: decimal_raw(v, scale)
    if name == "io.debezium.data.VariableScaleDecimal":
        return _variable_scale_decimal
    if type_name == "bytes":
        # JsonConverter writes bytes as base64; Doris's connector loads them as upper-case hex.
        return lambda v: base64.b64decode(v).hex().upper() if isinstance(v, str) else v
    if type_name == "struct":
        return compile_struct(schema, zone)
    if type_name == "array":
        element = _leaf_converter(schema.get("items") or {}, zone)
        if element is None:
            return None
        return lambda v: [None if x is None else element(x) for x in v] if isinstance(v, list) else v
    if type_name == "map":
        values = _leaf_converter(schema.get("values") or {}, zone)
        if values is None:
            return None
        return lambda v: (
            {k: None if x is None else values(x) for k, x in v.items()} if isinstance(v, dict) else v
        )
    return None


DEBEZIUM_SCALAR_TYPES = frozenset(
    "io.debezium.time." + n
    for n in (
        "Date",
        "Time",
        "MicroTime",
        "NanoTime",
        "Timestamp",
        "MicroTimestamp",
        "NanoTimestamp",
        "ZonedTimestamp",
        "ZonedTime",
    )
)


def debezium_scalar_converter(name: str, zone: dt.tzinfo) -> Converter | None:
    """The converter for a Debezium time type named by ``connect.name`` in another format's schema
    (Avro), whose value is the same int or string as in JSON; None for any other name."""
    if name not in DEBEZIUM_SCALAR_TYPES:
        return None
    return _leaf_converter({"name": name}, zone)


def compile_struct(
    schema: Mapping[str, Any],
    zone: dt.tzinfo | None = None,
    time_format: str | None = None,
    time_fields: frozenset[str] | None = None,
) -> Converter | None:
    """A converter for payloads of this struct schema, or None when no field needs converting.

    The converter mutates and returns the payload dict (it was decoded for this one record).
    ``time_format`` (StarRocks TimeMillisToStringTransform) renders Connect Time fields, all of them or
    only ``time_fields``, as ``HH:mm:ss`` / ``HH:mm:ss.SSS``.
    Raises SchemaError for a schema that is not a struct.
    """
    if schema.get("type") != "struct":
        raise SchemaError(f"expected a struct schema, got type {schema.get('type')!r}")
    tz = zone or _UTC
    plan: list[tuple[str, Converter]] = []
    for field in schema.get("fields") or []:
        if not isinstance(field, Mapping) or "field" not in field:
            raise SchemaError(f"struct field {field!r} has no 'field' name")
        fmt = time_format if time_fields is None or field["field"] in time_fields else None
        conv = _leaf_converter(field, tz, fmt)
        if conv is not None:
            plan.append((field["field"], conv))
    if not plan:
        return None

    def convert(payload: Any) -> Any:
        if not isinstance(payload, dict):
            return payload
        for name, conv in plan:
            value = payload.get(name)
            if value is not None:
                payload[name] = conv(value)
        return payload

    return convert


def zone_named(name: str) -> dt.tzinfo:
    """The tzinfo for an IANA name (the spec validated it already); UTC stays the fast fixed offset."""
    return _UTC if name.upper() in ("UTC", "Z", "ETC/UTC") else ZoneInfo(name)
