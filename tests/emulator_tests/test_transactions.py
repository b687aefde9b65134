"""Labels and transactions: Doris two-phase commit, the StarRocks transaction API, label rules, expiry."""

from __future__ import annotations

import httpx
import pytest

from tests.emulator.handle import EmulatorHandle
from tests.emulator_tests.client import json_lines, send, stream_load

pytestmark = pytest.mark.integration

DORIS_JSON = {"format": "json", "read_json_by_line": "true"}


def table_with_rows(e: EmulatorHandle) -> str:
    db = e.create_database()
    e.create_table(db, "t", "DUPLICATE", {"id": "INT"})
    return db


def count(e: EmulatorHandle, db: str) -> int:
    return int(e.query(f"SELECT COUNT(*) FROM `{db}`.t")[0][0])


def two_pc(e: EmulatorHandle, db: str, **headers: str) -> dict[str, str]:
    reply = send(e, "PUT", f"/api/{db}/_stream_load_2pc", b"", headers)
    assert reply.status_code == 200
    result: dict[str, str] = reply.json()
    return result


def load_state(e: EmulatorHandle, db: str, label: str) -> str:
    body = httpx.get(
        f"{e.fe_url}/api/{db}/get_load_state", params={"label": label}, auth=(e.user, e.password)
    ).json()
    return str(body["data"] if e.flavor == "doris" else body["state"])


# ------------------------------------------------------------------------------------------- Doris 2PC


def test_doris_precommitted_rows_are_invisible_until_commit(doris_emulator: EmulatorHandle) -> None:
    e = doris_emulator
    db = table_with_rows(e)

    reply = stream_load(e, db, "t", '{"id": 1}', label="p1", two_phase_commit="true", **DORIS_JSON)

    assert (reply["Status"], reply["TwoPhaseCommit"]) == ("Success", "true")
    assert count(e, db) == 0
    assert load_state(e, db, "p1") == "PRECOMMITTED"
    commit = two_pc(e, db, txn_id=str(reply["TxnId"]), txn_operation="commit")
    assert commit == {"status": "Success", "msg": f"transaction [{reply['TxnId']}] commit successfully."}
    assert count(e, db) == 1
    assert load_state(e, db, "p1") == "VISIBLE"


def test_doris_repeated_commit_says_already_visible(doris_emulator: EmulatorHandle) -> None:
    e = doris_emulator
    db = table_with_rows(e)
    txn = stream_load(e, db, "t", '{"id": 1}', label="p2", two_phase_commit="true", **DORIS_JSON)["TxnId"]
    two_pc(e, db, txn_id=str(txn), txn_operation="commit")

    again = two_pc(e, db, txn_id=str(txn), txn_operation="commit")

    assert again["status"] != "Success"
    assert again["msg"] == f"transaction [{txn}] is already VISIBLE, not pre-committed."
    assert count(e, db) == 1


def test_doris_abort_by_label_discards_rows_and_frees_the_label(doris_emulator: EmulatorHandle) -> None:
    e = doris_emulator
    db = table_with_rows(e)
    stream_load(e, db, "t", '{"id": 1}', label="p3", two_phase_commit="true", **DORIS_JSON)

    abort = two_pc(e, db, label="p3", txn_operation="abort")
    reused = stream_load(e, db, "t", '{"id": 2}', label="p3", **DORIS_JSON)

    assert abort == {"status": "Success", "msg": "label [p3] abort successfully."}
    assert reused["Status"] == "Success"
    assert e.query(f"SELECT id FROM `{db}`.t") == [(2,)]


def test_doris_2pc_needs_a_txn_and_an_operation(doris_emulator: EmulatorHandle) -> None:
    e = doris_emulator
    assert two_pc(e, "db", txn_operation="commit")["msg"] == "No transaction id or label selected."
    assert two_pc(e, "db", txn_id="5")["msg"] == "No transaction operation('commit' or 'abort') selected."


def test_doris_precommitted_txn_expires_after_the_timeout(doris_emulator: EmulatorHandle) -> None:
    e = doris_emulator
    db = table_with_rows(e)
    txn = stream_load(e, db, "t", '{"id": 1}', label="p4", two_phase_commit="true", **DORIS_JSON)["TxnId"]

    e.advance_clock(3601)

    assert load_state(e, db, "p4") == "ABORTED"
    commit = two_pc(e, db, txn_id=str(txn), txn_operation="commit")
    assert "is already aborted" in commit["msg"]
    assert count(e, db) == 0


# ------------------------------------------------------------------------------------------- labels


def test_label_already_exists_reports_the_existing_job(any_emulator: EmulatorHandle) -> None:
    e = any_emulator
    db = table_with_rows(e)
    stream_load(e, db, "t", '{"id": 1}', label="dup", format="json")

    again = stream_load(e, db, "t", '{"id": 1}', label="dup", format="json")

    assert again["Status"] == "Label Already Exists"
    assert again["ExistingJobStatus"] == "FINISHED"
    assert again["TxnId"] == -1
    assert count(e, db) == 1


def test_labels_are_unique_per_database(any_emulator: EmulatorHandle) -> None:
    e = any_emulator
    first, second = table_with_rows(e), table_with_rows(e)
    assert stream_load(e, first, "t", '{"id": 1}', label="same", format="json")["Status"] == "Success"
    assert stream_load(e, second, "t", '{"id": 1}', label="same", format="json")["Status"] == "Success"


def test_a_failed_load_frees_its_label(any_emulator: EmulatorHandle) -> None:
    e = any_emulator
    db = table_with_rows(e)
    assert (
        stream_load(e, db, "t", '{"id": "x"}', label="retry", format="json", strict_mode="true")["Status"]
        == "Fail"
    )
    assert stream_load(e, db, "t", '{"id": 3}', label="retry", format="json")["Status"] == "Success"


def test_labels_are_forgotten_after_the_retention_window(any_emulator: EmulatorHandle) -> None:
    e = any_emulator
    db = table_with_rows(e)
    stream_load(e, db, "t", '{"id": 1}', label="old", format="json")

    e.advance_clock(e.emulator.registry.label_keep_seconds + 1)

    assert load_state(e, db, "old") == "UNKNOWN"
    assert stream_load(e, db, "t", '{"id": 1}', label="old", format="json")["Status"] == "Success"


# ------------------------------------------------------------------------------ StarRocks txn API


def sr_txn(
    e: EmulatorHandle, op: str, db: str, label: str, body: bytes = b"", **headers: str
) -> dict[str, object]:
    method = "PUT" if op == "load" else "POST"
    all_headers = {"db": db, "table": "t", "label": label, **headers}
    reply = send(e, method, f"/api/transaction/{op}", body, all_headers, expect=op == "load")
    assert reply.status_code == 200, reply.text
    result: dict[str, object] = reply.json()
    return result


def test_starrocks_transaction_commits_all_loads_at_once(starrocks_emulator: EmulatorHandle) -> None:
    e = starrocks_emulator
    db = table_with_rows(e)
    begin = sr_txn(e, "begin", db, "-tx1")
    assert begin["Status"] == "OK" and isinstance(begin["TxnId"], int)
    opts = {"format": "json", "strip_outer_array": "true"}
    first = sr_txn(e, "load", db, "-tx1", b'[{"id": 1}, {"id": 2}]', **opts)
    second = sr_txn(e, "load", db, "-tx1", b'[{"id": 3}]', **opts)
    assert (first["Status"], first["Seq"], second["Seq"]) == ("OK", 1, 2)
    assert first["NumberLoadedRows"] == 2

    prepare = sr_txn(e, "prepare", db, "-tx1", prepared_timeout="180")

    assert prepare["Status"] == "OK" and prepare["NumberLoadedRows"] == 3
    assert count(e, db) == 0 and load_state(e, db, "-tx1") == "PREPARED"
    assert sr_txn(e, "commit", db, "-tx1")["Status"] == "OK"
    assert count(e, db) == 3 and load_state(e, db, "-tx1") == "VISIBLE"
    again = sr_txn(e, "commit", db, "-tx1")
    assert (again["Status"], again["Message"]) == ("OK", "Transaction already commited")


def test_starrocks_duplicate_begin_is_label_already_exists(starrocks_emulator: EmulatorHandle) -> None:
    e = starrocks_emulator
    db = table_with_rows(e)
    sr_txn(e, "begin", db, "-tx2")
    again = sr_txn(e, "begin", db, "-tx2")
    assert (again["Status"], again["ExistingJobStatus"]) == ("LABEL_ALREADY_EXISTS", "RUNNING")


def test_starrocks_rollback_discards_and_commit_then_fails(starrocks_emulator: EmulatorHandle) -> None:
    e = starrocks_emulator
    db = table_with_rows(e)
    sr_txn(e, "begin", db, "-tx3")
    sr_txn(e, "load", db, "-tx3", b'{"id": 1}', format="json")

    assert sr_txn(e, "rollback", db, "-tx3")["Status"] == "OK"
    commit = sr_txn(e, "commit", db, "-tx3")

    assert commit["Status"] == "FAILED"
    assert load_state(e, db, "-tx3") == "ABORTED"
    assert count(e, db) == 0


def test_starrocks_prepare_without_data_fails_and_rolls_back(starrocks_emulator: EmulatorHandle) -> None:
    e = starrocks_emulator
    db = table_with_rows(e)
    sr_txn(e, "begin", db, "-tx4")
    prepare = sr_txn(e, "prepare", db, "-tx4")
    assert prepare["Status"] != "OK"
    assert "hasn't send any data yet" in str(prepare["Message"])
    assert load_state(e, db, "-tx4") == "ABORTED"


def test_starrocks_prepared_txn_expires_after_prepared_timeout(starrocks_emulator: EmulatorHandle) -> None:
    e = starrocks_emulator
    db = table_with_rows(e)
    sr_txn(e, "begin", db, "-tx5")
    sr_txn(e, "load", db, "-tx5", b'{"id": 1}', format="json")
    sr_txn(e, "prepare", db, "-tx5", prepared_timeout="180")

    e.advance_clock(181)

    assert load_state(e, db, "-tx5") == "ABORTED"
    assert sr_txn(e, "commit", db, "-tx5")["Status"] == "FAILED"


def test_starrocks_load_without_begin_is_txn_not_exists(starrocks_emulator: EmulatorHandle) -> None:
    e = starrocks_emulator
    db = table_with_rows(e)
    assert sr_txn(e, "load", db, "-nobegin", b'{"id": 1}', format="json")["Status"] == "TXN_NOT_EXISTS"


def test_starrocks_txn_filtered_rows_fail_at_prepare(starrocks_emulator: EmulatorHandle) -> None:
    e = starrocks_emulator
    db = table_with_rows(e)
    sr_txn(e, "begin", db, "-tx6")
    sr_txn(e, "load", db, "-tx6", b'{"id": "x"}', format="json", strict_mode="true")
    prepare = sr_txn(e, "prepare", db, "-tx6")
    assert prepare["Status"] != "OK" and prepare["Message"] == "too many filtered rows"
    assert "ErrorURL" in prepare
    assert load_state(e, db, "-tx6") == "ABORTED"


def test_plain_json_lines_into_the_txn_api_with_many_rows(starrocks_emulator: EmulatorHandle) -> None:
    e = starrocks_emulator
    db = table_with_rows(e)
    sr_txn(e, "begin", db, "-tx7")
    sr_txn(e, "load", db, "-tx7", json_lines([{"id": i} for i in range(500)]).encode(), format="json")
    sr_txn(e, "prepare", db, "-tx7")
    sr_txn(e, "commit", db, "-tx7")
    assert count(e, db) == 500


def test_precommit_timeout_is_configurable_and_reset_per_test(doris_emulator: EmulatorHandle) -> None:
    e = doris_emulator
    db = table_with_rows(e)
    e.configure(precommit_timeout=10)
    stream_load(e, db, "t", '{"id": 1}', label="cfg", two_phase_commit="true", **DORIS_JSON)
    e.advance_clock(11)
    assert load_state(e, db, "cfg") == "ABORTED"
    e.reset()
    assert e.emulator.registry.precommit_timeout == 3600
    with pytest.raises(ValueError, match="precommit_timeout"):
        e.configure(precommit_timeout=-1)


def test_doris_commit_by_label_and_abort_by_txn_id(doris_emulator: EmulatorHandle) -> None:
    e = doris_emulator
    db = table_with_rows(e)
    stream_load(e, db, "t", '{"id": 1}', label="keep", two_phase_commit="true", **DORIS_JSON)
    drop = stream_load(e, db, "t", '{"id": 2}', label="drop", two_phase_commit="true", **DORIS_JSON)["TxnId"]

    committed = two_pc(e, db, label="keep", txn_operation="commit")
    aborted = two_pc(e, db, txn_id=str(drop), txn_operation="abort")
    again = two_pc(e, db, txn_id=str(drop), txn_operation="abort")

    assert committed == {"status": "Success", "msg": "label [keep] commit successfully."}
    assert aborted == {"status": "Success", "msg": f"transaction [{drop}] abort successfully."}
    assert again["status"] != "Success" and "already aborted" in again["msg"]
    assert e.query(f"SELECT id FROM `{db}`.t") == [(1,)]


def csv_txn(e: EmulatorHandle, db: str, label: str, *bodies: bytes) -> dict[str, object]:
    sr_txn(e, "begin", db, label)
    for body in bodies:
        assert sr_txn(e, "load", db, label, body, format="csv", column_separator=",")["Status"] == "OK"
    return sr_txn(e, "prepare", db, label)


def test_starrocks_txn_csv_loads_form_one_stream(starrocks_emulator: EmulatorHandle) -> None:
    """Each load should end with the row delimiter; an unterminated row continues in the next load."""
    e = starrocks_emulator
    db = e.create_database()
    e.create_table(db, "t", "DUPLICATE", {"id": "INT", "name": "VARCHAR(5)"})

    joined = csv_txn(e, db, "-csv1", b"1,a\n2,", b"b\n3,c")
    assert joined["Status"] == "OK" and joined["NumberLoadedRows"] == 3
    sr_txn(e, "commit", db, "-csv1")
    assert e.query(f"SELECT id, name FROM `{db}`.t ORDER BY id") == [(1, "a"), (2, "b"), (3, "c")]

    glued = csv_txn(e, db, "-csv2", b"4,d", b"5,e\n")  # "4,d5,e" has three fields
    assert glued["Status"] != "OK" and glued["NumberFilteredRows"] == 1


def test_running_transactions_per_database_are_limited(any_emulator: EmulatorHandle) -> None:
    e = any_emulator
    db = table_with_rows(e)
    e.configure(max_running_txns_per_db=1)
    if e.flavor == "doris":
        first = stream_load(e, db, "t", '{"id": 1}', label="r1", two_phase_commit="true", **DORIS_JSON)
        second = stream_load(e, db, "t", '{"id": 2}', label="r2", **DORIS_JSON)
        assert first["Status"] == "Success" and second["Status"] == "Fail"
        message = str(second["Message"])
    else:
        assert sr_txn(e, "begin", db, "-r1")["Status"] == "OK"
        second_begin = sr_txn(e, "begin", db, "-r2")
        assert second_begin["Status"] != "OK"
        message = str(second_begin["Message"])
    assert "current running txns on db" in message and "larger than limit 1" in message
    assert stream_load(e, table_with_rows(e), "t", '{"id": 3}', format="json")["Status"] == "Success"
