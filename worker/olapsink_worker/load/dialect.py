"""The two Stream Load dialects: what differs between Doris and StarRocks on the wire.

A dialect is pure: it builds URL paths and headers, says how the body must be framed and compressed to
match those headers, and classifies replies. The HTTP client (``loader.py``) is shared.

Both dialects use the plain ``PUT /api/{db}/{table}/_stream_load`` with a deterministic label. The
StarRocks Kafka connector always uses the transaction API (begin/load/prepare/commit), but that costs four
requests (each redirected) per batch and leaves open transactions behind on a crash; we send each batch
in one request anyway, and the label dedup of plain Stream Load already makes a replay harmless. The
transaction API (and Doris two-phase commit) are kept for exactly-once, where a load must be prepared
before the Kafka offsets are written and committed after.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol
from urllib.parse import quote

from olapsink_worker.load.replies import Reply, classify_reply
from olapsink_worker.tables import TableRef

FramingKind = Literal["json_lines", "json_array", "csv"]
Compression = Literal["none", "gzip", "lz4"]
GroupCommit = Literal["off", "sync", "async"]

_TRUE = "true"


@dataclass(frozen=True)
class LoadOptions:
    """The typed load settings a dialect turns into headers (from ``spec.load`` and ``spec.deletes``).

    ``properties`` are the user's ``sink.properties.*``; they are sent as headers (keys lowercased) and
    override the defaults built from the typed fields, as in both connectors.
    """

    format: Literal["json", "csv"] = "json"
    compression: Compression = "none"
    properties: Mapping[str, str] = field(default_factory=dict)
    two_phase_commit: bool = False
    group_commit: GroupCommit = "off"
    max_filter_ratio: float | None = None
    deletes: bool = False


@dataclass(frozen=True)
class Framing:
    """How rows are put together into one body, as the headers announce it."""

    kind: FramingKind
    row_delimiter: bytes = b"\n"
    # StarRocks wants the delimiter after the last CSV row too (so chunks can be concatenated).
    trailing_delimiter: bool = False


class Dialect(Protocol):
    """What a database flavor decides on the Stream Load wire. Implementations are pure."""

    name: str
    label_pattern: re.Pattern[str]
    max_label_length: int
    #: path (with query) listing live BEs for direct-to-BE loads; None when the flavor has none
    backends_path: str | None

    def stream_load_path(self, table: TableRef) -> str:
        """``/api/{db}/{table}/_stream_load``."""
        ...

    def two_phase_path(self, table: TableRef) -> str | None:
        """Where a pre-committed Stream Load is committed/aborted (Doris ``_stream_load_2pc``); None
        when two-phase loads use the transaction API instead."""
        ...

    def transaction_path(self, op: str) -> str | None:
        """Path of a transaction API call (``begin``, ``load``, ``prepare``, ``commit``, ``rollback``;
        StarRocks); None when the flavor has no transaction API."""
        ...

    def label_state_path(self, database: str, label: str) -> str:
        """``GET`` path answering the state of a label's transaction."""
        ...

    def load_headers(self, options: LoadOptions, label: str | None) -> dict[str, str]:
        """Every header of a Stream Load PUT except ``Authorization``.

        ``label`` is left out when the options make the server generate one (group/merge commit).
        """
        ...

    def sends_label(self, headers: Mapping[str, str]) -> bool:
        """Whether a load with these headers may carry a label (false under group/merge commit)."""
        ...

    def framing(self, headers: Mapping[str, str]) -> Framing:
        """How to frame rows so the server parses them as these headers say."""
        ...

    def compression(self, headers: Mapping[str, str]) -> Compression:
        """Which compression the body must have to match these headers.

        Raises ``ValueError`` naming the header for a codec olapsink cannot produce.
        """
        ...

    def classify(
        self, http_status: int, content: bytes, label: str, *, retry_after: float | None = None
    ) -> Reply:
        """Classify a final Stream Load reply (see ``replies.classify_reply``)."""
        ...


def parse_delimiter(value: str) -> bytes:
    r"""A delimiter header value as bytes: ``\xHH…`` hex, the escapes ``\n \r \t``, or the literal text."""
    if value.lower().startswith("\\x") and len(value) > 2:
        try:
            return bytes.fromhex(value[2:])
        except ValueError:
            pass
    escaped = value.replace("\\n", "\n").replace("\\r", "\r").replace("\\t", "\t")
    return escaped.encode("utf-8")


def _is_true(headers: Mapping[str, str], key: str) -> bool:
    return headers.get(key, "").strip().lower() == _TRUE


def _user_headers(options: LoadOptions) -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in options.properties.items()}


def _format_ratio(ratio: float) -> str:
    return repr(float(ratio)).rstrip("0").rstrip(".") if ratio else "0"


def _table_path(table: TableRef, action: str) -> str:
    # Names are quoted: a table named by a record field must not change the path (``/``) or the query (``?``).
    return f"/api/{quote(table.database, safe='')}/{quote(table.table, safe='')}/{action}"


class _PlainStreamLoad:
    """What both dialects share: the Stream Load and label-state paths and reply classification."""

    def stream_load_path(self, table: TableRef) -> str:
        return _table_path(table, "_stream_load")

    def label_state_path(self, database: str, label: str) -> str:
        return f"/api/{quote(database, safe='')}/get_load_state?label={quote(label, safe='')}"

    def classify(
        self, http_status: int, content: bytes, label: str, *, retry_after: float | None = None
    ) -> Reply:
        return classify_reply(http_status, content, label, retry_after=retry_after)


class DorisDialect(_PlainStreamLoad):
    """Apache Doris: JSON lines (``read_json_by_line``), ``compress_type``, 2PC header, group commit."""

    name = "doris"
    label_pattern = re.compile(r"^[-_A-Za-z0-9:]{1,128}$")
    max_label_length = 128
    backends_path: str | None = "/api/backends?is_alive=true"

    _codecs: Mapping[str, Compression] = {"": "none", "gz": "gzip", "gzip": "gzip", "lz4": "lz4"}

    def two_phase_path(self, table: TableRef) -> str | None:
        return _table_path(table, "_stream_load_2pc")

    def transaction_path(self, op: str) -> str | None:
        return None

    def load_headers(self, options: LoadOptions, label: str | None) -> dict[str, str]:
        headers: dict[str, str] = {"format": options.format}
        if options.format == "json":
            headers["read_json_by_line"] = _TRUE
        if options.compression == "gzip":
            headers["compress_type"] = "gz"
        elif options.compression == "lz4":
            headers["compress_type"] = "lz4"
        if options.deletes:
            headers["hidden_columns"] = "__DORIS_DELETE_SIGN__"
        if options.max_filter_ratio is not None:
            headers["max_filter_ratio"] = _format_ratio(options.max_filter_ratio)
        if options.group_commit != "off":
            headers["group_commit"] = f"{options.group_commit}_mode"
        headers["two_phase_commit"] = _TRUE if options.two_phase_commit else "false"
        user = _user_headers(options)
        if (
            options.format == "json"
            and _is_true(user, "strip_outer_array")
            and "read_json_by_line" not in user
        ):
            del headers["read_json_by_line"]  # the user asked for one JSON array per body
        headers.update(user)
        if headers.get("format", "json").lower() == "json" and not (
            _is_true(headers, "read_json_by_line") or _is_true(headers, "strip_outer_array")
        ):
            headers["read_json_by_line"] = _TRUE  # else Doris reads only the first row of a batch
        if not self.sends_label(headers):
            # Doris rejects a label (and ignores 2PC) under group commit; the server names the batch.
            headers.pop("two_phase_commit", None)
        elif label is not None:
            headers["label"] = label
        headers["Expect"] = "100-continue"
        return headers

    def sends_label(self, headers: Mapping[str, str]) -> bool:
        return headers.get("group_commit", "off_mode").strip().lower() in ("", "off_mode", "off")

    def framing(self, headers: Mapping[str, str]) -> Framing:
        fmt = headers.get("format", "csv").strip().lower()
        if fmt.startswith("csv"):
            return Framing("csv", parse_delimiter(headers.get("line_delimiter", "\n")))
        if _is_true(headers, "read_json_by_line"):
            return Framing("json_lines")
        return Framing("json_array")

    def compression(self, headers: Mapping[str, str]) -> Compression:
        value = headers.get("compress_type", "").strip().lower()
        if value not in self._codecs:
            raise ValueError(f"compress_type {value!r} is not supported by olapsink; use gz, lz4 or none")
        return self._codecs[value]


class StarRocksDialect(_PlainStreamLoad):
    """StarRocks: JSON array (``strip_outer_array``), ``compression`` for JSON, compressed CSV formats."""

    name = "starrocks"
    label_pattern = re.compile(r"^[-\w]{1,128}$", re.ASCII)
    max_label_length = 128
    backends_path: str | None = None

    _json_codecs: Mapping[str, Compression] = {"": "none", "gzip": "gzip", "lz4_frame": "lz4"}
    _csv_formats: Mapping[str, Compression] = {"csv": "none", "gzip": "gzip", "lz4": "lz4"}

    def two_phase_path(self, table: TableRef) -> str | None:
        return None

    def transaction_path(self, op: str) -> str | None:
        return f"/api/transaction/{op}"

    def load_headers(self, options: LoadOptions, label: str | None) -> dict[str, str]:
        headers: dict[str, str] = {"format": options.format}
        if options.format == "json":
            headers["strip_outer_array"] = _TRUE
            if options.compression != "none":
                headers["compression"] = {"gzip": "gzip", "lz4": "lz4_frame"}[options.compression]
        elif options.compression != "none":
            headers["format"] = {"gzip": "gzip", "lz4": "lz4"}[options.compression]
        if options.max_filter_ratio is not None:
            headers["max_filter_ratio"] = _format_ratio(options.max_filter_ratio)
        if options.group_commit != "off":
            # StarRocks' counterpart of Doris group commit is merge commit (3.4+).
            headers["enable_merge_commit"] = _TRUE
            headers["merge_commit_async"] = _TRUE if options.group_commit == "async" else "false"
            headers["merge_commit_interval_ms"] = "1000"
        headers.update(_user_headers(options))
        if self.sends_label(headers) and label is not None:
            headers["label"] = label
        headers["Expect"] = "100-continue"
        return headers

    def sends_label(self, headers: Mapping[str, str]) -> bool:
        return not _is_true(headers, "enable_merge_commit")

    def framing(self, headers: Mapping[str, str]) -> Framing:
        fmt = headers.get("format", "csv").strip().lower()
        if fmt in self._csv_formats:
            return Framing(
                "csv", parse_delimiter(headers.get("row_delimiter", "\n")), trailing_delimiter=True
            )
        if _is_true(headers, "strip_outer_array"):
            return Framing("json_array")
        return Framing("json_lines")  # StarRocks reads a stream of JSON objects without the array

    def compression(self, headers: Mapping[str, str]) -> Compression:
        fmt = headers.get("format", "csv").strip().lower()
        if fmt != "json":
            if fmt not in self._csv_formats:
                raise ValueError(f"format {fmt!r} is not supported by olapsink; use json, csv, gzip or lz4")
            return self._csv_formats[fmt]
        value = headers.get("compression", headers.get("content-encoding", "")).strip().lower()
        if value not in self._json_codecs:
            raise ValueError(f"compression {value!r} is not supported by olapsink; use gzip or lz4_frame")
        return self._json_codecs[value]


DORIS: Dialect = DorisDialect()
STARROCKS: Dialect = StarRocksDialect()


def dialect_for(flavor: str) -> Dialect:
    """The dialect of a sink flavor (``sink.flavor``): ``doris`` or ``starrocks``."""
    try:
        return {"doris": DORIS, "starrocks": STARROCKS}[flavor.lower()]
    except KeyError:
        raise ValueError(f"unknown sink flavor {flavor!r}; expected 'doris' or 'starrocks'") from None
