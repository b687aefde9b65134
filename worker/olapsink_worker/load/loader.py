"""The Stream Load client: loads, two-phase loads and label states for one sink, and the translation
of classified replies into results or errors. HTTP details (pooling, redirects, failover) are in
``transport.py``.

Bodies are not sent to the FE at all. The FE answers 307 before reading the body (that is what
``Expect: 100-continue`` is for), and httpx cannot do the 100-continue handshake, so it pushes the whole
body at the FE regardless. Tried here: if the FE closes the connection, httpx still reads the early 307;
if it keeps the connection open without reading, a 100 MB PUT ends in a write timeout and the 307 is
lost; either way the body would cross the network twice. So a load through the FE first asks where to
go with an empty, label-less PUT, then sends the body straight to the BE the FE named. An FE that
answers such a probe with a load reply (it is in fact a BE, or a proxy to one) is used as the target
itself; the empty probe carried no label, so it loaded nothing.

Thread-safe: the engine may run loads of different tables at the same time from a few threads.
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Protocol

import httpx

from olapsink_worker.errors import FatalSinkError, RecordError, RetryableLoadError
from olapsink_worker.load.compression import compress
from olapsink_worker.load.dialect import Compression, Dialect, Framing, dialect_for
from olapsink_worker.load.framing import frame_rows
from olapsink_worker.load.labels import LabelPart, make_label
from olapsink_worker.load.replies import LoadResult, Outcome, Reply, classify_txn_reply
from olapsink_worker.load.settings import LoaderSettings
from olapsink_worker.load.transport import REDIRECTS, Response, Transport, json_object, origin, strip_userinfo
from olapsink_worker.tables import TableRef

log = logging.getLogger(__name__)

# Rejected rows fetched from an ErrorURL: enough to show and dead-letter, bounded in memory.
MAX_ERROR_ROWS = 1000
_MAX_ERROR_LOG_BYTES = 4 * 1024 * 1024


class RowsRejectedError(RecordError):
    """The database refused rows of a batch (data quality, over ``max_filter_ratio``); nothing was loaded.

    Retrying the same body fails again. ``rejected_rows`` are the lines the database's error log gave
    (fetched from ``error_url``; may be empty when the log is unreachable).
    """

    def __init__(
        self,
        message: str,
        *,
        table: TableRef,
        label: str,
        error_url: str | None,
        rejected_rows: list[str],
        loaded_rows: int,
        filtered_rows: int,
    ) -> None:
        super().__init__(message)
        self.table = table
        self.label = label
        self.error_url = error_url
        self.rejected_rows = rejected_rows
        self.loaded_rows = loaded_rows
        self.filtered_rows = filtered_rows


class LoadMetrics(Protocol):
    """What the loader reports per load; the worker's metrics module implements it."""

    def load_finished(
        self, table: TableRef, outcome: str, seconds: float, body_bytes: int, rows: int
    ) -> None: ...


def _need_label(label: str | None) -> str:
    if not label:
        raise ValueError("StarRocks transactions are named by label: pass label=")
    return label


def _is_label_taken(reply: Reply) -> bool:
    return reply.result.status.lower().replace("_", " ") == "label already exists"


class StreamLoader:
    """Loads framed batches into one sink's tables with Stream Load.

    ``sink`` is a ``DorisSink``/``StarRocksSink`` (or ready ``LoaderSettings``); ``password`` is the
    database password read from its secret. ``client`` lets tests inject transports; when given, the
    caller owns it (``close`` leaves it open).
    """

    def __init__(
        self,
        sink: Any,
        password: str,
        *,
        client: httpx.Client | None = None,
        metrics: LoadMetrics | None = None,
    ) -> None:
        self.settings = sink if isinstance(sink, LoaderSettings) else LoaderSettings.from_sink(sink)
        if not self.settings.endpoints:
            raise FatalSinkError("no FE endpoints configured", reason="ConfigError")
        self.dialect: Dialect = dialect_for(self.settings.flavor)
        self.label_prefix = self.settings.label_prefix
        self._metrics = metrics
        token = base64.b64encode(f"{self.settings.user}:{password}".encode()).decode("ascii")
        self._auth = f"Basic {token}"
        probe_headers = self.dialect.load_headers(self.settings.options, None)
        self.framing: Framing = self.dialect.framing(probe_headers)
        try:
            self.compression: Compression = self.dialect.compression(probe_headers)
        except ValueError as error:
            raise FatalSinkError(f"spec.load.properties: {error}", reason="ConfigError") from error
        self._http = Transport(self.settings, self._auth, client)

    # -- pure helpers the engine uses -------------------------------------------------------------

    def label_for(self, table: TableRef, parts: Sequence[LabelPart]) -> str:
        """The deterministic label of a batch (see ``labels.make_label``)."""
        return make_label(self.label_prefix, table, parts, self.dialect)

    def frame(self, rows: Sequence[bytes]) -> bytes:
        """One body of ``rows``, framed as this loader's headers announce."""
        return frame_rows(rows, self.framing)

    # -- loading ---------------------------------------------------------------------------------

    def load(self, table: TableRef, body: bytes, label: str, rows: int) -> LoadResult:
        """Load one framed, uncompressed ``body`` of ``rows`` rows into ``table`` under ``label``.

        One logical attempt, including FE failover and the redirect. Returns when the rows are durable
        (``duplicate=True`` when an earlier attempt had already loaded this label). Raises
        ``RetryableLoadError`` (send the same label again later), ``RowsRejectedError`` (the database
        refused rows) or ``FatalSinkError`` (a person must act). With two-phase commit configured, the
        load is pre-committed and then committed before this returns.
        """
        two_phase = self.settings.two_phase_commit
        return self._measured(table, body, rows, lambda: self._load(table, body, label, two_phase, two_phase))

    def precommit(self, table: TableRef, body: bytes, label: str, rows: int) -> LoadResult:
        """First half of a two-phase load: the rows are loaded but invisible until ``commit``.

        Doris: Stream Load with ``two_phase_commit: true``; ``result.txn_id`` names the transaction
        (the database aborts it after its precommit timeout, 3600 s by default). StarRocks: the
        transaction API, begin → load → prepare; the label names the transaction (``result.status`` is
        ``PREPARED``; ``prepared_timeout`` applies). A label whose rows are already visible gives
        ``duplicate=True``. Same errors as ``load``. ``commit``/``abort`` by ``label`` work for both.
        """
        if self.dialect.transaction_path("begin") is not None:
            return self._measured(table, body, rows, lambda: self._txn_precommit(table, body, label))
        return self._measured(table, body, rows, lambda: self._load(table, body, label, True, False))

    def _measured(self, table: TableRef, body: bytes, rows: int, run: Callable[[], LoadResult]) -> LoadResult:
        started = time.monotonic()
        outcome = "error"
        try:
            result = run()
            outcome = "duplicate" if result.duplicate else "success"
            return result
        except RetryableLoadError:
            outcome = "retryable"
            raise
        except RowsRejectedError:
            outcome = "rejected"
            raise
        except FatalSinkError:
            outcome = "fatal"
            raise
        finally:
            if self._metrics is not None:
                self._metrics.load_finished(table, outcome, time.monotonic() - started, len(body), rows)

    def _load(self, table: TableRef, body: bytes, label: str, two_phase: bool, commit: bool) -> LoadResult:
        if not self.dialect.label_pattern.fullmatch(label):
            raise FatalSinkError(
                f"label {label!r} does not match the {self.dialect.name} rule "
                f"{self.dialect.label_pattern.pattern}; check spec.load.labelPrefix",
                reason="ConfigError",
            )
        headers = self._headers(label, two_phase=two_phase)
        payload = compress(body, self.compression)
        target = self._target(table, headers)
        response = self._http.send(target, "PUT", headers, payload, self.settings.load_read_timeout)
        reply = self.dialect.classify(
            response.status, response.content, label, retry_after=response.retry_after
        )
        if reply.outcome is Outcome.RETRYABLE and _is_label_taken(reply):
            reply = self._settle_existing_label(reply, table, label, commit=commit, precommit=two_phase)
        result = self._outcome(reply, table, label, response.url)
        if commit and not result.duplicate:
            # Without a txn id the precommitted rows are still ours to commit: by label, never left to expire.
            if result.txn_id is not None:
                self.commit(table, result.txn_id)
            else:
                self.commit(table, label=label)
        return result

    def _headers(self, label: str | None, *, two_phase: bool = False) -> dict[str, str]:
        options = self.settings.options
        if two_phase != options.two_phase_commit:
            options = replace(options, two_phase_commit=two_phase)
        headers = self.dialect.load_headers(options, label)
        headers["Authorization"] = self._auth
        return headers

    def _outcome(self, reply: Reply, table: TableRef, label: str, url: str) -> LoadResult:
        where = f"load of {label} into {table} at {origin(url)}"
        if reply.outcome in (Outcome.SUCCESS, Outcome.DUPLICATE):
            return reply.result
        if reply.outcome is Outcome.RETRYABLE:
            delay = reply.retry_after if reply.retry_after is not None else 1.0
            raise RetryableLoadError(f"{where}: {reply.reason}", delay=delay)
        if reply.outcome is Outcome.REJECTED:
            result = reply.result
            rows = self.fetch_error_rows(result.error_url) if result.error_url else []
            raise RowsRejectedError(
                f"{where}: {reply.reason} ({result.filtered_rows} rows filtered"
                + (f", see {result.error_url})" if result.error_url else ")"),
                table=table,
                label=label,
                error_url=result.error_url,
                rejected_rows=rows,
                loaded_rows=result.loaded_rows,
                filtered_rows=result.filtered_rows,
            )
        raise FatalSinkError(f"{where}: {reply.reason}", reason="LoadFailed")

    def _settle_existing_label(
        self, reply: Reply, table: TableRef, label: str, *, commit: bool, precommit: bool = False
    ) -> Reply:
        """The label is taken by a job not reported finished: ask the FE for the label's state.

        VISIBLE/COMMITTED means an earlier attempt did load it (count as done). PRECOMMITTED, when this
        load commits its own 2PC transactions, is an earlier attempt of ours whose commit was lost:
        commit it by label now; for a ``precommit`` call it is the precommitted load asked for, handed
        back (status ``PRECOMMITTED``) to be committed or aborted by label, as StarRocks' PREPARED is.
        Anything else (running, aborted and about to be free, unknown) stays retryable.
        """
        try:
            state = self.label_state(table.database, label)
            if state == "PRECOMMITTED" and commit:
                self._two_phase(table, "commit", label=label)
                state = "COMMITTED"
        except RetryableLoadError as error:
            log.debug("label %s could not be settled: %s", label, error)
            return reply
        if state == "PRECOMMITTED" and precommit and not commit:
            result = replace(reply.result, status="PRECOMMITTED", duplicate=False, txn_id=None)
            return Reply(Outcome.SUCCESS, result, f"label {label} is already precommitted")
        if state in ("VISIBLE", "COMMITTED"):
            result = replace(
                reply.result,
                status="Label Already Exists",
                duplicate=True,
                total_rows=0,
                loaded_rows=0,
                filtered_rows=0,
                unselected_rows=0,
            )
            return Reply(Outcome.DUPLICATE, result, f"label {label} was already loaded (state {state})")
        return Reply(reply.outcome, reply.result, f"{reply.reason} (label state {state})", reply.retry_after)

    def label_state(self, database: str, label: str) -> str:
        """The state of a label's transaction, upper-case: UNKNOWN, PREPARE, PREPARED/PRECOMMITTED,
        COMMITTED, VISIBLE or ABORTED (``GET /api/{db}/get_load_state?label=…`` on both databases).

        Raises ``RetryableLoadError`` when no FE gives a readable answer.
        """
        path = self.dialect.label_state_path(database, label)
        headers = {"Authorization": self._auth, "Connection": "close"}
        response = self._http.on_any_fe(path, "GET", headers, b"", follow=True)
        body = json_object(response.content) if response.status == 200 else None
        state = None
        if body is not None:
            # StarRocks: {"status":"OK","state":"VISIBLE"}; Doris: {"code":0,"msg":"success","data":"VISIBLE"}
            state = body.get("state") if "state" in body else body.get("data")
        if not isinstance(state, str) or not state:
            raise RetryableLoadError(
                f"label state of {label}: unreadable reply HTTP {response.status} {response.content[:200]!r}",
                delay=1.0,
            )
        return state.upper()

    # -- two-phase commit -------------------------------------------------------------------------

    def commit(self, table: TableRef, txn_id: int | None = None, *, label: str | None = None) -> None:
        """Commit a pre-committed transaction (Doris: by id or label; StarRocks: by label). Already
        committed or visible counts as done. Raises ``RetryableLoadError`` when not confirmed."""
        if self.dialect.two_phase_path(table) is None:
            self._txn_finish(table, "commit", _need_label(label))
        else:
            self._two_phase(table, "commit", txn_id, label=label)

    def abort(self, table: TableRef, txn_id: int | None = None, *, label: str | None = None) -> None:
        """Abort a pre-committed transaction (Doris: by id or label; StarRocks: by label). Already
        aborted counts as done."""
        if self.dialect.two_phase_path(table) is None:
            self._txn_finish(table, "rollback", _need_label(label))
        else:
            self._two_phase(table, "abort", txn_id, label=label)

    def _two_phase(
        self, table: TableRef, operation: str, txn_id: int | None = None, *, label: str | None = None
    ) -> None:
        if (txn_id is None) == (label is None):
            raise ValueError("name the transaction by txn_id or by label (one of them)")
        headers = {"Authorization": self._auth, "Expect": "100-continue", "txn_operation": operation}
        if txn_id is not None:
            headers["txn_id"] = str(txn_id)
            where = f"{operation} of transaction {txn_id} ({table})"
        else:
            headers["label"] = str(label)
            where = f"{operation} of label {label} ({table})"
        path = self.dialect.two_phase_path(table)
        if path is None:
            raise FatalSinkError(
                f"{self.dialect.name} has no two_phase_commit Stream Load", reason="ConfigError"
            )
        # A commit waits for the publish: give it the load's time, not the short FE read timeout.
        response = self._http.on_any_fe(
            path, "PUT", headers, b"", follow=True, read=self.settings.load_read_timeout
        )
        body = json_object(response.content) if response.status == 200 else None
        if body is None:
            raise RetryableLoadError(f"{where}: HTTP {response.status} {response.content[:200]!r}", delay=1.0)
        status = str(body.get("status", body.get("Status", "")))
        message = str(body.get("msg", body.get("Message", ""))).lower()
        done = ("already visible", "already committed") if operation == "commit" else ("already aborted",)
        if status.lower() == "success" or any(d in message for d in done):
            return
        raise RetryableLoadError(f"{where}: {status} {message}", delay=1.0)

    # -- StarRocks transaction API ----------------------------------------------------------------

    def _txn_headers(self, table: TableRef, label: str) -> dict[str, str]:
        return {"Authorization": self._auth, "label": label, "db": table.database, "table": table.table}

    def _txn_call(
        self, table: TableRef, op: str, label: str, extra: Mapping[str, str] | None = None
    ) -> Response:
        headers = {**self._txn_headers(table, label), **(extra or {})}
        path = self.dialect.transaction_path(op)
        if path is None:
            raise FatalSinkError(f"{self.dialect.name} has no transaction API", reason="ConfigError")
        # prepare waits for the BE to write the data and commit for the publish: both take as long as
        # a load may; a short timeout there would roll back (or re-commit) work that was about to finish.
        read = self.settings.load_read_timeout if op in ("prepare", "commit") else None
        return self._http.on_any_fe(path, "POST", headers, b"", follow=True, read=read)

    def _txn_precommit(self, table: TableRef, body: bytes, label: str) -> LoadResult:
        if not self.dialect.label_pattern.fullmatch(label):
            raise FatalSinkError(f"label {label!r} does not match the starrocks rule", reason="ConfigError")
        properties = self.settings.options.properties
        begun = self._txn_call(table, "begin", label, {"timeout": properties.get("timeout", "600")})
        reply = classify_txn_reply(begun.status, begun.content, label, retry_after=begun.retry_after)
        if _is_label_taken(reply) or reply.outcome is Outcome.DUPLICATE:
            return self._txn_settle(table, label, reply, begun.url)
        self._outcome(reply, table, label, begun.url)  # raises unless OK
        # The BE that began the transaction holds its context; the FE would redirect the load there.
        target = origin(begun.url) + str(self.dialect.transaction_path("load"))
        headers = {
            **self.dialect.load_headers(self.settings.options, label),
            **self._txn_headers(table, label),
        }
        try:
            loaded = self._http.send(
                target, "PUT", headers, compress(body, self.compression), self.settings.load_read_timeout
            )
            reply = classify_txn_reply(loaded.status, loaded.content, label, retry_after=loaded.retry_after)
            self._outcome(reply, table, label, loaded.url)
            extra = (
                {"prepared_timeout": properties["prepared_timeout"]}
                if "prepared_timeout" in properties
                else {}
            )
            prepared = self._txn_call(table, "prepare", label, extra)
            reply = classify_txn_reply(
                prepared.status, prepared.content, label, retry_after=prepared.retry_after
            )
            result = self._outcome(reply, table, label, prepared.url)
        except (RetryableLoadError, RowsRejectedError, FatalSinkError):
            self._txn_rollback_quietly(table, label)
            raise
        return replace(result, status="PREPARED")

    def _txn_settle(self, table: TableRef, label: str, reply: Reply, url: str) -> LoadResult:
        """``begin`` found the label taken: by visible rows (done), a prepared transaction of an earlier
        attempt (hand it back to be committed), or a transaction left open mid-load (roll it back so
        the retry can begin afresh)."""
        if reply.outcome is Outcome.DUPLICATE:
            return reply.result
        state = self.label_state(table.database, label)
        if state in ("VISIBLE", "COMMITTED"):
            return replace(
                reply.result, status="Label Already Exists", duplicate=True, loaded_rows=0, total_rows=0
            )
        if state == "PREPARED":
            return replace(reply.result, status="PREPARED", duplicate=False)
        if state == "PREPARE":
            self._txn_rollback_quietly(table, label)
        raise RetryableLoadError(
            f"transaction {label} on {table} at {origin(url)} is {state}; retrying after it settles",
            delay=1.0,
        )

    def _txn_finish(self, table: TableRef, op: str, label: str) -> None:
        """Commit or roll back by label; confirms through ``get_load_state`` when the reply is unclear."""
        response = self._txn_call(table, op, label)
        reply = classify_txn_reply(response.status, response.content, label)
        if reply.outcome is Outcome.SUCCESS:
            return
        wanted = ("VISIBLE", "COMMITTED") if op == "commit" else ("ABORTED", "UNKNOWN")
        state = self.label_state(table.database, label)
        if state in wanted:
            return
        if reply.outcome is Outcome.FATAL or (op == "commit" and state == "ABORTED"):
            raise FatalSinkError(
                f"{op} of {label} on {table}: {reply.reason} (state {state})", reason="LoadFailed"
            )
        raise RetryableLoadError(f"{op} of {label} on {table}: {reply.reason} (state {state})", delay=1.0)

    def _txn_rollback_quietly(self, table: TableRef, label: str) -> None:
        # Best effort: an open transaction left behind would hold the label until its timeout.
        try:
            self._txn_finish(table, "rollback", label)
        except (RetryableLoadError, FatalSinkError) as error:
            log.warning("could not roll back transaction %s on %s: %s", label, table, error)

    # -- error rows ------------------------------------------------------------------------------

    def fetch_error_rows(self, error_url: str, limit: int = MAX_ERROR_ROWS) -> list[str]:
        """The lines of a load's error log (``ErrorURL``): why each rejected row was refused.

        Best effort: an unreachable log gives an empty list (the URL is still reported).
        """
        try:
            text = self._http.fetch_text(error_url, _MAX_ERROR_LOG_BYTES)
        except (httpx.HTTPError, ValueError) as error:
            log.warning("could not fetch the error log %s: %s", strip_userinfo(error_url), error)
            return []
        return [line for line in text.splitlines() if line.strip()][:limit]

    def close(self) -> None:
        """Close the HTTP client (when the loader created it)."""
        self._http.close()

    def __enter__(self) -> StreamLoader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- where the body goes -----------------------------------------------------------------------

    def _target(self, table: TableRef, headers: Mapping[str, str]) -> str:
        """The URL to PUT the body to: the BE an FE redirects to, or a BE from the list (direct mode)."""
        path = self.dialect.stream_load_path(table)
        if not self.settings.auto_redirect and self.dialect.backends_path:
            return self._http.next_backend(self.dialect.backends_path) + path
        probe = {k: v for k, v in headers.items() if k.lower() != "label"}
        response = self._http.on_any_fe(path, "PUT", probe, b"", follow=False)
        if response.status in REDIRECTS and response.location:
            return response.location
        body = json_object(response.content) if response.status == 200 else None
        if body is not None and any(k.lower() == "txnid" for k in body):
            return response.url  # the "FE" ran the (empty, unlabelled) load itself: it is a BE
        reply = self.dialect.classify(response.status, response.content, "", retry_after=response.retry_after)
        if reply.outcome in (Outcome.SUCCESS, Outcome.DUPLICATE):
            return response.url
        return self._raise_probe(reply, table, response.url)

    def _raise_probe(self, reply: Reply, table: TableRef, url: str) -> str:
        where = f"load into {table} at {origin(url)}"
        if reply.outcome is Outcome.FATAL:
            raise FatalSinkError(f"{where}: {reply.reason}", reason="LoadFailed")
        delay = reply.retry_after if reply.retry_after is not None else 1.0
        raise RetryableLoadError(f"{where}: the FE did not redirect: {reply.reason}", delay=delay)
