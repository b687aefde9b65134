"""Dialects: the headers each database gets, and bodies framed and compressed as those headers say."""

from __future__ import annotations

import gzip

import lz4.frame
import pytest
from olapsink_worker.load import DORIS, STARROCKS, Framing, LoadOptions, dialect_for, frame_rows
from olapsink_worker.load.compression import compress
from olapsink_worker.load.dialect import parse_delimiter
from olapsink_worker.tables import TableRef

ROWS = [b'{"id":1}', b'{"id":2}', b'{"id":3}']


def test_stream_load_path_names_database_and_table() -> None:
    table = TableRef("test_db", "orders")
    assert DORIS.stream_load_path(table) == "/api/test_db/orders/_stream_load"
    assert STARROCKS.stream_load_path(table) == "/api/test_db/orders/_stream_load"


def test_dialect_for_knows_both_flavors_and_refuses_others() -> None:
    assert dialect_for("doris") is DORIS
    assert dialect_for("StarRocks") is STARROCKS
    with pytest.raises(ValueError, match="clickhouse"):
        dialect_for("clickhouse")


def test_doris_defaults_json_lines_with_label_and_expect() -> None:
    headers = DORIS.load_headers(LoadOptions(), "lbl-1")
    assert headers == {
        "format": "json",
        "read_json_by_line": "true",
        "two_phase_commit": "false",
        "label": "lbl-1",
        "Expect": "100-continue",
    }
    assert DORIS.framing(headers) == Framing("json_lines")
    assert DORIS.compression(headers) == "none"


def test_doris_gzip_lz4_deletes_ratio_and_2pc_headers() -> None:
    gz = DORIS.load_headers(
        LoadOptions(compression="gzip", deletes=True, max_filter_ratio=0.1, two_phase_commit=True), "l"
    )
    assert gz["compress_type"] == "gz"
    assert gz["hidden_columns"] == "__DORIS_DELETE_SIGN__"
    assert gz["max_filter_ratio"] == "0.1"
    assert gz["two_phase_commit"] == "true"
    assert DORIS.compression(gz) == "gzip"
    lz = DORIS.load_headers(LoadOptions(compression="lz4"), "l")
    assert lz["compress_type"] == "lz4"
    assert DORIS.compression(lz) == "lz4"


def test_user_properties_are_lowercased_and_override_defaults() -> None:
    headers = DORIS.load_headers(
        LoadOptions(
            properties={
                "Strict_Mode": "true",
                "COLUMNS": "id,name",
                "read_json_by_line": "false",
                "strip_outer_array": "true",
            }
        ),
        "l",
    )
    assert headers["strict_mode"] == "true"
    assert headers["columns"] == "id,name"
    assert "Strict_Mode" not in headers
    assert headers["read_json_by_line"] == "false"
    assert DORIS.framing(headers) == Framing("json_array")


def test_doris_strip_outer_array_alone_switches_to_a_json_array() -> None:
    headers = DORIS.load_headers(LoadOptions(properties={"strip_outer_array": "true"}), "l")
    assert "read_json_by_line" not in headers
    assert DORIS.framing(headers) == Framing("json_array")


def test_doris_never_sends_json_that_would_load_only_the_first_row() -> None:
    headers = DORIS.load_headers(LoadOptions(properties={"read_json_by_line": "false"}), "l")
    assert headers["read_json_by_line"] == "true"


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_doris_group_commit_drops_label_and_2pc(mode: str) -> None:
    headers = DORIS.load_headers(LoadOptions(group_commit=mode), "lbl")  # type: ignore[arg-type]
    assert headers["group_commit"] == f"{mode}_mode"
    assert "label" not in headers
    assert "two_phase_commit" not in headers
    assert not DORIS.sends_label(headers)


def test_doris_csv_uses_line_delimiter_without_trailing_one() -> None:
    headers = DORIS.load_headers(
        LoadOptions(format="csv", properties={"column_separator": ",", "line_delimiter": "\\x02"}), "l"
    )
    assert "read_json_by_line" not in headers
    framing = DORIS.framing(headers)
    assert framing == Framing("csv", b"\x02")
    assert frame_rows([b"1,a", b"2,b"], framing) == b"1,a\x022,b"


def test_starrocks_defaults_json_array() -> None:
    headers = STARROCKS.load_headers(LoadOptions(), "lbl-1")
    assert headers == {
        "format": "json",
        "strip_outer_array": "true",
        "label": "lbl-1",
        "Expect": "100-continue",
    }
    assert STARROCKS.framing(headers) == Framing("json_array")
    assert frame_rows(ROWS, STARROCKS.framing(headers)) == b'[{"id":1},{"id":2},{"id":3}]'


def test_starrocks_without_strip_outer_array_gets_json_lines() -> None:
    headers = STARROCKS.load_headers(LoadOptions(properties={"strip_outer_array": "false"}), "l")
    assert STARROCKS.framing(headers) == Framing("json_lines")


def test_starrocks_json_compression_header() -> None:
    lz = STARROCKS.load_headers(LoadOptions(compression="lz4"), "l")
    assert lz["compression"] == "lz4_frame"
    assert lz["format"] == "json"
    assert STARROCKS.compression(lz) == "lz4"
    gz = STARROCKS.load_headers(LoadOptions(compression="gzip"), "l")
    assert STARROCKS.compression(gz) == "gzip"


def test_starrocks_compressed_csv_is_announced_in_format() -> None:
    headers = STARROCKS.load_headers(LoadOptions(format="csv", compression="lz4"), "l")
    assert headers["format"] == "lz4"
    assert STARROCKS.compression(headers) == "lz4"
    framing = STARROCKS.framing(headers)
    assert framing == Framing("csv", b"\n", trailing_delimiter=True)
    assert frame_rows([b"1\ta", b"2\tb"], framing) == b"1\ta\n2\tb\n"


def test_starrocks_merge_commit_drops_label() -> None:
    headers = STARROCKS.load_headers(LoadOptions(properties={"enable_merge_commit": "true"}), "l")
    assert "label" not in headers


@pytest.mark.parametrize(
    ("dialect", "headers"),
    [
        (DORIS, {"format": "csv", "compress_type": "bz2"}),
        (STARROCKS, {"format": "json", "compression": "zstd"}),
    ],
)
def test_unsupported_codecs_are_refused_by_name(dialect: object, headers: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="not supported"):
        dialect.compression(headers)  # type: ignore[attr-defined]


def test_json_lines_framing_has_no_trailing_newline() -> None:
    assert frame_rows(ROWS, Framing("json_lines")) == b'{"id":1}\n{"id":2}\n{"id":3}'


def test_empty_batch_frames_to_empty_array() -> None:
    assert frame_rows([], Framing("json_array")) == b"[]"
    assert frame_rows([], Framing("csv", trailing_delimiter=True)) == b""


@pytest.mark.parametrize(
    ("value", "expected"), [("\\x01", b"\x01"), ("\\n", b"\n"), ("|", b"|"), ("\\x0d0a", b"\r\n")]
)
def test_parse_delimiter(value: str, expected: bytes) -> None:
    assert parse_delimiter(value) == expected


def test_compress_round_trips() -> None:
    body = b"\n".join(ROWS) * 100
    assert compress(body, "none") is body
    assert gzip.decompress(compress(body, "gzip")) == body
    assert lz4.frame.decompress(compress(body, "lz4")) == body
    assert len(compress(body, "gzip")) < len(body)


def test_two_phase_and_transaction_paths_say_which_api_a_flavor_has() -> None:
    table = TableRef("db", "t")
    assert DORIS.two_phase_path(table) == "/api/db/t/_stream_load_2pc"
    assert DORIS.transaction_path("begin") is None
    assert STARROCKS.two_phase_path(table) is None
    assert STARROCKS.transaction_path("prepare") == "/api/transaction/prepare"
    assert DORIS.label_state_path("db", "a b") == "/api/db/get_load_state?label=a%20b"


def test_table_names_from_records_cannot_change_the_path() -> None:
    table = TableRef("db", "a/b?x=1")
    assert DORIS.stream_load_path(table) == "/api/db/a%2Fb%3Fx%3D1/_stream_load"
    assert STARROCKS.stream_load_path(table) == "/api/db/a%2Fb%3Fx%3D1/_stream_load"
    assert DORIS.two_phase_path(table) == "/api/db/a%2Fb%3Fx%3D1/_stream_load_2pc"
