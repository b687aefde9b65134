"""Wire-level details: 100-continue timing, chunked and framing-less bodies, header validation, labels."""

from __future__ import annotations

import base64
import concurrent.futures
import socket
import threading
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from tests.emulator.handle import EmulatorHandle
from tests.emulator_tests.client import json_lines, send, stream_load

pytestmark = pytest.mark.integration


def table(e: EmulatorHandle, model: str = "DUPLICATE") -> str:
    db = e.create_database()
    e.create_table(db, "t", model, {"id": "INT", "name": "VARCHAR(20)"})
    return db


def count(e: EmulatorHandle, db: str) -> int:
    return int(e.query(f"SELECT COUNT(*) FROM `{db}`.t")[0][0])


def raw_request(url: str, request: bytes, read_timeout: float = 5.0) -> bytes:
    parts = urlsplit(url)
    assert parts.hostname and parts.port
    with socket.create_connection((parts.hostname, parts.port), timeout=read_timeout) as sock:
        sock.sendall(request)
        return sock.recv(4096)


def basic(e: EmulatorHandle) -> str:
    return base64.b64encode(f"{e.user}:{e.password}".encode()).decode()


def test_large_body_sent_without_waiting_still_gets_the_redirect(any_emulator: EmulatorHandle) -> None:
    """httpx sends the body at once; the FE replies 307 unread and drains it, keeping the connection."""
    e = any_emulator
    body = b'{"id": 1}\n' * 800_000  # 8 MB, far beyond the socket buffers
    headers = {"Expect": "100-continue", "format": "json"}
    with httpx.Client(auth=(e.user, e.password), timeout=30) as client:
        for _ in range(2):
            reply = client.put(f"{e.fe_url}/api/db/t/_stream_load", content=body, headers=headers)
            assert reply.status_code == 307


def test_chunked_body_is_accepted(any_emulator: EmulatorHandle) -> None:
    e = any_emulator
    db = table(e)

    def chunks() -> Iterator[bytes]:
        yield b'{"id": 1}\n'
        yield b'{"id": 2}'

    with httpx.Client(auth=(e.user, e.password)) as client:
        reply = client.put(
            f"{e.be_url}/api/{db}/t/_stream_load",
            content=chunks(),
            headers={"format": "json", "read_json_by_line": "true"},
        )
    assert reply.json()["Status"] == "Success"
    assert count(e, db) == 2


def test_body_without_length_or_chunking_is_refused(any_emulator: EmulatorHandle) -> None:
    e = any_emulator
    head = raw_request(
        e.be_url,
        f"PUT /api/db/t/_stream_load HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {basic(e)}\r\n"
        "Connection: close\r\n\r\n".encode(),
    )
    assert head.startswith(b"HTTP/1.1 200")
    assert b'"Status": "Fail"' in head and b"Content-Length" in head


def test_slow_continue_delays_the_100(any_emulator: EmulatorHandle) -> None:
    e = any_emulator
    e.inject_fault("slow_continue:0.8", label_prefix="sc-")
    started = time.monotonic()
    head = raw_request(
        e.be_url,
        f"PUT /api/db/t/_stream_load HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {basic(e)}\r\n"
        "label: sc-1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n".encode(),
    )
    assert head.startswith(b"HTTP/1.1 100 Continue")
    assert time.monotonic() - started >= 0.8


def test_label_length_and_characters(any_emulator: EmulatorHandle) -> None:
    e = any_emulator
    db = table(e)
    assert stream_load(e, db, "t", '{"id": 1}', format="json", label="a" * 128)["Status"] == "Success"
    too_long = stream_load(e, db, "t", '{"id": 1}', format="json", label="b" * 129)
    assert too_long["Status"] == "Fail" and "Label format error" in too_long["Message"]
    assert too_long["TxnId"] == -1
    assert stream_load(e, db, "t", '{"id": 1}', format="json", label="topic.0")["Status"] == "Fail"


def test_malformed_boolean_header_is_refused(any_emulator: EmulatorHandle) -> None:
    e = any_emulator
    db = table(e)
    reply = stream_load(e, db, "t", '{"id": 1}', format="json", strict_mode="yes")
    assert reply["Status"] == "Fail"
    assert "Invalid strict mode format. Must be bool type" in reply["Message"]


def test_headers_the_emulator_does_not_emulate_fail_loudly(any_emulator: EmulatorHandle) -> None:
    e = any_emulator
    db = table(e)
    reply = stream_load(e, db, "t", '{"id": 1}', format="json", where="id > 0")
    assert reply["Status"] == "Fail" and "not emulated" in reply["Message"]
    assert count(e, db) == 0


def test_doris_json_body_is_one_document_without_read_json_by_line(doris_emulator: EmulatorHandle) -> None:
    e = doris_emulator
    db = table(e)
    assert stream_load(e, db, "t", '{"id": 1}', format="json")["Status"] == "Success"
    array = stream_load(e, db, "t", '[{"id": 2}, {"id": 3}]', format="json")
    assert array["Status"] == "Fail"
    assert (
        stream_load(e, db, "t", '[{"id": 2}, {"id": 3}]', format="json", strip_outer_array="true")[
            "NumberLoadedRows"
        ]
        == 2
    )


def test_starrocks_accepts_concatenated_json_objects(starrocks_emulator: EmulatorHandle) -> None:
    e = starrocks_emulator
    db = table(e)
    reply = stream_load(e, db, "t", '{"id": 1}{"id": 2}\n{"id": 3}', format="json")
    assert reply["NumberLoadedRows"] == 3


def test_label_held_by_a_precommitted_txn_is_running(doris_emulator: EmulatorHandle) -> None:
    e = doris_emulator
    db = table(e)
    stream_load(e, db, "t", '{"id": 1}', format="json", label="held", two_phase_commit="true")
    again = stream_load(e, db, "t", '{"id": 1}', format="json", label="held")
    assert (again["Status"], again["ExistingJobStatus"]) == ("Label Already Exists", "RUNNING")


def test_doris_2pc_on_the_table_path(doris_emulator: EmulatorHandle) -> None:
    e = doris_emulator
    db = table(e)
    txn = stream_load(e, db, "t", '{"id": 1}', format="json", two_phase_commit="true")["TxnId"]
    reply = send(
        e, "PUT", f"/api/{db}/t/_stream_load_2pc", b"", {"txn_id": str(txn), "txn_operation": "commit"}
    )
    assert reply.json()["status"] == "Success"
    assert count(e, db) == 1


def test_publish_timeout_label_turns_visible_later(any_emulator: EmulatorHandle) -> None:
    e = any_emulator
    db = table(e)
    e.inject_fault("publish_timeout", label_prefix="ptv-")
    stream_load(e, db, "t", '{"id": 1}', format="json", label="ptv-1")
    assert e.txns(db=db, label="ptv-1")[0]["state"] == "COMMITTED"
    e.advance_clock(3)
    assert e.txns(db=db, label="ptv-1")[0]["state"] == "VISIBLE"


def test_concurrent_loads_into_one_unique_table(any_emulator: EmulatorHandle) -> None:
    e = any_emulator
    db = table(e, "UNIQUE" if e.flavor == "doris" else "PRIMARY")

    def load(worker: int) -> str:
        body = json_lines([{"id": i, "name": f"w{worker}"} for i in range(200)])
        return str(stream_load(e, db, "t", body, format="json", read_json_by_line="true")["Status"])

    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        statuses = list(pool.map(load, range(6)))
    assert statuses == ["Success"] * 6
    assert count(e, db) == 200


def test_starrocks_one_request_at_a_time_per_transaction(starrocks_emulator: EmulatorHandle) -> None:
    e = starrocks_emulator
    db = table(e)
    headers = {"db": db, "table": "t", "label": "-busy", "format": "json"}
    send(e, "POST", "/api/transaction/begin", b"", headers, expect=False)
    release = threading.Event()

    def slow_body() -> Iterator[bytes]:
        yield b'{"id": 1}'
        release.wait(5)
        yield b'\n{"id": 2}'

    with concurrent.futures.ThreadPoolExecutor(1) as pool, httpx.Client(auth=(e.user, e.password)) as client:
        first = pool.submit(
            client.put, f"{e.be_url}/api/transaction/load", content=slow_body(), headers=headers
        )
        time.sleep(0.3)
        second = send(e, "PUT", "/api/transaction/load", b'{"id": 3}', headers)
        release.set()
        assert second.json()["Status"] == "TXN_IN_PROCESSING"
        assert first.result().json()["Status"] == "OK"


def test_json_size_limit_per_dialect(any_emulator: EmulatorHandle) -> None:
    e = any_emulator
    db = table(e)
    e.configure(json_max_bytes=100)
    body = json_lines([{"id": i, "name": "abcdefgh"} for i in range(6)])  # > 100 bytes
    too_big = stream_load(e, db, "t", body, format="json")
    assert too_big["Status"] == "Fail" and "exceed the max size [100]" in too_big["Message"]
    escape = {"read_json_by_line": "true"} if e.flavor == "doris" else {"ignore_json_size": "true"}
    assert stream_load(e, db, "t", body, format="json", **escape)["Status"] == "Success"


def test_starrocks_json_size_adds_up_over_a_transaction(starrocks_emulator: EmulatorHandle) -> None:
    e = starrocks_emulator
    db = table(e)
    e.configure(json_max_bytes=100)
    headers = {"db": db, "table": "t", "label": "-big", "format": "json"}
    send(e, "POST", "/api/transaction/begin", b"", headers, expect=False)
    body = b'{"id": 1, "name": "abcdefghijkl"}\n'  # 34 bytes
    replies = [send(e, "PUT", "/api/transaction/load", body, headers).json() for _ in range(3)]
    assert [r["Status"] for r in replies] == ["OK", "OK", "INVALID_ARGUMENT"]  # 3 x 34 bytes > 100
    assert "exceed the max size [100] of json type data data [102]" in replies[2]["Message"]
