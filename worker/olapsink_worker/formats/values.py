"""Decoded Avro/Protobuf values → what goes into a JSON row, with the JSON-with-schema path's text.

fastavro hands logical types over as Python objects (``date``, aware ``datetime``, ``time``, ``Decimal``,
``UUID``). They are written out through the same ``connect_types`` helpers as Kafka Connect's logical types,
so that a column gets identical text whichever converter produced the record: ``YYYY-MM-DD``,
``HH:MM:SS[.ffffff]``, ``YYYY-MM-DD HH:MM:SS[.ffffff]`` (UTC wall clock) and exact decimals.
Bytes become upper-case hex, as the JSON path writes Connect ``bytes``. Nested records stay nested
JSON objects (Doris and StarRocks load them into JSON columns, or as JSON text into string columns).
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from typing import Any

from olapsink_worker.connect_types import date_from_days, datetime_from_micros, time_from_micros

_EPOCH_DATE = dt.date(1970, 1, 1)
_EPOCH = dt.datetime(1970, 1, 1)
_EPOCH_UTC = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICRO = dt.timedelta(microseconds=1)


def micros_of_day(value: dt.time) -> int:
    return ((value.hour * 60 + value.minute) * 60 + value.second) * 1_000_000 + value.microsecond


def stamp_text(value: dt.datetime) -> str:
    """An aware stamp as UTC wall-clock text; a naive one (Avro local-timestamp) as it is."""
    epoch = _EPOCH if value.tzinfo is None else _EPOCH_UTC
    return datetime_from_micros((value - epoch) // _MICRO)


def plain(value: Any) -> Any:
    """``value`` with every logical-type object replaced by its row text (recursing into containers)."""
    if value is None or isinstance(value, str | int | float | decimal.Decimal):
        return value  # bool is an int; Decimal goes out as a JSON number
    if isinstance(value, dt.datetime):  # before date: datetime is a date
        return stamp_text(value)
    if isinstance(value, dt.date):
        return date_from_days((value - _EPOCH_DATE).days)
    if isinstance(value, dt.time):
        return time_from_micros(micros_of_day(value))
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex().upper()
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    raise TypeError(f"no row representation for a {type(value).__name__} value")
