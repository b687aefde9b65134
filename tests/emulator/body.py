"""Stream Load bodies: decompression and framing into source records (pure; no I/O).

A record is either parsed (a dict of source fields) or rejected with the reason a real BE gives, plus the
raw text for the error log. `count_rows` is the count-only path: it checks the framing with msgspec
(which validates JSON without building Python objects) and counts rows.
"""

from __future__ import annotations

import bz2
import gzip
import json
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import lz4.frame
import msgspec

from tests.emulator.dialects import Dialect, Flavor
from tests.emulator.options import LoadOptions, LoadRejected

# A load's body as read_body gives it (a bytearray when it was read into one buffer), or decompressed.
Body = bytes | bytearray


@dataclass
class SourceRecord:
    fields: dict[str, Any] | None
    raw: str
    error: str | None = None


def decompress(data: Body, compression: str | None, dialect: Dialect) -> Body:
    if not compression or not data:
        return data
    try:
        if compression == "gzip":
            return gzip.decompress(data)
        if compression == "lz4":
            return bytes(lz4.frame.decompress(data))
        if compression == "deflate":
            return zlib.decompress(data)
        if compression == "bzip2":
            return bz2.decompress(data)
    except Exception as exc:
        raise LoadRejected(
            dialect.message("INTERNAL_ERROR", f"failed to decompress {compression} body: {exc}")
        ) from exc
    raise LoadRejected(dialect.message("INVALID_ARGUMENT", f"unknown compression {compression}"))


def split_rows(data: Body, delimiter: bytes) -> list[bytes] | list[bytearray]:
    """Rows separated (or terminated) by `delimiter`; one trailing delimiter ends the last row."""
    rows = data.split(delimiter)
    if rows and rows[-1] == b"":
        rows.pop()
    return rows


def split_carry(data: bytes, delimiter: bytes) -> tuple[bytes, bytes]:
    """(complete rows, unterminated tail): a StarRocks transaction joins a load's tail to the next load."""
    if not data or data.endswith(delimiter):
        return data, b""
    cut = data.rfind(delimiter)
    if cut < 0:
        return b"", data
    return data[: cut + len(delimiter)], data[cut + len(delimiter) :]


def iter_json_documents(text: str) -> Iterator[tuple[Any, str, str | None]]:
    """(document, raw, error) for a stream of concatenated or newline-separated JSON documents."""
    decoder = json.JSONDecoder()
    pos, end = 0, len(text)
    while True:
        while pos < end and text[pos] in " \t\r\n":
            pos += 1
        if pos >= end:
            return
        try:
            doc, next_pos = decoder.raw_decode(text, pos)
        except ValueError as exc:
            yield None, text[pos : pos + 200], f"Parse json data failed: {exc.args[0]}"
            return
        yield doc, text[pos:next_pos], None
        pos = next_pos


_ANY = msgspec.json.Decoder()


def _json_lines(data: Body) -> list[tuple[Any, str, str | None]] | None:
    """Each non-blank line decoded as one document (msgspec: fast); None if a line is not one document."""
    docs: list[tuple[Any, str, str | None]] = []
    for line in data.split(b"\n"):
        if not line.strip():
            continue
        try:
            docs.append((_ANY.decode(line), line.decode("utf-8", errors="replace"), None))
        except msgspec.DecodeError as exc:
            docs.append((None, line.decode("utf-8", errors="replace"), str(exc)))
    return None if any(error for _, _, error in docs) else docs


def _documents(data: Body, opts: LoadOptions, dialect: Dialect) -> Iterator[tuple[Any, str, str | None]]:
    if dialect.flavor is Flavor.DORIS and opts.read_json_by_line:
        for line in data.split(b"\n"):
            if not line.strip():
                continue
            text = line.decode("utf-8", errors="replace")
            try:
                yield _ANY.decode(line), text, None
            except msgspec.DecodeError as exc:
                yield None, text, f"Parse json data for JsonDoc failed. code: 3, error info: {exc}"
        return
    text = data.decode("utf-8", errors="replace")
    if dialect.flavor is Flavor.DORIS:
        # Without read_json_by_line Doris reads the whole body as one JSON document.
        try:
            yield json.loads(text), text[:200], None
        except ValueError as exc:
            yield None, text[:200], f"Parse json data for JsonDoc failed. code: 3, error info: {exc.args[0]}"
        return
    # StarRocks reads a stream of documents: NDJSON (fast path), or concatenated / multi-line documents.
    lines = _json_lines(data)
    yield from lines if lines is not None else iter_json_documents(text)


def json_records(data: Body, opts: LoadOptions, dialect: Dialect) -> list[SourceRecord]:
    records: list[SourceRecord] = []
    for doc, raw, error in _documents(data, opts, dialect):
        if error is not None:
            records.append(SourceRecord(None, raw, error))
        elif opts.strip_outer_array:
            if not isinstance(doc, list):
                records.append(
                    SourceRecord(
                        None, raw, "JSON data is not an array-object, strip_outer_array must be FALSE."
                    )
                )
                continue
            for item in doc:
                records.append(_object_record(item, json.dumps(item, ensure_ascii=False), dialect))
        elif isinstance(doc, list):
            reason = (
                "JSON data is array-object, `strip_outer_array` must be TRUE."
                if dialect.flavor is Flavor.DORIS
                else "the value should be object type in json document stream"
            )
            records.append(SourceRecord(None, raw, reason))
        else:
            records.append(_object_record(doc, raw, dialect))
    return records


def _object_record(item: Any, raw: str, dialect: Dialect) -> SourceRecord:
    if isinstance(item, dict):
        return SourceRecord(item, raw)
    return SourceRecord(None, raw, "Expected value to be an object in JSON document")


def csv_records(data: Body, opts: LoadOptions, names: Sequence[str]) -> list[SourceRecord]:
    """CSV rows mapped positionally onto `names`; `\\N` is NULL."""
    records: list[SourceRecord] = []
    for row in split_rows(data, opts.row_delimiter):
        raw = row.decode("utf-8", errors="replace")
        fields = raw.split(opts.column_separator.decode())
        if len(fields) != len(names):
            which = "less" if len(fields) < len(names) else "more"
            records.append(
                SourceRecord(
                    None,
                    raw,
                    f"actual column number in csv file is {which} than schema column number."
                    f"actual number: {len(fields)}, column separator: [{opts.column_separator.decode()!r}], "
                    f"line delimiter: [{opts.row_delimiter.decode()!r}], schema column number: {len(names)}",
                )
            )
            continue
        records.append(
            SourceRecord({n: (None if v == "\\N" else v) for n, v in zip(names, fields, strict=True)}, raw)
        )
    return records


_RAW_LIST = msgspec.json.Decoder(list[msgspec.Raw])
_RAW_ONE = msgspec.json.Decoder(msgspec.Raw)


class _AnyObject(msgspec.Struct, gc=False):
    """Any JSON object: its fields are unknown to the struct, so they are skipped (and still validated)."""


_OBJECT_LINES = msgspec.json.Decoder(_AnyObject)


def count_rows(data: Body, opts: LoadOptions, dialect: Dialect) -> int:
    """Validate the body's framing and count its rows without building row objects (count-only mode)."""
    if opts.format == "csv":
        return len(split_rows(data, opts.row_delimiter))
    try:
        if (dialect.flavor is Flavor.DORIS and opts.read_json_by_line) or (
            dialect.flavor is Flavor.STARROCKS and not opts.strip_outer_array
        ):
            if not opts.strip_outer_array:
                # The common case, all at C speed: msgspec checks that every document is an object while it
                # decodes (a Python check per row cost as much as the decoding). It accepts exactly what the
                # checks below accept; when it refuses, they run to give the same message as always.
                try:
                    return len(_OBJECT_LINES.decode_lines(data))
                except msgspec.DecodeError:
                    pass
            # decode_lines validates every document at C speed without building objects.
            docs = _RAW_ONE.decode_lines(data)
            if not opts.strip_outer_array:
                if not all(memoryview(doc)[:1] == b"{" for doc in docs):
                    raise LoadRejected(
                        dialect.message("DATA_QUALITY_ERROR", "each line must be a JSON object")
                    )
                return len(docs)
            return sum(len(_RAW_LIST.decode(doc)) for doc in docs)
        if opts.strip_outer_array:
            return len(_RAW_LIST.decode(data))
        _RAW_ONE.decode(data)
        return 1
    except msgspec.DecodeError as exc:
        raise LoadRejected(dialect.message("DATA_QUALITY_ERROR", f"Parse json data failed: {exc}")) from exc
