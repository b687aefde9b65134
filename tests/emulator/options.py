"""Stream Load request headers parsed into one `LoadOptions` value (pure; no I/O).

A header the emulator does not emulate but a real server honours (e.g. `where`) is rejected with a
message saying so, so a test never passes because a header was silently ignored.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tests.emulator.dialects import Dialect, Flavor

DELETE_SIGN = "__DORIS_DELETE_SIGN__"
OP_COLUMN = "__op"

UNSUPPORTED_HEADERS = (
    "where",
    "json_root",
    "csv_with_names",
    "skip_lines",
    "skip_header",
    "enclose",
    "escape",
)


class LoadRejected(Exception):
    """The load is refused as a whole; `message` is the reply's Message, already dialect-formatted."""

    def __init__(self, message: str, code: str = "INVALID_ARGUMENT") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass(frozen=True)
class ColumnMapping:
    """One entry of the `columns` header: `target` gets a source column's value or a constant."""

    target: str
    source: str | None = None  # a source field name
    constant: Any = None
    is_constant: bool = False


@dataclass(frozen=True)
class DeleteCondition:
    """`delete: col=literal` (Doris merge_type MERGE)."""

    column: str
    value: str


@dataclass
class LoadOptions:
    label: str | None = None
    format: str = "csv"
    compression: str | None = None  # gzip | lz4 | deflate | bzip2
    read_json_by_line: bool = False
    strip_outer_array: bool = False
    jsonpaths: list[str] | None = None
    columns: list[ColumnMapping] | None = None
    column_separator: bytes = b"\t"
    row_delimiter: bytes = b"\n"
    max_filter_ratio: float = 0.0
    strict_mode: bool = False
    partial_update: bool = False
    merge_type: str = "APPEND"
    delete_condition: DeleteCondition | None = None
    hidden_delete_sign: bool = False
    sequence_col: str | None = None
    merge_condition: str | None = None
    two_phase_commit: bool = False
    group_commit: str | None = None
    timeout: float = 600.0
    ignore_json_size: bool = False  # StarRocks
    extra: dict[str, str] = field(default_factory=dict)


def parse_bool(headers: Mapping[str, str], name: str, dialect: Dialect, what: str) -> bool:
    raw = headers.get(name)
    if raw is None or raw == "":
        return False
    value = raw.strip().lower()
    if value in ("true", "false"):
        return value == "true"
    raise LoadRejected(dialect.message("INVALID_ARGUMENT", f"Invalid {what} format. Must be bool type"))


def parse_delimiter(raw: str) -> bytes:
    """`\\xNN..` hex form or a literal; `\\t` and `\\n` escapes as the servers accept them."""
    if raw.lower().startswith("\\x") and len(raw) > 2:
        return bytes.fromhex(raw[2:])
    return raw.replace("\\t", "\t").replace("\\n", "\n").replace("\\r", "\r").encode()


def split_top_level(text: str, sep: str = ",") -> list[str]:
    parts: list[str] = []
    depth = 0
    quote: str | None = None
    current: list[str] = []
    for ch in text:
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"`":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append("".join(current).strip())
            current = []
            continue
        current.append(ch)
    parts.append("".join(current).strip())
    return [p for p in parts if p]


_IDENT = re.compile(r"^`?([A-Za-z_][A-Za-z0-9_$]*)`?$")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def parse_literal(expr: str) -> tuple[bool, Any]:
    """(True, value) for a numeric or quoted literal, else (False, None)."""
    if _NUMBER.match(expr):
        return True, (float(expr) if "." in expr else int(expr))
    if len(expr) >= 2 and expr[0] == expr[-1] and expr[0] in "'\"":
        return True, expr[1:-1]
    return False, None


def parse_columns(raw: str, dialect: Dialect) -> list[ColumnMapping]:
    mappings: list[ColumnMapping] = []
    for item in split_top_level(raw):
        if "=" in item:
            target, expr = (s.strip() for s in item.split("=", 1))
            name = _IDENT.match(target)
            if not name:
                raise LoadRejected(
                    dialect.message("INVALID_ARGUMENT", f"columns: bad column name {target!r}")
                )
            is_lit, value = parse_literal(expr)
            if is_lit:
                mappings.append(ColumnMapping(name.group(1), constant=value, is_constant=True))
                continue
            source = _IDENT.match(expr)
            if not source:
                raise LoadRejected(
                    dialect.message(
                        "NOT_IMPLEMENTED_ERROR",
                        f"emulator: columns expression {expr!r} is not emulated; only a source column "
                        "or a literal may follow '='",
                    )
                )
            mappings.append(ColumnMapping(name.group(1), source=source.group(1)))
        else:
            name = _IDENT.match(item)
            if not name:
                raise LoadRejected(dialect.message("INVALID_ARGUMENT", f"columns: bad column name {item!r}"))
            mappings.append(ColumnMapping(name.group(1), source=name.group(1)))
    return mappings


def parse_compression(headers: Mapping[str, str], dialect: Dialect) -> str | None:
    encoding = (headers.get("content-encoding") or "").strip().lower() or None
    aliases = {
        "gz": "gzip",
        "gzip": "gzip",
        "lz4": "lz4",
        "lz4frame": "lz4",
        "lz4_frame": "lz4",
        "deflate": "deflate",
        "bz2": "bzip2",
        "bzip2": "bzip2",
    }
    if dialect.flavor is Flavor.DORIS:
        declared = (headers.get("compress_type") or "").strip().lower() or None
        # The Doris connector sends both compress_type: gz and Content-Encoding: gzip for one gzip layer.
        if declared and encoding and aliases.get(declared) != aliases.get(encoding):
            raise LoadRejected(
                dialect.message("INVALID_ARGUMENT", "compress_type and Content-Encoding differ")
            )
        chosen = declared or encoding
    else:
        declared = (headers.get("compression") or "").strip().lower() or None
        if declared and encoding:
            raise LoadRejected("compression and Content-Encoding can not be set at the same time")
        chosen = declared or encoding
    if chosen is None:
        return None
    if chosen not in aliases:
        raise LoadRejected(dialect.message("INVALID_ARGUMENT", f"unknown compression type: {chosen}"))
    return aliases[chosen]


def parse_options(headers: Mapping[str, str], dialect: Dialect) -> LoadOptions:
    """Read the load headers (keys lower-case) the way the dialect's BE does."""
    for name in UNSUPPORTED_HEADERS:
        if headers.get(name):
            raise LoadRejected(
                dialect.message("NOT_IMPLEMENTED_ERROR", f"emulator: header {name!r} is not emulated")
            )
    opts = LoadOptions()
    opts.label = headers.get("label") or None
    fmt = (headers.get("format") or "csv").strip().lower()
    opts.compression = parse_compression(headers, dialect)
    if dialect.flavor is Flavor.STARROCKS and fmt in ("gzip", "lz4", "deflate", "bzip2"):
        # StarRocks names a compressed CSV body by its format.
        opts.compression, fmt = (
            {"gzip": "gzip", "lz4": "lz4", "deflate": "deflate", "bzip2": "bzip2"}[fmt],
            "csv",
        )
    if fmt not in ("csv", "json"):
        raise LoadRejected(
            dialect.message("NOT_IMPLEMENTED_ERROR", f"emulator: format {fmt!r} is not emulated")
        )
    opts.format = fmt
    opts.strip_outer_array = parse_bool(headers, "strip_outer_array", dialect, "strip_outer_array")
    if dialect.flavor is Flavor.DORIS:
        opts.read_json_by_line = parse_bool(headers, "read_json_by_line", dialect, "read_json_by_line")
    if headers.get("jsonpaths"):
        try:
            paths = json.loads(headers["jsonpaths"])
        except ValueError as exc:
            raise LoadRejected(dialect.message("INVALID_ARGUMENT", f"Invalid jsonpaths: {exc}")) from exc
        if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
            raise LoadRejected(
                dialect.message("INVALID_ARGUMENT", "Invalid jsonpaths: must be a JSON array of strings")
            )
        opts.jsonpaths = paths
    if headers.get("columns"):
        opts.columns = parse_columns(headers["columns"], dialect)
    if headers.get("column_separator"):
        opts.column_separator = parse_delimiter(headers["column_separator"])
    if headers.get(dialect.row_delimiter_header):
        opts.row_delimiter = parse_delimiter(headers[dialect.row_delimiter_header])
    if headers.get("max_filter_ratio"):
        try:
            opts.max_filter_ratio = float(headers["max_filter_ratio"])
        except ValueError as exc:
            raise LoadRejected(dialect.message("INVALID_ARGUMENT", "Invalid max_filter_ratio")) from exc
    opts.strict_mode = parse_bool(headers, "strict_mode", dialect, "strict mode")
    opts.partial_update = parse_bool(
        headers, dialect.partial_update_header, dialect, dialect.partial_update_header
    )
    if headers.get("timeout"):
        try:
            opts.timeout = float(headers["timeout"])
        except ValueError as exc:
            raise LoadRejected(dialect.message("INVALID_ARGUMENT", "Invalid timeout format")) from exc
    if dialect.flavor is Flavor.DORIS:
        parse_doris_only(headers, dialect, opts)
    else:
        opts.merge_condition = headers.get("merge_condition") or None
        opts.ignore_json_size = parse_bool(headers, "ignore_json_size", dialect, "ignore_json_size")
    return opts


def parse_doris_only(headers: Mapping[str, str], dialect: Dialect, opts: LoadOptions) -> None:
    merge_type = (headers.get("merge_type") or "APPEND").strip().upper()
    if merge_type not in ("APPEND", "DELETE", "MERGE"):
        raise LoadRejected(dialect.message("INVALID_ARGUMENT", f"Invalid merge type {merge_type}"))
    opts.merge_type = merge_type
    if headers.get("delete"):
        if merge_type != "MERGE":
            raise LoadRejected(
                dialect.message(
                    "INVALID_ARGUMENT", "not support DELETE ON clause when merge type is not MERGE."
                )
            )
        cond = headers["delete"].strip()
        left, sep, right = cond.partition("=")
        is_lit, value = parse_literal(right.strip())
        name = _IDENT.match(left.strip())
        if not sep or not name or not is_lit:
            raise LoadRejected(
                dialect.message(
                    "NOT_IMPLEMENTED_ERROR",
                    f"emulator: delete condition {cond!r} is not emulated; use col=literal",
                )
            )
        opts.delete_condition = DeleteCondition(name.group(1), str(value))
    elif merge_type == "MERGE":
        raise LoadRejected(
            dialect.message("INVALID_ARGUMENT", "Excepted DELETE ON clause when merge type is MERGE.")
        )
    hidden = [h.strip() for h in (headers.get("hidden_columns") or "").split(",") if h.strip()]
    # hidden_columns "takes effect when the Header does not include columns".
    opts.hidden_delete_sign = DELETE_SIGN in hidden and opts.columns is None
    opts.sequence_col = headers.get("function_column.sequence_col") or None
    opts.two_phase_commit = (headers.get("two_phase_commit") or "").strip().lower() == "true"
    group_commit = (headers.get("group_commit") or "").strip()
    if group_commit:
        if group_commit not in ("off_mode", "sync_mode", "async_mode"):
            raise LoadRejected(
                dialect.message(
                    "INVALID_ARGUMENT", "group_commit can only be [async_mode, sync_mode, off_mode]"
                )
            )
        opts.group_commit = None if group_commit == "off_mode" else group_commit
