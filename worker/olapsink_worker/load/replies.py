"""Stream Load replies: parse the JSON a Doris/StarRocks server sends back and say what it means.

Both databases answer HTTP 200 for failed loads too; the outcome is in the JSON ``Status``. FE-level errors
use other shapes (``{"status":"FAILED","msg":…}`` in Doris, ``{"Status":"FAILED","Message":…}`` in
StarRocks). Anything we cannot read as one of the known answers is *not* success: a load is only counted
as done on a reply that says so.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class Outcome(enum.Enum):
    """What the caller may do with a reply."""

    SUCCESS = "success"  # rows are durable (visible, or committed and publishing)
    DUPLICATE = "duplicate"  # the label was already loaded by an earlier attempt: durable, count as done
    RETRYABLE = "retryable"  # nothing durable happened (or we cannot tell); the same label may be sent again
    REJECTED = "rejected"  # the database refused rows (data quality): retrying the same body fails again
    FATAL = "fatal"  # configuration/permission problem: a person must act


@dataclass(frozen=True)
class LoadResult:
    """The facts of one durable load, as the database reported them.

    ``status`` is the database's word (``Success``, ``Publish Timeout``, ``Label Already Exists``).
    ``duplicate`` is true when the label had already been loaded (a replay after a crash): the rows
    counts then describe nothing new and are zero. ``error_url`` is set when rows were filtered.
    """

    label: str
    status: str
    duplicate: bool = False
    txn_id: int | None = None
    total_rows: int = 0
    loaded_rows: int = 0
    filtered_rows: int = 0
    unselected_rows: int = 0
    load_bytes: int = 0
    load_time_ms: int = 0
    error_url: str | None = None
    message: str = ""


@dataclass(frozen=True)
class Reply:
    """A classified reply: the outcome, the facts, and (when retryable) a hint of how long to wait."""

    outcome: Outcome
    result: LoadResult
    reason: str
    retry_after: float | None = None


# Statuses the plain Stream Load reply uses for a durable load.
_DURABLE_STATUSES = frozenset({"success", "publish timeout"})
# ExistingJobStatus values (and transaction states) that mean the earlier load with this label is done.
_FINISHED_JOB_STATES = frozenset({"finished", "visible", "committed"})

# Messages that no retry can fix: wrong names, rights, or request shape. Matched case-insensitively.
_FATAL_PATTERNS = re.compile(
    r"unknown table|unknown database|does not exist|doesn't exist|not exist|no database selected"
    r"|no table selected|access denied|unauthorized|not authorized|authenticat|password"
    r"|label format error|invalid label|there is no 100-continue header|can only be"
    r"|must be bool|only primary key table support partial update|primary key size exceed"
    r"|invalid (?:format|argument|column|strict mode)|is not supported|not support",
    re.IGNORECASE,
)
# Messages saying the database refused rows: retrying the same body cannot help.
_REJECTED_PATTERNS = re.compile(
    r"too many filtered rows|data quality|unqualified data|filtered rows",
    re.IGNORECASE,
)
# Bad request values: fatal even when they mention a word of the transient list ("Invalid timeout format").
_BAD_VALUE_PATTERNS = re.compile(
    r"invalid \w+ format|must be bool|label format error|there is no 100-continue header",
    re.IGNORECASE,
)
# Messages known to be transient even though they look like errors; checked before the fatal list.
_TRANSIENT_PATTERNS = re.compile(
    r"too many versions|-235|current running txns|blocked on schema change|timeout|timed out"
    r"|exceed http|cuncurrent limit|concurrent limit|no available backend|is busy|memory"
    r"|service unavailable|txn_in_processing|try again|retry",
    re.IGNORECASE,
)


def _get(body: Mapping[str, Any], *names: str) -> Any:
    """The first present key among ``names``, matched case-insensitively (both key casings exist)."""
    lowered = {k.lower(): v for k, v in body.items()}
    for name in names:
        if name.lower() in lowered:
            return lowered[name.lower()]
    return None


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _result_from(body: Mapping[str, Any], label: str, status: str, *, duplicate: bool = False) -> LoadResult:
    txn = _get(body, "TxnId")
    error_url = _get(body, "ErrorURL")
    return LoadResult(
        label=str(_get(body, "Label") or label),
        status=status,
        duplicate=duplicate,
        txn_id=_int(txn) if txn is not None and _int(txn) >= 0 else None,
        total_rows=0 if duplicate else _int(_get(body, "NumberTotalRows")),
        loaded_rows=0 if duplicate else _int(_get(body, "NumberLoadedRows")),
        filtered_rows=0 if duplicate else _int(_get(body, "NumberFilteredRows")),
        unselected_rows=0 if duplicate else _int(_get(body, "NumberUnselectedRows")),
        load_bytes=_int(_get(body, "LoadBytes")),
        load_time_ms=_int(_get(body, "LoadTimeMs")),
        error_url=str(error_url) if error_url else None,
        message=str(_get(body, "Message", "msg") or ""),
    )


def _classify_failure(message: str, result: LoadResult) -> tuple[Outcome, str]:
    if _REJECTED_PATTERNS.search(message):
        return Outcome.REJECTED, f"the database rejected rows: {message}"
    if _BAD_VALUE_PATTERNS.search(message):
        return Outcome.FATAL, f"{message}; check spec.load.properties"
    if _TRANSIENT_PATTERNS.search(message):
        return Outcome.RETRYABLE, f"transient load failure: {message}"
    if _FATAL_PATTERNS.search(message):
        return Outcome.FATAL, message
    if result.filtered_rows > 0 and result.error_url:
        return Outcome.REJECTED, f"the database rejected rows: {message}"
    # Unknown failures are retried; the retry budget bounds them and then the sink stops.
    return Outcome.RETRYABLE, f"load failed: {message or 'no message'}"


def classify_reply(
    http_status: int,
    content: bytes,
    label: str,
    *,
    retry_after: float | None = None,
) -> Reply:
    """Classify one final (non-redirect) reply of a plain Stream Load PUT.

    Pure function: ``http_status`` and ``content`` are what the server sent, ``label`` is the label we
    sent (used when the reply does not echo it), ``retry_after`` the parsed ``Retry-After`` header.
    """
    empty = LoadResult(label=label, status="")
    if http_status in (401, 403):
        return Reply(
            Outcome.FATAL,
            empty,
            f"HTTP {http_status}: the database refused the credentials; check the user and password secret",
        )
    if http_status == 404:
        return Reply(
            Outcome.FATAL,
            empty,
            "HTTP 404: no Stream Load endpoint at this address; check the HTTP port and URLs",
        )
    if http_status == 429 or http_status >= 500 or http_status in (408, 409, 425):
        return Reply(Outcome.RETRYABLE, empty, f"HTTP {http_status} from the server", retry_after)
    if http_status in (301, 302, 303, 307, 308):
        return Reply(Outcome.RETRYABLE, empty, f"HTTP {http_status}: too many redirects")
    if http_status != 200:
        return Reply(Outcome.FATAL, empty, f"HTTP {http_status}: unexpected reply {content[:200]!r}")

    try:
        body = json.loads(content)
    except ValueError:
        return Reply(Outcome.RETRYABLE, empty, f"unparsable reply (not JSON): {content[:200]!r}")
    if not isinstance(body, dict):
        return Reply(Outcome.RETRYABLE, empty, f"unparsable reply (not an object): {content[:200]!r}")

    status = str(_get(body, "Status") or "")
    message = str(_get(body, "Message", "msg") or "")
    key = status.lower()
    if key in _DURABLE_STATUSES:
        if _get(body, "TxnId") is None and _get(body, "NumberLoadedRows") is None:
            # "Success" alone is also what an FE says for other calls (e.g. a 2PC commit); without the
            # transaction or the row counts this is not a load reply, so nothing is known to be loaded.
            return Reply(Outcome.RETRYABLE, empty, f"not a Stream Load reply: {content[:200]!r}")
        return Reply(Outcome.SUCCESS, _result_from(body, label, status), status)
    if key in ("label already exists", "label_already_exists"):
        existing = str(_get(body, "ExistingJobStatus") or "")
        if existing.lower() in _FINISHED_JOB_STATES:
            return Reply(
                Outcome.DUPLICATE,
                _result_from(body, label, "Label Already Exists", duplicate=True),
                f"label {label} was already loaded (job {existing})",
            )
        return Reply(
            Outcome.RETRYABLE,
            _result_from(body, label, status),
            f"label {label} is in use by a job that is {existing or 'in an unknown state'}; waiting for it",
            retry_after,
        )
    if not status:
        return Reply(Outcome.RETRYABLE, empty, f"reply without Status: {content[:200]!r}")
    result = _result_from(body, label, status)
    outcome, reason = _classify_failure(message or status, result)
    return Reply(outcome, result, reason, retry_after if outcome is Outcome.RETRYABLE else None)


# StarRocks transaction API replies use TStatusCode names; these two mean "not now", not "never".
_TXN_TRANSIENT = frozenset({"txn_in_processing", "txn_not_exists"})


def classify_txn_reply(
    http_status: int,
    content: bytes,
    label: str,
    *,
    retry_after: float | None = None,
) -> Reply:
    """Classify a reply of the StarRocks transaction API (``/api/transaction/{begin,load,prepare,
    commit,rollback}``): ``OK`` is success; ``LABEL_ALREADY_EXISTS`` is read like the plain load's
    "Label Already Exists"; ``TXN_IN_PROCESSING``/``TXN_NOT_EXISTS`` are retryable; other codes
    (``INTERNAL_ERROR``, ``INVALID_ARGUMENT``, ``ANALYSIS_ERROR``, FE ``FAILED``) by their message.
    """
    if http_status != 200:
        return classify_reply(http_status, content, label, retry_after=retry_after)
    try:
        body = json.loads(content)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return classify_reply(http_status, content, label, retry_after=retry_after)
    status = str(_get(body, "Status") or "")
    key = status.lower()
    if key == "ok":
        return Reply(Outcome.SUCCESS, _result_from(body, label, status), status)
    if key in _TXN_TRANSIENT:
        message = str(_get(body, "Message", "msg") or "")
        return Reply(
            Outcome.RETRYABLE, _result_from(body, label, status), f"{status}: {message}", retry_after
        )
    return classify_reply(http_status, content, label, retry_after=retry_after)
