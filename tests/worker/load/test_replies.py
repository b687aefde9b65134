"""Reply classification: every Status and every odd reply gets exactly one meaning; only a reply that
says the rows are durable is success."""

from __future__ import annotations

import json
from typing import Any

import pytest
from olapsink_worker.load.replies import Outcome, classify_reply, classify_txn_reply


def doris_reply(status: str, message: str = "OK", **extra: Any) -> bytes:
    body = {
        "TxnId": 1001,
        "Label": "lbl",
        "Comment": "",
        "TwoPhaseCommit": "false",
        "Status": status,
        "Message": message,
        "NumberTotalRows": 3,
        "NumberLoadedRows": 3,
        "NumberFilteredRows": 0,
        "NumberUnselectedRows": 0,
        "LoadBytes": 42,
        "LoadTimeMs": 7,
        **extra,
    }
    return (json.dumps(body) + "\n").encode()


CASES = [
    # (id, http status, body, expected outcome)
    ("success", 200, doris_reply("Success"), Outcome.SUCCESS),
    (
        "publish-timeout",
        200,
        doris_reply("Publish Timeout", "transaction commit successfully, BUT data will be visible later"),
        Outcome.SUCCESS,
    ),
    (
        "label-exists-finished",
        200,
        doris_reply("Label Already Exists", "[LABEL_ALREADY_EXISTS]...", ExistingJobStatus="FINISHED"),
        Outcome.DUPLICATE,
    ),
    (
        "label-exists-visible",
        200,
        doris_reply("Label Already Exists", "", ExistingJobStatus="VISIBLE"),
        Outcome.DUPLICATE,
    ),
    (
        "label-exists-running",
        200,
        doris_reply("Label Already Exists", "", ExistingJobStatus="RUNNING"),
        Outcome.RETRYABLE,
    ),
    (
        "label-exists-unknown",
        200,
        doris_reply("Label Already Exists", "", ExistingJobStatus=""),
        Outcome.RETRYABLE,
    ),
    (
        "sr-txn-label-exists-running",
        200,
        b'{"Status":"LABEL_ALREADY_EXISTS","ExistingJobStatus":"RUNNING","Message":"x"}',
        Outcome.RETRYABLE,
    ),
    (
        "filtered",
        200,
        doris_reply(
            "Fail",
            "[DATA_QUALITY_ERROR]too many filtered rows",
            NumberFilteredRows=2,
            NumberLoadedRows=1,
            ErrorURL="http://be:8040/api/_load_error_log?file=x",
        ),
        Outcome.REJECTED,
    ),
    (
        "sr-filtered",
        200,
        b'{"Status":"Fail","Message":"too many filtered rows","NumberFilteredRows":1}',
        Outcome.REJECTED,
    ),
    (
        "unknown-table",
        200,
        doris_reply("Fail", "[ANALYSIS_ERROR]TStatus: errCode = 2, detailMessage = Unknown table 'nope'"),
        Outcome.FATAL,
    ),
    (
        "unknown-db",
        200,
        b'{"status":"FAILED","msg":"errCode = 2, detailMessage = Unknown database \'nodb\'"}',
        Outcome.FATAL,
    ),
    (
        "sr-table-missing",
        200,
        b'{"Status":"FAILED","Message":"class com.starrocks.common.DdlException: Table nope does not exist"}',
        Outcome.FATAL,
    ),
    ("no-100-continue", 200, b'{"status":"FAILED","msg":"There is no 100-continue header"}', Outcome.FATAL),
    (
        "label-format",
        200,
        doris_reply(
            "Fail", "[ANALYSIS_ERROR]TStatus: errCode = 2, detailMessage = Label format error. regex: x"
        ),
        Outcome.FATAL,
    ),
    (
        "bad-timeout-header",
        200,
        doris_reply("Fail", "[INVALID_ARGUMENT]Invalid timeout format"),
        Outcome.FATAL,
    ),
    (
        "too-many-versions",
        200,
        doris_reply("Fail", "[E-235]too many versions, versions=2001"),
        Outcome.RETRYABLE,
    ),
    (
        "running-txns",
        200,
        doris_reply("Fail", "current running txns on db 10 is 1000, larger than limit 1000"),
        Outcome.RETRYABLE,
    ),
    (
        "schema-change",
        200,
        b'{"status":"FAILED","msg":"insert table t is blocked on schema change"}',
        Outcome.RETRYABLE,
    ),
    ("no-backend", 200, b'{"status":"FAILED","msg":"No available backend"}', Outcome.RETRYABLE),
    ("unknown-failure", 200, doris_reply("Fail", "[INTERNAL_ERROR]something odd"), Outcome.RETRYABLE),
    ("unknown-status", 200, doris_reply("Mystery"), Outcome.RETRYABLE),
    ("no-status", 200, b'{"msg":"hello"}', Outcome.RETRYABLE),
    (
        "success-not-a-load-reply",
        200,
        b'{"status":"Success","msg":"commit successfully."}',
        Outcome.RETRYABLE,
    ),
    ("not-json", 200, b"<html>gateway</html>", Outcome.RETRYABLE),
    ("json-array", 200, b"[1,2]", Outcome.RETRYABLE),
    ("empty-200", 200, b"", Outcome.RETRYABLE),
    ("500", 500, doris_reply("Success"), Outcome.RETRYABLE),
    ("502", 502, b"bad gateway", Outcome.RETRYABLE),
    ("503", 503, b"", Outcome.RETRYABLE),
    ("429", 429, b"", Outcome.RETRYABLE),
    ("307-final", 307, b"", Outcome.RETRYABLE),
    ("401", 401, b"", Outcome.FATAL),
    ("403", 403, b"", Outcome.FATAL),
    ("404", 404, b"", Outcome.FATAL),
    ("400", 400, doris_reply("Success"), Outcome.FATAL),
]


@pytest.mark.parametrize(
    ("http_status", "body", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_classification(http_status: int, body: bytes, expected: Outcome) -> None:
    assert classify_reply(http_status, body, "lbl").outcome is expected


def test_non_200_is_never_success_whatever_the_body_says() -> None:
    for http_status in (201, 202, 204, 302, 400, 500, 503):
        assert classify_reply(http_status, doris_reply("Success"), "lbl").outcome not in (
            Outcome.SUCCESS,
            Outcome.DUPLICATE,
        )


def test_success_reports_the_counts() -> None:
    reply = classify_reply(
        200,
        doris_reply(
            "Success",
            NumberTotalRows=5,
            NumberLoadedRows=4,
            NumberFilteredRows=1,
            NumberUnselectedRows=0,
            ErrorURL="http://be/api/_load_error_log?file=e",
        ),
        "lbl",
    )
    result = reply.result
    assert (result.status, result.txn_id, result.total_rows, result.loaded_rows, result.filtered_rows) == (
        "Success",
        1001,
        5,
        4,
        1,
    )
    assert (result.load_bytes, result.load_time_ms) == (42, 7)
    assert result.error_url == "http://be/api/_load_error_log?file=e"
    assert not result.duplicate


def test_duplicate_counts_nothing_new() -> None:
    reply = classify_reply(
        200, doris_reply("Label Already Exists", ExistingJobStatus="FINISHED", TxnId=-1), "lbl"
    )
    assert reply.result.duplicate
    assert reply.result.loaded_rows == 0
    assert reply.result.txn_id is None
    assert reply.result.label == "lbl"


def test_retry_after_is_kept_for_retryable_replies() -> None:
    assert classify_reply(503, b"", "l", retry_after=7.0).retry_after == 7.0


def test_fatal_reason_names_the_problem() -> None:
    reply = classify_reply(401, b"", "l")
    assert "credentials" in reply.reason


TXN_CASES = [
    ("ok", 200, b'{"Status":"OK","Message":"","Label":"lbl","TxnId":9}', Outcome.SUCCESS),
    (
        "label-finished",
        200,
        b'{"Status":"LABEL_ALREADY_EXISTS","ExistingJobStatus":"FINISHED"}',
        Outcome.DUPLICATE,
    ),
    (
        "label-running",
        200,
        b'{"Status":"LABEL_ALREADY_EXISTS","ExistingJobStatus":"RUNNING"}',
        Outcome.RETRYABLE,
    ),
    (
        "in-processing",
        200,
        b'{"Status":"TXN_IN_PROCESSING","Message":"Transaction in processing"}',
        Outcome.RETRYABLE,
    ),
    (
        "not-exists",
        200,
        b'{"Status":"TXN_NOT_EXISTS","Message":"Transaction with label l not exists"}',
        Outcome.RETRYABLE,
    ),
    ("filtered", 200, b'{"Status":"INTERNAL_ERROR","Message":"too many filtered rows"}', Outcome.REJECTED),
    ("unknown-table", 200, b'{"Status":"ANALYSIS_ERROR","Message":"unknown table db.t"}', Outcome.FATAL),
    (
        "fe-failed",
        200,
        b'{"Status":"FAILED","Message":"class DdlException: Table t does not exist"}',
        Outcome.FATAL,
    ),
    ("not-json", 200, b"oops", Outcome.RETRYABLE),
    ("401", 401, b"", Outcome.FATAL),
    ("503", 503, b"", Outcome.RETRYABLE),
]


@pytest.mark.parametrize(
    ("http_status", "body", "expected"), [c[1:] for c in TXN_CASES], ids=[c[0] for c in TXN_CASES]
)
def test_transaction_api_classification(http_status: int, body: bytes, expected: Outcome) -> None:
    assert classify_txn_reply(http_status, body, "lbl").outcome is expected


def test_plain_load_never_takes_ok_as_success() -> None:
    # "OK" is the transaction API's word; a plain Stream Load saying it is not a reply we understand
    assert classify_reply(200, b'{"Status":"OK"}', "lbl").outcome is Outcome.RETRYABLE


def test_filtered_rows_without_a_known_message_are_rejected_rows() -> None:
    body = doris_reply("Fail", "[INTERNAL_ERROR]something", NumberFilteredRows=1, ErrorURL="http://be/e")
    assert classify_reply(200, body, "lbl").outcome is Outcome.REJECTED


def test_transient_failure_wins_over_incidental_filtered_rows() -> None:
    body = doris_reply("Fail", "[E-235]too many versions", NumberFilteredRows=1, ErrorURL="http://be/e")
    assert classify_reply(200, body, "lbl").outcome is Outcome.RETRYABLE
