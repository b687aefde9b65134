"""`/_emulator/stats`: rows count when their transaction commits; precommitted and aborted rows apart.

Fresh count-only emulators (no MariaDB), so the figures start at zero; the accounting is the same with
MariaDB behind the emulator.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.emulator.handle import EmulatorHandle
from tests.emulator_tests.client import json_lines, send, stream_load

DORIS_JSON = {"format": "json", "read_json_by_line": "true"}


def rows(n: int) -> str:
    return json_lines([{"id": i} for i in range(n)])


def figures(e: EmulatorHandle) -> tuple[int, int, int]:
    """(rows, precommitted_rows, aborted_rows) as the HTTP endpoint reports them."""
    stats = httpx.get(f"{e.be_url}/_emulator/stats").json()
    assert stats == e.stats()
    return stats["rows"], stats["precommitted_rows"], stats["aborted_rows"]


def doris_2pc(e: EmulatorHandle, label: str, operation: str) -> None:
    headers = {"label": label, "txn_operation": operation}
    reply = send(e, "PUT", "/api/d/_stream_load_2pc", b"", headers).json()
    assert reply["status"] == "Success", reply


def test_doris_2pc_rows_count_at_commit_and_apart_while_precommitted_or_aborted(
    count_only_emulator: EmulatorHandle,
) -> None:
    e = count_only_emulator
    for label, n in (("a", 2), ("b", 3), ("c", 4)):
        reply = stream_load(e, "d", "t", rows(n), label=label, two_phase_commit="true", **DORIS_JSON)
        assert (reply["Status"], reply["NumberLoadedRows"]) == ("Success", n)
    assert figures(e) == (0, 9, 0)

    doris_2pc(e, "a", "commit")
    doris_2pc(e, "b", "abort")
    assert figures(e) == (2, 4, 3)

    e.advance_clock(3601)  # c passes the precommit timeout and is aborted
    assert figures(e) == (2, 0, 7)

    stream_load(e, "d", "t", rows(5), label="plain", **DORIS_JSON)
    assert figures(e) == (7, 0, 7)


def test_doris_rows_committed_before_a_dropped_reply_count(count_only_emulator: EmulatorHandle) -> None:
    e = count_only_emulator
    e.inject_fault("drop_after_commit", label_prefix="gone")
    with pytest.raises(httpx.HTTPError):  # the connection closes instead of the reply
        stream_load(e, "d", "t", rows(2), label="gone", **DORIS_JSON)
    assert e.txns(label="gone")[0]["state"] == "VISIBLE"
    assert figures(e) == (2, 0, 0)


def sr_txn(e: EmulatorHandle, op: str, label: str, body: bytes = b"", **headers: str) -> dict[str, Any]:
    all_headers = {"db": "d", "table": "t", "label": label, "format": "json", **headers}
    method = "PUT" if op == "load" else "POST"
    reply = send(e, method, f"/api/transaction/{op}", body, all_headers, expect=op == "load").json()
    assert reply["Status"] == "OK", reply
    result: dict[str, Any] = reply
    return result


def test_starrocks_txn_rows_count_at_commit_and_apart_while_prepared_or_aborted(
    count_only_starrocks_emulator: EmulatorHandle,
) -> None:
    e = count_only_starrocks_emulator
    sr_txn(e, "begin", "a")
    sr_txn(e, "load", "a", rows(2).encode())
    sr_txn(e, "load", "a", rows(1).encode())
    assert figures(e) == (0, 0, 0)  # loaded into an open transaction: not prepared yet
    sr_txn(e, "prepare", "a")
    assert figures(e) == (0, 3, 0)
    sr_txn(e, "commit", "a")
    assert figures(e) == (3, 0, 0)

    sr_txn(e, "begin", "b")
    sr_txn(e, "load", "b", rows(2).encode())
    sr_txn(e, "rollback", "b")
    assert figures(e) == (3, 0, 2)

    sr_txn(e, "begin", "c")
    sr_txn(e, "load", "c", rows(4).encode())
    sr_txn(e, "prepare", "c", prepared_timeout="60")
    assert figures(e) == (3, 4, 2)
    e.advance_clock(61)
    assert figures(e) == (3, 0, 6)
