"""Faults switched on per request or label through the control API, and the stats counters."""

from __future__ import annotations

import concurrent.futures
import time

import httpx
import pytest

from tests.emulator.handle import EmulatorHandle
from tests.emulator_tests.client import send, stream_load

pytestmark = pytest.mark.integration


def setup(e: EmulatorHandle) -> str:
    db = e.create_database()
    e.create_table(db, "t", "DUPLICATE", {"id": "INT"})
    return db


def count(e: EmulatorHandle, db: str) -> int:
    return int(e.query(f"SELECT COUNT(*) FROM `{db}`.t")[0][0])


def test_publish_timeout_commits_but_reports_it(any_emulator: EmulatorHandle) -> None:
    e = any_emulator
    db = setup(e)
    e.inject_fault("publish_timeout", label_prefix="pt-")

    reply = stream_load(e, db, "t", '{"id": 1}', label="pt-1", format="json")

    assert reply["Status"] == "Publish Timeout"
    assert count(e, db) == 1
    assert e.txns(db=db, label="pt-1")[0]["state"] == "COMMITTED"
    assert stream_load(e, db, "t", '{"id": 2}', label="pt-2", format="json")["Status"] == "Success"


def test_http_500_applies_nothing(any_emulator: EmulatorHandle) -> None:
    e = any_emulator
    db = setup(e)
    e.inject_fault("http_500", table="t", db=db)

    reply = send(e, "PUT", f"/api/{db}/t/_stream_load", b'{"id": 1}', {"label": "h1", "format": "json"})

    assert reply.status_code == 500
    assert count(e, db) == 0
    assert stream_load(e, db, "t", '{"id": 1}', label="h1", format="json")["Status"] == "Success"


def test_slow_reply_does_not_block_other_loads(any_emulator: EmulatorHandle) -> None:
    e = any_emulator
    db = setup(e)
    e.inject_fault("slow:2", label_prefix="slow-")
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        slow = pool.submit(stream_load, e, db, "t", '{"id": 1}', label="slow-1", format="json")
        time.sleep(0.2)
        started = time.monotonic()
        fast = stream_load(e, db, "t", '{"id": 2}', label="fast-1", format="json")
        fast_elapsed = time.monotonic() - started
        assert fast["Status"] == "Success"
        assert not slow.done()
        assert slow.result()["Status"] == "Success"
    assert fast_elapsed < 1.5


def test_slow_reply_still_commits_after_the_client_gives_up(any_emulator: EmulatorHandle) -> None:
    e = any_emulator
    db = setup(e)
    e.inject_fault("slow:1", label_prefix="gone-")
    with pytest.raises(httpx.ReadTimeout):
        send(
            e,
            "PUT",
            f"/api/{db}/t/_stream_load",
            b'{"id": 1}',
            {"label": "gone-1", "format": "json"},
            timeout=0.3,
        )
    time.sleep(1.5)
    again = stream_load(e, db, "t", '{"id": 1}', label="gone-1", format="json")
    assert (again["Status"], again["ExistingJobStatus"]) == ("Label Already Exists", "FINISHED")


def test_dropped_connection_applies_nothing(any_emulator: EmulatorHandle) -> None:
    e = any_emulator
    db = setup(e)
    e.inject_fault("drop", label_prefix="drop-")
    with pytest.raises(httpx.TransportError):
        send(e, "PUT", f"/api/{db}/t/_stream_load", b'{"id": 1}', {"label": "drop-1", "format": "json"})
    assert count(e, db) == 0


def test_drop_after_commit_leaves_rows_and_a_finished_label(any_emulator: EmulatorHandle) -> None:
    e = any_emulator
    db = setup(e)
    e.inject_fault("drop_after_commit", label_prefix="dac-")
    with pytest.raises(httpx.TransportError):
        send(e, "PUT", f"/api/{db}/t/_stream_load", b'{"id": 1}', {"label": "dac-1", "format": "json"})
    assert count(e, db) == 1
    assert (
        stream_load(e, db, "t", '{"id": 1}', label="dac-1", format="json")["ExistingJobStatus"] == "FINISHED"
    )


def test_too_many_versions_fails_with_minus_235(any_emulator: EmulatorHandle) -> None:
    e = any_emulator
    db = setup(e)
    e.inject_fault("too_many_versions", times=2)

    first = stream_load(e, db, "t", '{"id": 1}', label="v1", format="json")
    second = stream_load(e, db, "t", '{"id": 1}', label="v1", format="json")
    third = stream_load(e, db, "t", '{"id": 1}', label="v1", format="json")

    assert first["Status"] == second["Status"] == "Fail"
    assert ("-235" if e.flavor == "doris" else "Too many versions") in first["Message"]
    assert third["Status"] == "Success"
    assert count(e, db) == 1


def test_be_unreachable_after_the_redirect(any_emulator: EmulatorHandle) -> None:
    e = any_emulator
    db = setup(e)
    e.inject_fault("be_unreachable", label_prefix="ur-")
    with pytest.raises(httpx.ConnectError):
        send(e, "PUT", f"/api/{db}/t/_stream_load", b'{"id": 1}', {"label": "ur-1", "format": "json"})
    assert stream_load(e, db, "t", '{"id": 1}', label="ur-1", format="json")["Status"] == "Success"


def test_faults_on_the_commit_of_a_transaction(doris_emulator: EmulatorHandle) -> None:
    e = doris_emulator
    db = setup(e)
    txn = stream_load(e, db, "t", '{"id": 1}', label="c1", format="json", two_phase_commit="true")["TxnId"]
    e.inject_fault("http_503", op="2pc")
    headers = {"txn_id": str(txn), "txn_operation": "commit"}
    assert send(e, "PUT", f"/api/{db}/_stream_load_2pc", b"", headers).status_code == 503
    assert count(e, db) == 0
    assert send(e, "PUT", f"/api/{db}/_stream_load_2pc", b"", headers).json()["status"] == "Success"
    assert count(e, db) == 1


def test_bad_fault_requests_are_refused_with_the_field_named(any_emulator: EmulatorHandle) -> None:
    e = any_emulator
    reply = httpx.post(f"{e.be_url}/_emulator/faults", json={"fault": "explode"})
    assert reply.status_code == 400 and "fault" in reply.json()["error"]
    reply = httpx.post(f"{e.be_url}/_emulator/faults", json={"fault": "drop", "match": {"colour": "red"}})
    assert reply.status_code == 400 and "match" in reply.json()["error"]


def test_stats_count_loads_rows_and_bytes(any_emulator: EmulatorHandle) -> None:
    e = any_emulator
    db = setup(e)
    before = httpx.get(f"{e.be_url}/_emulator/stats").json()
    stream_load(e, db, "t", '{"id": 1}\n{"id": 2}', format="json", read_json_by_line="true")
    stream_load(e, db, "t", '{"id": "x"}', format="json", strict_mode="true")
    after = httpx.get(f"{e.be_url}/_emulator/stats").json()
    assert after["loads"].get("Success", 0) - before["loads"].get("Success", 0) == 1
    assert after["loads"].get("Fail", 0) - before["loads"].get("Fail", 0) == 1
    assert after["rows"] - before["rows"] == 2
    assert after["bytes"] - before["bytes"] == len('{"id": 1}\n{"id": 2}')


def sr_txn(e: EmulatorHandle, op: str, db: str, label: str, body: bytes = b"") -> httpx.Response:
    headers = {"db": db, "table": "t", "label": label, "format": "json"}
    return send(
        e, "PUT" if op == "load" else "POST", f"/api/transaction/{op}", body, headers, expect=op == "load"
    )


def test_starrocks_commit_publish_timeout_leaves_the_label_committed(
    starrocks_emulator: EmulatorHandle,
) -> None:
    e = starrocks_emulator
    db = setup(e)
    sr_txn(e, "begin", db, "-pt")
    sr_txn(e, "load", db, "-pt", b'{"id": 1}')
    sr_txn(e, "prepare", db, "-pt")
    e.inject_fault("publish_timeout", op="commit")

    reply = sr_txn(e, "commit", db, "-pt").json()

    assert reply["Status"] == "PUBLISH_TIMEOUT"
    state = httpx.get(
        f"{e.fe_url}/api/{db}/get_load_state", params={"label": "-pt"}, auth=(e.user, e.password)
    )
    assert state.json()["state"] == "COMMITTED"
    assert count(e, db) == 1


def test_starrocks_5xx_on_a_load_keeps_the_transaction_open(starrocks_emulator: EmulatorHandle) -> None:
    e = starrocks_emulator
    db = setup(e)
    sr_txn(e, "begin", db, "-h5")
    e.inject_fault("http_502", op="load")
    assert sr_txn(e, "load", db, "-h5", b'{"id": 1}').status_code == 502
    assert sr_txn(e, "load", db, "-h5", b'{"id": 2}').json()["Status"] == "OK"
    sr_txn(e, "prepare", db, "-h5")
    assert sr_txn(e, "commit", db, "-h5").json()["Status"] == "OK"
    assert e.query(f"SELECT id FROM `{db}`.t") == [(2,)]


def test_be_unreachable_on_a_transaction_begin(starrocks_emulator: EmulatorHandle) -> None:
    e = starrocks_emulator
    db = setup(e)
    e.inject_fault("be_unreachable", op="begin")
    with pytest.raises(httpx.ConnectError):
        sr_txn(e, "begin", db, "-ur")
    assert sr_txn(e, "begin", db, "-ur").json()["Status"] == "OK"
