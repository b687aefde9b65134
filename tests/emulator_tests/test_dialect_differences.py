"""The dialect differences (starrocks.md, summary) as one table: each is exercised against both flavors.

Each case sends the same requests to either flavor and returns what a user would observe; the table says
what each dialect must show.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.emulator.handle import EmulatorHandle
from tests.emulator_tests.client import send, stream_load

pytestmark = pytest.mark.integration


def keyed(e: EmulatorHandle) -> str:
    db = e.create_database()
    model = "UNIQUE" if e.flavor == "doris" else "PRIMARY"
    e.create_table(db, "t", model, {"id": "INT", "name": "VARCHAR(20)", "n": "INT"})
    return db


def rows(e: EmulatorHandle, db: str) -> list[tuple[Any, ...]]:
    return e.query(f"SELECT id, name, n FROM `{db}`.t ORDER BY id")


def transaction_api(e: EmulatorHandle) -> Any:
    db = keyed(e)
    reply = send(
        e, "POST", "/api/transaction/begin", b"", {"db": db, "table": "t", "label": "-x"}, expect=False
    )
    return reply.status_code


def two_phase_commit(e: EmulatorHandle) -> Any:
    db = keyed(e)
    reply = stream_load(e, db, "t", '{"id": 1}', format="json", two_phase_commit="true")
    precommit_visible = len(rows(e, db))
    endpoint = send(
        e,
        "PUT",
        f"/api/{db}/_stream_load_2pc",
        b"",
        {"txn_id": str(reply["TxnId"]), "txn_operation": "abort"},
    )
    return precommit_visible, endpoint.status_code


def reply_fields(e: EmulatorHandle) -> Any:
    db = keyed(e)
    reply = stream_load(e, db, "t", '{"id": 1}', format="json")
    return sorted(
        k for k in reply if k in ("Comment", "TwoPhaseCommit", "StreamLoadPutTimeMs", "StreamLoadPlanTimeMs")
    )


def delete_marker(e: EmulatorHandle) -> Any:
    db = keyed(e)
    stream_load(
        e, db, "t", '{"id": 1, "name": "a"}\n{"id": 2, "name": "b"}', format="json", read_json_by_line="true"
    )
    stream_load(
        e,
        db,
        "t",
        '{"id": 1, "__DORIS_DELETE_SIGN__": 1}',
        format="json",
        hidden_columns="__DORIS_DELETE_SIGN__",
    )
    stream_load(e, db, "t", '{"id": 2, "__op": 1}', format="json")
    return [r[0] for r in rows(e, db)]


def partial_update_header(e: EmulatorHandle) -> Any:
    db = keyed(e)
    stream_load(e, db, "t", '{"id": 1, "name": "a", "n": 1}', format="json")
    stream_load(e, db, "t", '{"id": 1, "n": 2}', format="json", columns="id,n", partial_columns="true")
    after_doris_header = rows(e, db)[0]
    stream_load(e, db, "t", '{"id": 1, "name": "a", "n": 1}', format="json")
    stream_load(e, db, "t", '{"id": 1, "n": 3}', format="json", columns="id,n", partial_update="true")
    return after_doris_header, rows(e, db)[0]


def json_lines_by_default(e: EmulatorHandle) -> Any:
    db = keyed(e)
    return stream_load(e, db, "t", '{"id": 1}\n{"id": 2}', format="json")["Status"]


def row_delimiter_header(e: EmulatorHandle) -> Any:
    db = keyed(e)
    doris = stream_load(e, db, "t", "1,a,1|2,b,2", column_separator=",", line_delimiter="|")["Status"]
    starrocks = stream_load(e, db, "t", "3,c,3|4,d,4", column_separator=",", row_delimiter="|")["Status"]
    return doris, starrocks


def label_with_colon(e: EmulatorHandle) -> Any:
    db = keyed(e)
    return stream_load(e, db, "t", '{"id": 1}', format="json", label="topic:0:42")["Status"]


def group_commit(e: EmulatorHandle) -> Any:
    db = keyed(e)
    reply = stream_load(e, db, "t", '{"id": 1}', format="json", group_commit="sync_mode")
    return reply.get("GroupCommit", False)


def compression_header(e: EmulatorHandle) -> Any:
    db = keyed(e)
    body = gzip.compress(b'{"id": 1}')
    doris = stream_load(e, db, "t", body, format="json", compress_type="gz")["Status"]
    starrocks = stream_load(e, db, "t", body, format="json", compression="gzip")["Status"]
    return doris, starrocks


def location_userinfo(e: EmulatorHandle) -> Any:
    reply = httpx.put(
        f"{e.fe_url}/api/d/t/_stream_load",
        content=b"{}",
        auth=(e.user, e.password),
        headers={"Expect": "100-continue"},
    )
    return urlsplit(reply.headers["location"]).username is not None


def label_state_endpoint(e: EmulatorHandle) -> Any:
    db = keyed(e)
    stream_load(e, db, "t", '{"id": 1}', format="json", label="s-1")
    body = httpx.get(
        f"{e.fe_url}/api/{db}/get_load_state", params={"label": "s-1"}, auth=(e.user, e.password)
    )
    return sorted(body.json())


@dataclass(frozen=True)
class Difference:
    name: str
    run: Callable[[EmulatorHandle], Any]
    doris: Any
    starrocks: Any


DIFFERENCES = [
    Difference("transaction API only in StarRocks", transaction_api, 404, 200),
    Difference("2PC by header and _stream_load_2pc only in Doris", two_phase_commit, (0, 200), (1, 404)),
    Difference(
        "reply field names",
        reply_fields,
        ["Comment", "StreamLoadPutTimeMs", "TwoPhaseCommit"],
        ["StreamLoadPlanTimeMs"],
    ),
    Difference("delete marker: __DORIS_DELETE_SIGN__ vs __op", delete_marker, [2], [1]),
    Difference(
        "partial update header: partial_columns vs partial_update",
        partial_update_header,
        ((1, "a", 2), (1, None, 3)),
        ((1, None, 2), (1, "a", 3)),
    ),
    Difference("JSON lines need read_json_by_line in Doris only", json_lines_by_default, "Fail", "Success"),
    Difference(
        "row delimiter header: line_delimiter vs row_delimiter",
        row_delimiter_header,
        ("Success", "Fail"),
        ("Fail", "Success"),
    ),
    Difference("label regex: Doris allows ':'", label_with_colon, "Success", "Fail"),
    Difference("group_commit only in Doris", group_commit, True, False),
    Difference(
        "compression header: compress_type vs compression",
        compression_header,
        ("Success", "Fail"),
        ("Fail", "Success"),
    ),
    Difference("credentials in the FE's Location only in Doris", location_userinfo, True, False),
    Difference(
        "get_load_state reply shape",
        label_state_endpoint,
        ["code", "count", "data", "msg"],
        ["code", "message", "msg", "state", "status"],
    ),
]


@pytest.mark.parametrize("flavor", ["doris", "starrocks"])
@pytest.mark.parametrize("difference", DIFFERENCES, ids=[d.name for d in DIFFERENCES])
def test_dialect_difference(difference: Difference, flavor: str, request: pytest.FixtureRequest) -> None:
    emulator: EmulatorHandle = request.getfixturevalue(f"{flavor}_emulator")
    assert difference.run(emulator) == getattr(difference, flavor)
