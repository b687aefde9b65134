"""The FE's MySQL port: SHOW TRANSACTION from the emulator's transactions, other SQL forwarded to MariaDB."""

from __future__ import annotations

from typing import Any

import pymysql
import pytest

from tests.emulator.handle import EmulatorHandle
from tests.emulator.mysql_fe import COLUMNS, like_regex, parse_show_transaction, unquote
from tests.emulator_tests.client import stream_load
from tests.emulator_tests.test_transactions import sr_txn, table_with_rows, two_pc

DORIS_JSON = {"format": "json", "read_json_by_line": "true"}


# ------------------------------------------------------------------------------------------- pure parts


@pytest.mark.parametrize(
    ("pattern", "label", "matches"),
    [
        ("t__KC_0%", "t__KC_0__KC_db_t__KC_5__KC_9", True),
        ("t__KC_0%", "tXYKC_0", True),  # `_` is any one character, as in MySQL
        ("t__KC_0%", "t_KC_0", False),
        ("a%", "A1", False),  # labels compare case-sensitively (Doris CaseSensibility.LABEL)
        ("a\\_b", "a_b", True),
        ("a\\_b", "axb", False),
        ("50\\%", "50%", True),
        ("50\\%", "500", False),
        ("a.b%", "axb", False),  # regex characters are literal
        ("%", "", True),
    ],
)
def test_like_follows_mysql_wildcards(pattern: str, label: str, matches: bool) -> None:
    assert bool(like_regex(pattern).fullmatch(label)) is matches


def test_string_literals_unescape_but_keep_like_escapes() -> None:
    assert unquote("'it''s'") == "it's"
    assert unquote("'a\\'b'") == "a'b"
    assert unquote("'a\\_b\\%'") == "a\\_b\\%"
    assert unquote('"x"') == "x"


def test_show_transaction_grammar() -> None:
    q = parse_show_transaction("show transaction from `my-db` where label like 'p\\_%';")
    assert q is not None and (q.db, q.field, q.op, q.value) == ("my-db", "label", "like", "p\\_%")
    q = parse_show_transaction("SHOW TRANSACTION WHERE ID = 42")
    assert q is not None and (q.db, q.field, q.value) == (None, "id", "42")
    assert parse_show_transaction("SHOW TABLES") is None
    for bad in ("SHOW TRANSACTION FROM d", "SHOW TRANSACTION WHERE id = 'x'", "SHOW TRANSACTION WHERE x = 1"):
        with pytest.raises(Exception, match="should supply condition"):
            parse_show_transaction(bad)


# ------------------------------------------------------------------------------------------- the port


def connect(e: EmulatorHandle, database: str | None = None, **kw: Any) -> pymysql.connections.Connection[Any]:
    return pymysql.connect(
        host="127.0.0.1",
        port=e.query_port,
        user=kw.pop("user", e.user),
        password=kw.pop("password", e.password),
        database=database,
        autocommit=True,
        **kw,
    )


def show(e: EmulatorHandle, sql: str, database: str | None = None) -> list[dict[str, Any]]:
    with connect(e, database) as conn, conn.cursor(pymysql.cursors.DictCursor) as cur:
        cur.execute(sql)
        assert [d[0] for d in cur.description] == list(COLUMNS)
        return list(cur.fetchall())


def status_of(e: EmulatorHandle, db: str, label: str) -> str:
    rows = show(e, f"SHOW TRANSACTION FROM `{db}` WHERE LABEL = '{label}'")
    assert len(rows) == 1
    return str(rows[0]["TransactionStatus"])


@pytest.mark.integration
def test_doris_statuses_follow_real_loads(doris_emulator: EmulatorHandle) -> None:
    e = doris_emulator
    db = table_with_rows(e)
    e.configure(publish_delay=3600)

    pre = stream_load(e, db, "t", '{"id": 1}', label="two_pc", two_phase_commit="true", **DORIS_JSON)
    assert status_of(e, db, "two_pc") == "PRECOMMITTED"
    two_pc(e, db, txn_id=str(pre["TxnId"]), txn_operation="commit")
    stream_load(e, db, "t", '{"id": 2}', label="plain", **DORIS_JSON)
    e.inject_fault("publish_timeout", label_prefix="late")
    stream_load(e, db, "t", '{"id": 3}', label="late", **DORIS_JSON)
    stream_load(e, db, "t", '{"id": 4}', label="gone", two_phase_commit="true", **DORIS_JSON)
    two_pc(e, db, label="gone", txn_operation="abort")
    failed = stream_load(e, db, "t", '{"id": "x"}', label="bad", strict_mode="true", **DORIS_JSON)
    assert failed["Status"] == "Fail"

    assert status_of(e, db, "two_pc") == "VISIBLE"
    assert status_of(e, db, "plain") == "VISIBLE"
    assert status_of(e, db, "late") == "COMMITTED"
    assert status_of(e, db, "gone") == "ABORTED"
    assert status_of(e, db, "bad") == "ABORTED"

    row = show(e, f"SHOW TRANSACTION FROM `{db}` WHERE ID = {pre['TxnId']}")[0]
    assert (row["TransactionId"], row["Label"]) == (str(pre["TxnId"]), "two_pc")
    assert row["LoadJobSourceType"] == "BACKEND_STREAMING"
    assert all(row[c] for c in ("PrepareTime", "PreCommitTime", "CommitTime", "PublishTime", "FinishTime"))
    plain = show(e, f"SHOW TRANSACTION FROM `{db}` WHERE LABEL = 'plain'")[0]
    assert plain["PreCommitTime"] is None and plain["CommitTime"] and plain["FinishTime"]
    aborted = show(e, f"SHOW TRANSACTION FROM `{db}` WHERE LABEL = 'gone'")[0]
    assert aborted["Reason"] == "user abort" and aborted["CommitTime"] is None


@pytest.mark.integration
def test_label_like_matches_by_wildcards_within_the_database(doris_emulator: EmulatorHandle) -> None:
    e = doris_emulator
    db, other = table_with_rows(e), table_with_rows(e)
    for label in ("t__KC_0__KC_a", "tXXKC_0__KC_b", "t__KC_1__KC_c", "T__KC_0__KC_d"):
        stream_load(e, db, "t", '{"id": 1}', label=label, **DORIS_JSON)
    stream_load(e, other, "t", '{"id": 1}', label="t__KC_0__KC_z", **DORIS_JSON)

    rows = show(e, f"SHOW TRANSACTION FROM `{db}` WHERE LABEL LIKE 't__KC_0%'")
    exact = show(e, f"SHOW TRANSACTION FROM `{db}` WHERE LABEL LIKE 't\\\\_\\\\_KC\\\\_0%'")
    in_current_db = show(e, "SHOW TRANSACTION WHERE LABEL LIKE 't%'", database=other)

    assert [r["Label"] for r in rows] == ["tXXKC_0__KC_b", "t__KC_0__KC_a"]  # newest first
    assert [r["Label"] for r in exact] == ["t__KC_0__KC_a"]
    assert [r["Label"] for r in in_current_db] == ["t__KC_0__KC_z"]
    assert show(e, f"SHOW TRANSACTION FROM `{db}` WHERE LABEL LIKE 'none%'") == []


@pytest.mark.integration
def test_starrocks_begin_shows_prepare(starrocks_emulator: EmulatorHandle) -> None:
    e = starrocks_emulator
    db = table_with_rows(e)
    sr_txn(e, "begin", db, "-sr1")
    assert status_of(e, db, "-sr1") == "PREPARE"
    sr_txn(e, "load", db, "-sr1", b"1\n")
    sr_txn(e, "prepare", db, "-sr1")
    assert status_of(e, db, "-sr1") == "PREPARED"


@pytest.mark.integration
def test_misses_and_bad_statements_are_mysql_errors(doris_emulator: EmulatorHandle) -> None:
    e = doris_emulator
    db = e.create_database()
    with connect(e, db) as conn, conn.cursor() as cur:
        with pytest.raises(pymysql.err.MySQLError, match="transaction with id 1 does not exist"):
            cur.execute("SHOW TRANSACTION WHERE ID = 1")
        with pytest.raises(pymysql.err.MySQLError, match="transaction with label x does not exist"):
            cur.execute("SHOW TRANSACTION WHERE LABEL = 'x'")
        with pytest.raises(pymysql.err.MySQLError, match="should supply condition"):
            cur.execute("SHOW TRANSACTION")
    with connect(e) as conn, conn.cursor() as cur, pytest.raises(pymysql.err.MySQLError) as info:
        cur.execute("SHOW TRANSACTION WHERE LABEL LIKE 'a%'")
    assert info.value.args[0] == 1046  # No database selected


@pytest.mark.integration
def test_other_sql_runs_on_mariadb(doris_emulator: EmulatorHandle) -> None:
    e = doris_emulator
    db = e.create_database()
    e.create_table(db, "t", "UNIQUE", {"id": "INT", "name": "VARCHAR(20)", "blob_col": "VARBINARY(4)"})
    with connect(e) as conn, conn.cursor() as cur:
        assert conn.get_server_info() == "5.7.99"  # the handshake says Doris, the SQL is MariaDB's
        cur.execute("SELECT @@version, 1 + 1, NULL")
        version, two, null = cur.fetchone()
        assert "MariaDB" in version and two == 2 and null is None
        # Connector/J asks a 5.7.99 server for transaction_isolation; MariaDB 10.11 knows tx_isolation.
        cur.execute("SET SESSION transaction_isolation = 'READ-COMMITTED'")
        cur.execute("SELECT @@session.transaction_isolation AS transaction_isolation")
        assert cur.fetchall() == (("READ-COMMITTED",),)
        assert cur.description[0][0] == "transaction_isolation"
        cur.execute(f"USE `{db}`")
        cur.execute("INSERT INTO t VALUES (1, 'ü', x'00ff'), (2, NULL, NULL)")
        cur.execute("SET @x = 5")
        cur.execute("SELECT id, name, blob_col, @x FROM t ORDER BY id")
        assert cur.fetchall() == ((1, "ü", b"\x00\xff", 5), (2, None, None, 5))
        cur.execute(
            "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s"
            " ORDER BY ORDINAL_POSITION",
            (db,),
        )
        assert [r[0] for r in cur.fetchall()] == ["id", "name", "blob_col"]
        with pytest.raises(pymysql.err.ProgrammingError) as info:
            cur.execute("SELECT * FROM no_such_table")
        assert info.value.args[0] == 1146  # MariaDB's own error code comes through


@pytest.mark.integration
def test_only_the_emulator_user_logs_in(doris_emulator: EmulatorHandle) -> None:
    e = doris_emulator
    for user, password in ((e.user, "wrong"), ("intruder", e.password)):
        with pytest.raises(pymysql.err.OperationalError) as info:
            connect(e, user=user, password=password)
        assert info.value.args[0] == 1045
