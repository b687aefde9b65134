"""Plain Stream Load through the FE redirect, for both flavors, checked by SQL on MariaDB."""

from __future__ import annotations

import gzip
import json

import lz4.frame
import pytest

from tests.emulator.handle import EmulatorHandle
from tests.emulator_tests.client import json_lines, stream_load

pytestmark = pytest.mark.integration


def json_headers(emulator: EmulatorHandle) -> dict[str, str]:
    """The headers each connector sends for a JSON-lines body."""
    if emulator.flavor == "doris":
        return {"format": "json", "read_json_by_line": "true"}
    return {"format": "json"}


def test_json_lines_upsert_into_a_unique_table(any_emulator: EmulatorHandle) -> None:
    e = any_emulator
    db = e.create_database()
    e.create_table(db, "users", "UNIQUE", {"id": "INT", "name": "VARCHAR(20)", "score": "DECIMAL(6,2)"})
    rows = [{"id": 1, "name": "a", "score": 1.5}, {"id": 2, "name": "b", "score": 2}, {"id": 1, "name": "c"}]

    reply = stream_load(e, db, "users", json_lines(rows), label="load-1", **json_headers(e))

    assert reply["Status"] == "Success"
    assert reply["Message"] == "OK"
    assert (reply["NumberTotalRows"], reply["NumberLoadedRows"], reply["NumberFilteredRows"]) == (3, 3, 0)
    assert reply["Label"] == "load-1"
    assert isinstance(reply["TxnId"], int) and reply["TxnId"] > 0
    assert e.query(f"SELECT id, name, score FROM `{db}`.users ORDER BY id") == [(1, "c", None), (2, "b", 2)]


def test_duplicate_table_appends_every_row(any_emulator: EmulatorHandle) -> None:
    e = any_emulator
    db = e.create_database()
    e.create_table(db, "events", "DUPLICATE", {"id": "INT", "v": "STRING"})
    body = json_lines([{"id": 1, "v": "x"}, {"id": 1, "v": "x"}])

    first = stream_load(e, db, "events", body, label="a1", **json_headers(e))
    second = stream_load(e, db, "events", body, label="a2", **json_headers(e))

    assert first["Status"] == second["Status"] == "Success"
    assert e.query(f"SELECT COUNT(*) FROM `{db}`.events WHERE id=1") == [(4,)]


def test_csv_with_separator_and_null_marker(any_emulator: EmulatorHandle) -> None:
    e = any_emulator
    db = e.create_database()
    e.create_table(db, "t", "DUPLICATE", {"id": "INT", "name": "VARCHAR(10)"})
    delimiter = "line_delimiter" if e.flavor == "doris" else "row_delimiter"

    reply = stream_load(e, db, "t", "1,a|2,\\N|", label="csv-1", column_separator=",", **{delimiter: "|"})

    assert reply["Status"] == "Success", reply
    assert e.query(f"SELECT id, name FROM `{db}`.t ORDER BY id") == [(1, "a"), (2, None)]


@pytest.mark.parametrize("codec", ["gzip", "lz4"])
def test_compressed_bodies_are_decoded(any_emulator: EmulatorHandle, codec: str) -> None:
    e = any_emulator
    db = e.create_database()
    e.create_table(db, "t", "DUPLICATE", {"id": "INT"})
    raw = json_lines([{"id": i} for i in range(50)]).encode()
    body = gzip.compress(raw) if codec == "gzip" else lz4.frame.compress(raw)
    if e.flavor == "doris":
        headers = {"compress_type": "gz" if codec == "gzip" else "lz4", **json_headers(e)}
    else:
        headers = {"compression": "gzip" if codec == "gzip" else "lz4_frame", **json_headers(e)}

    reply = stream_load(e, db, "t", body, label=f"c-{codec}", **headers)

    assert reply["Status"] == "Success", reply
    assert reply["LoadBytes"] == len(body)
    assert e.query(f"SELECT COUNT(*), SUM(id) FROM `{db}`.t") == [(50, sum(range(50)))]


def test_reply_fields_and_order_follow_the_dialect(any_emulator: EmulatorHandle) -> None:
    e = any_emulator
    db = e.create_database()
    e.create_table(db, "t", "DUPLICATE", {"id": "INT"})

    reply = stream_load(e, db, "t", '{"id": 1}', label="order-1", **json_headers(e))

    keys = list(reply)
    if e.flavor == "doris":
        assert keys[:6] == ["TxnId", "Label", "Comment", "TwoPhaseCommit", "Status", "Message"]
        assert reply["TwoPhaseCommit"] == "false"
        assert "StreamLoadPutTimeMs" in keys and "StreamLoadPlanTimeMs" not in keys
    else:
        assert keys[:4] == ["TxnId", "Label", "Status", "Message"]
        assert "StreamLoadPlanTimeMs" in keys and "TwoPhaseCommit" not in keys
    assert keys.index("NumberTotalRows") < keys.index("LoadBytes") < keys.index("CommitAndPublishTimeMs")


def test_filtered_rows_fail_the_load_and_leave_no_rows(any_emulator: EmulatorHandle) -> None:
    e = any_emulator
    db = e.create_database()
    e.create_table(db, "t", "DUPLICATE", {"id": "INT NOT NULL", "name": "VARCHAR(3)"})
    body = json_lines([{"id": 1, "name": "ok"}, {"id": 2, "name": "too long"}, {"name": "no id"}])

    reply = stream_load(e, db, "t", body, label="bad-1", **json_headers(e))

    assert reply["Status"] == "Fail"
    assert "too many filtered rows" in reply["Message"]
    assert (reply["NumberLoadedRows"], reply["NumberFilteredRows"]) == (1, 2)
    assert e.query(f"SELECT COUNT(*) FROM `{db}`.t") == [(0,)]
    import httpx

    log = httpx.get(reply["ErrorURL"]).text
    assert "too long" in log and "no id" in log


def test_max_filter_ratio_lets_a_load_through_without_the_bad_rows(any_emulator: EmulatorHandle) -> None:
    e = any_emulator
    db = e.create_database()
    e.create_table(db, "t", "DUPLICATE", {"id": "INT NOT NULL"})
    body = json_lines([{"id": 1}, {"id": 2}, {"id": None}])

    reply = stream_load(e, db, "t", body, label="ratio-1", max_filter_ratio="0.5", **json_headers(e))

    assert reply["Status"] == "Success"
    assert reply["NumberFilteredRows"] == 1 and "ErrorURL" in reply
    assert e.query(f"SELECT id FROM `{db}`.t ORDER BY id") == [(1,), (2,)]


def test_strict_mode_filters_unconvertible_values_that_non_strict_makes_null(
    any_emulator: EmulatorHandle,
) -> None:
    e = any_emulator
    db = e.create_database()
    e.create_table(db, "t", "DUPLICATE", {"id": "INT", "n": "INT"})
    body = json_lines([{"id": 1, "n": "abc"}])

    loose = stream_load(e, db, "t", body, label="loose", **json_headers(e))
    strict = stream_load(e, db, "t", body, label="strict", strict_mode="true", **json_headers(e))

    assert loose["Status"] == "Success"
    assert strict["Status"] == "Fail" and strict["NumberFilteredRows"] == 1
    assert e.query(f"SELECT id, n FROM `{db}`.t") == [(1, None)]


def test_unknown_table_fails_without_a_transaction(any_emulator: EmulatorHandle) -> None:
    e = any_emulator
    db = e.create_database()

    reply = stream_load(e, db, "missing", '{"id": 1}', label="x1", **json_headers(e))

    assert reply["Status"] == "Fail"
    assert "missing" in reply["Message"]


def test_jsonpaths_and_columns_map_fields(any_emulator: EmulatorHandle) -> None:
    e = any_emulator
    db = e.create_database()
    e.create_table(db, "t", "DUPLICATE", {"id": "INT", "city": "VARCHAR(20)", "tag": "VARCHAR(5)"})
    body = json_lines([{"user": {"id": 7, "addr": {"city": "Oslo"}}}])

    reply = stream_load(
        e,
        db,
        "t",
        body,
        label="jp-1",
        jsonpaths=json.dumps(["$.user.id", "$.user.addr.city"]),
        columns="id,city,tag='k'",
        **json_headers(e),
    )

    assert reply["Status"] == "Success", reply
    assert e.query(f"SELECT id, city, tag FROM `{db}`.t") == [(7, "Oslo", "k")]


def test_content_encoding_gzip_is_one_layer_with_compress_type(any_emulator: EmulatorHandle) -> None:
    """The Doris connector sends compress_type: gz and Content-Encoding: gzip for one gzip layer."""
    e = any_emulator
    db = e.create_database()
    e.create_table(db, "t", "DUPLICATE", {"id": "INT"})
    body = gzip.compress(json_lines([{"id": 1}, {"id": 2}]).encode())
    headers = {"Content-Encoding": "gzip", **json_headers(e)}
    if e.flavor == "doris":
        headers["compress_type"] = "gz"

    reply = stream_load(e, db, "t", body, label="ce-1", **headers)

    assert reply["Status"] == "Success", reply
    assert reply["LoadBytes"] == len(body)
    assert e.query(f"SELECT COUNT(*) FROM `{db}`.t") == [(2,)]


def test_a_new_emulator_process_knows_the_key_model_from_the_table(doris_emulator: EmulatorHandle) -> None:
    """Model, key and sequence column live in the table comment, so another emulator process honours them."""
    from tests.emulator.handle import EmulatorHandle as Handle
    from tests.emulator.server import EmulatorConfig

    db = doris_emulator.create_database()
    doris_emulator.create_table(
        db, "t", "UNIQUE", {"name": "VARCHAR(10)", "id": "INT", "v": "INT"}, key=["id"], sequence_col="v"
    )
    mysql = doris_emulator.mysql
    other = Handle(
        EmulatorConfig(
            flavor="doris",
            user="u",
            password="p",
            mysql_host=mysql["host"],
            mysql_port=mysql["port"],
            mysql_user=mysql["user"],
            mysql_password=mysql["password"],
        ),
        fe_count=1,
    )
    try:
        body = json_lines([{"id": 1, "name": "new", "v": 5}, {"id": 1, "name": "old", "v": 3}])
        reply = stream_load(other, db, "t", body, format="json", read_json_by_line="true")
    finally:
        other.close()
    assert reply["Status"] == "Success"
    assert doris_emulator.query(f"SELECT id, name FROM `{db}`.t") == [(1, "new")]
