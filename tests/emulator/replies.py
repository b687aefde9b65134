"""Reply bodies with the field names, order and types each dialect really returns (pure).

Doris: doris.md §8.4 (`stream_load_context.cpp` to_json). StarRocks: starrocks.md §2.2, §2.6.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.emulator.dialects import Dialect, Flavor


@dataclass
class LoadOutcome:
    txn_id: int
    label: str
    status: str  # Success | Publish Timeout | Label Already Exists | Fail
    message: str
    total: int = 0
    loaded: int = 0
    filtered: int = 0
    unselected: int = 0
    load_bytes: int = 0
    load_ms: int = 0
    begin_ms: int = 0
    plan_ms: int = 0
    read_ms: int = 0
    write_ms: int = 0
    commit_ms: int = 0
    two_phase: bool = False
    group_commit: bool = False
    existing_job_status: str | None = None
    error_url: str | None = None


def stream_load_reply(dialect: Dialect, o: LoadOutcome) -> dict[str, Any]:
    body: dict[str, Any] = {"TxnId": o.txn_id, "Label": o.label}
    if dialect.flavor is Flavor.DORIS:
        body["Comment"] = ""
        if o.group_commit:
            body["GroupCommit"] = True
        else:
            body["TwoPhaseCommit"] = "true" if o.two_phase else "false"
    body["Status"] = o.status
    if o.existing_job_status is not None:
        body["ExistingJobStatus"] = o.existing_job_status
    body["Message"] = o.message
    body.update(
        NumberTotalRows=o.total,
        NumberLoadedRows=o.loaded,
        NumberFilteredRows=o.filtered,
        NumberUnselectedRows=o.unselected,
        LoadBytes=o.load_bytes,
        LoadTimeMs=o.load_ms,
    )
    if not o.group_commit:
        body["BeginTxnTimeMs"] = o.begin_ms
    body[dialect.plan_time_field] = o.plan_ms
    body["ReadDataTimeMs"] = o.read_ms
    body["WriteDataTimeMs"] = o.write_ms
    if dialect.flavor is Flavor.DORIS:
        body["ReceiveDataTimeMs"] = o.read_ms
    if not o.group_commit:
        body["CommitAndPublishTimeMs"] = o.commit_ms
    if o.error_url:
        body["ErrorURL"] = o.error_url
    return body


def fe_error(dialect: Dialect, message: str, transaction_api: bool = False) -> dict[str, Any]:
    """An FE-level error (no redirect issued), sent as HTTP 200."""
    if dialect.flavor is Flavor.DORIS:
        return {"status": "FAILED", "msg": message}
    if transaction_api:
        return {"Status": "FAILED", "Message": f"class com.starrocks.common.StarRocksException: {message}"}
    return {"status": "FAILED", "code": "1", "msg": message, "message": message}


def txn_reply(status: str, message: str, **fields: Any) -> dict[str, Any]:
    """A StarRocks transaction-API reply (`to_resp_json`): Status is a TStatusCode name."""
    body: dict[str, Any] = {"Status": status, "Message": message}
    body.update(fields)
    return body


def doris_2pc_reply(status: str, message: str) -> dict[str, Any]:
    return {"status": status, "msg": message}
