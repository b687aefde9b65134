"""The emulator's pure parts, without a server: headers, framing, value conversion, DDL, faults."""

from __future__ import annotations

import datetime as dt
import decimal

import pytest

from tests.emulator.body import count_rows, csv_records, json_records, split_rows
from tests.emulator.dialects import DORIS, STARROCKS
from tests.emulator.faults import FaultBook, parse_rule
from tests.emulator.options import LoadRejected, parse_delimiter, parse_options
from tests.emulator.rows import FAIL, TOO_LONG, convert
from tests.emulator.tables import Column, TableError, create_table_sql, parse_create_table


def col(data_type: str, column_type: str | None = None, **kw: object) -> Column:
    return Column("c", data_type, column_type or data_type, True, True, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "column", "expected"),
    [
        ("12", col("int"), 12),
        (12.5, col("int"), FAIL),
        (2**40, col("int"), None),  # out of range: NULL whatever strict_mode says
        (True, col("tinyint", "tinyint(1)"), 1),
        ("abc", col("int"), FAIL),
        ("1.005", col("decimal", precision=5, scale=2), decimal.Decimal("1.01")),
        (123456, col("decimal", precision=5, scale=2), None),
        ("héllo", col("varchar", char_length=5), TOO_LONG),  # bytes, not characters
        (7, col("varchar", char_length=5), "7"),
        ({"a": 1}, col("longtext"), '{"a":1}'),
        ("2026-11-21 06:01:02.5", col("datetime"), dt.datetime(2026, 11, 21, 6, 1, 2, 500000)),
        ("2026-11-21", col("date"), dt.date(2026, 11, 21)),
        (1763704800000, col("datetime"), FAIL),  # epoch millis do not parse (starrocks.md §4.1)
        ("not json", col("json"), FAIL),
    ],
)
def test_convert(value: object, column: Column, expected: object) -> None:
    assert convert(value, column) == expected


def test_headers_are_read_per_dialect() -> None:
    headers = {
        "format": "json",
        "read_json_by_line": "true",
        "line_delimiter": "\\x01",
        "row_delimiter": "|",
        "partial_columns": "true",
        "partial_update": "false",
        "compress_type": "gz",
    }
    doris, starrocks = parse_options(headers, DORIS), parse_options(headers, STARROCKS)
    assert (doris.read_json_by_line, doris.row_delimiter, doris.partial_update, doris.compression) == (
        True,
        b"\x01",
        True,
        "gzip",
    )
    assert (
        starrocks.read_json_by_line,
        starrocks.row_delimiter,
        starrocks.partial_update,
        starrocks.compression,
    ) == (
        False,
        b"|",
        False,
        None,
    )


def test_starrocks_refuses_compression_and_content_encoding_together() -> None:
    with pytest.raises(LoadRejected, match="can not be set at the same time"):
        parse_options({"compression": "lz4_frame", "content-encoding": "gzip"}, STARROCKS)


def test_columns_header_mappings() -> None:
    opts = parse_options({"columns": "id, name, tmp, __op = tmp, tag='x', n=5"}, STARROCKS)
    assert opts.columns is not None
    assert [(m.target, m.source, m.constant) for m in opts.columns] == [
        ("id", "id", None),
        ("name", "name", None),
        ("tmp", "tmp", None),
        ("__op", "tmp", None),
        ("tag", None, "x"),
        ("n", None, 5),
    ]
    with pytest.raises(LoadRejected, match="not emulated"):
        parse_options({"columns": "id, ts=from_unixtime(ts_ms)"}, DORIS)


def test_delimiters() -> None:
    assert parse_delimiter("\\x0102") == b"\x01\x02"
    assert parse_delimiter("\\t") == b"\t"
    assert split_rows(b"a\nb\n", b"\n") == [b"a", b"b"]
    assert split_rows(b"a\nb", b"\n") == [b"a", b"b"]


def test_json_framing_errors_name_the_rule() -> None:
    doris_lines = parse_options({"format": "json", "read_json_by_line": "true"}, DORIS)
    records = json_records(b'{"a":1}\n{oops\n[1]', doris_lines, DORIS)
    assert records[0].fields == {"a": 1}
    assert records[1].error is not None and "Parse json data" in records[1].error
    assert records[2].error is not None and "strip_outer_array" in records[2].error


def test_csv_column_count_mismatch_is_a_filtered_row() -> None:
    opts = parse_options({"column_separator": ","}, DORIS)
    records = csv_records(b"1,a\n2\n", opts, ["id", "name"])
    assert records[0].fields == {"id": "1", "name": "a"}
    assert records[1].error is not None and "less than schema column number" in records[1].error


def test_count_rows_checks_framing() -> None:
    array = parse_options({"format": "json", "strip_outer_array": "true"}, STARROCKS)
    assert count_rows(b'[{"a":1},{"a":2}]', array, STARROCKS) == 2
    with pytest.raises(LoadRejected):
        count_rows(b'[{"a":1},', array, STARROCKS)


def test_create_table_sql_round_trips_through_show_create_table_text() -> None:
    sql = create_table_sql(
        DORIS,
        "d",
        "t",
        "UNIQUE",
        {"id": "BIGINT", "s": "STRING", "v": "VARCHAR(8) NOT NULL"},
        sequence_col="id",
    )
    assert "PRIMARY KEY (`id`)" in sql and "LONGTEXT" in sql
    shown = (
        "CREATE TABLE `t` (\n  `id` bigint(20) NOT NULL,\n  `s` longtext DEFAULT NULL,\n"
        "  `v` varchar(8) NOT NULL,\n  `j` longtext DEFAULT NULL CHECK (json_valid(`j`)),\n"
        "  PRIMARY KEY (`id`)\n) ENGINE=InnoDB COMMENT='" + sql.split("COMMENT='")[1]
    )
    schema = parse_create_table("d", "t", shown)
    assert (schema.model, schema.key, schema.sequence_col) == ("UNIQUE", ["id"], "id")
    assert [(c.name, c.data_type, c.nullable, c.has_default) for c in schema.columns] == [
        ("id", "bigint", False, False),
        ("s", "longtext", True, True),
        ("v", "varchar", False, False),
        ("j", "json", True, True),
    ]
    assert schema.by_name["v"].char_length == 8


def test_create_table_refuses_models_of_the_other_dialect() -> None:
    with pytest.raises(TableError, match="PRIMARY"):
        create_table_sql(DORIS, "d", "t", "PRIMARY", {"id": "INT"})
    with pytest.raises(TableError, match="key columns"):
        create_table_sql(STARROCKS, "d", "t", "PRIMARY", {"id": "INT"}, key=["nope"])


def test_fault_rules_count_down_and_match() -> None:
    book = FaultBook()
    book.add(
        parse_rule({"fault": "http_503", "match": {"label_prefix": "a-", "op": "stream_load"}, "times": 2})
    )
    assert book.take(None, "stream_load", "d", "t", "b-1") is None
    assert book.take(None, "2pc", "d", "t", "a-1") is None
    first = book.take(None, "stream_load", "d", "t", "a-1")
    assert first is not None and first.status == 503
    assert book.take(None, "stream_load", "d", "t", "a-2") is not None
    assert book.take(None, "stream_load", "d", "t", "a-3") is None
    with pytest.raises(ValueError, match="times"):
        parse_rule({"fault": "drop", "times": 0})


def test_insert_statements_escape_values_and_split_by_size() -> None:
    from tests.emulator.tables import insert_statements

    rows = [
        (1, "it's", None, decimal.Decimal("1.50"), dt.datetime(2026, 1, 2, 3, 4, 5, 6), dt.date(2026, 1, 2)),
        (2, "back\\slash", 2.5, decimal.Decimal("0"), dt.datetime(2026, 1, 2), dt.date(2026, 1, 3)),
    ]
    statements = list(insert_statements("INSERT INTO t VALUES ", rows, " ON DUPLICATE KEY UPDATE a=a"))
    assert statements == [
        "INSERT INTO t VALUES "
        "(1,'it\\'s',NULL,1.50,'2026-01-02 03:04:05.000006','2026-01-02'),"
        "(2,'back\\\\slash',2.5,0,'2026-01-02 00:00:00','2026-01-03')"
        " ON DUPLICATE KEY UPDATE a=a"
    ]
    assert len(list(insert_statements("I ", [(i,) for i in range(100)], "", max_bytes=50))) > 1
