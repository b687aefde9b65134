"""BE Stream Load: `PUT /api/{db}/{table}/_stream_load`, group commit and the error log."""

from __future__ import annotations

import asyncio
import time
import uuid

from aiohttp import web

from tests.emulator.core import Dropped, EmulatorCore, json_response, log, read_body
from tests.emulator.faults import Fault
from tests.emulator.options import LoadOptions, LoadRejected, parse_options
from tests.emulator.replies import LoadOutcome, stream_load_reply
from tests.emulator.rows import Plan
from tests.emulator.state import StagedLoad, Txn, TxnState


class StreamLoadRoutes(EmulatorCore):
    """Plain Stream Load on the BE, both dialects."""

    async def be_error_log(self, request: web.Request) -> web.StreamResponse:
        text = self.registry.error_logs.get(request.query.get("file", ""))
        if text is None:
            return web.Response(status=404, text="error log not found\n")
        return web.Response(text=text)

    def _fail(self, outcome: LoadOutcome) -> web.Response:
        self.registry.stats[f"loads.{outcome.status}"] += 1
        return json_response(stream_load_reply(self.dialect, outcome))

    async def be_stream_load(self, request: web.Request) -> web.StreamResponse:
        try:
            return await self._late(request, await self._be_stream_load(request))
        except (Dropped, ConnectionResetError):
            return web.Response(status=204)
        except Exception as exc:
            # A real BE answers 200 with Status Fail; an emulator bug must not look like a network fault.
            log.exception("stream load failed inside the emulator")
            label = request.headers.get("label", "")
            message = self.dialect.message("INTERNAL_ERROR", f"emulator error: {exc!r}")
            return self._fail(LoadOutcome(-1, label, "Fail", message))

    async def _be_stream_load(self, request: web.Request) -> web.StreamResponse:
        start = time.monotonic()
        db, table = request.match_info["db"], request.match_info["table"]
        headers = {k.lower(): v for k, v in request.headers.items()}
        label = headers.get("label") or ""
        self.registry.stats["requests.be_stream_load"] += 1
        refusal = self._refusal(request, label)
        if refusal:
            return self._fail(LoadOutcome(-1, label, "Fail", refusal))
        fault = self.faults.take(None, "stream_load", db, table, label)
        early = await self._apply_fault(request, fault)
        if early is not None:
            return early
        body = await read_body(request)
        read_ms = self._now_ms(start)
        try:
            opts = parse_options(headers, self.dialect)
            group = self._group_commit_mode(opts, request)
            size_error = self._json_size_error(opts, request.content_length)
            if size_error:
                raise LoadRejected(size_error)
            label = self._admit_label(db, opts, group)
            running_error = self._running_txns_error(db)
            if running_error:
                raise LoadRejected(running_error)
        except LoadRejected as exc:
            return self._fail(LoadOutcome(-1, label, "Fail", exc.message, load_bytes=len(body)))
        except _LabelTaken as taken:
            return self._fail(taken.outcome)
        txn = self.registry.begin(db, table, label)
        outcome = LoadOutcome(
            txn.txn_id,
            label,
            "Success",
            "OK",
            load_bytes=len(body),
            read_ms=read_ms,
            two_phase=opts.two_phase_commit,
            group_commit=bool(group),
        )
        try:
            plan, schema = await self._plan(db, table, body, opts)
        except LoadRejected as exc:
            return self._abort(txn, outcome, exc.message, start)
        outcome.total, outcome.loaded, outcome.filtered = plan.total, plan.loaded, len(plan.filtered)
        outcome.unselected = plan.unselected
        if plan.filtered:
            outcome.error_url = self._error_log(txn, plan.filtered)
        if self._too_many_filtered(plan, opts):
            return self._abort(
                txn, outcome, self.dialect.message("DATA_QUALITY_ERROR", "too many filtered rows"), start
            )
        if plan.total == 0:
            message = "the load body has no rows (emulator refuses empty loads)"
            return self._abort(txn, outcome, self.dialect.message("INTERNAL_ERROR", message), start)
        if fault and fault.name == "too_many_versions":
            return self._abort(txn, outcome, self._too_many_versions_message(), start)
        staged = [StagedLoad(schema, plan)] if schema is not None else []
        if opts.two_phase_commit:
            txn.staged, txn.state, txn.loaded = staged, TxnState.PRECOMMITTED, plan.loaded
            txn.precommitted_at = self.registry.clock.now()
            txn.deadline = txn.precommitted_at + self.registry.precommit_timeout
        elif group == "async_mode":
            # Visible only after the group's internal commit.
            txn.staged, txn.loaded = staged, plan.loaded
            self.registry.commit_later(txn)
            self._spawn(self._publish_later(txn))
        else:
            await self._commit_now(request, txn, outcome, staged, fault)
        return self._reply_load(outcome, start)

    def _refusal(self, request: web.Request, label: str) -> str | None:
        """Why the BE refuses the request before reading it: credentials or body framing."""
        d = self.dialect
        auth = self._auth_ok(request)
        if auth is None:
            return d.message("INTERNAL_ERROR", "no valid Basic authorization")
        if not auth:
            denied = f"Access denied for user '{self._user(request)}'"
            return d.message("ANALYSIS_ERROR", f"TStatus: errCode = 2, detailMessage = {denied}")
        framing = self._body_framing_error(request)
        return d.message("INVALID_ARGUMENT", framing) if framing else None

    def _admit_label(self, db: str, opts: LoadOptions, group: str | None) -> str:
        """The load's label: generated under group commit or when absent; must be valid and free."""
        d = self.dialect
        if group and opts.label:
            raise LoadRejected(
                d.message("INVALID_ARGUMENT", "label and group_commit can't be set at the same time")
            )
        if group:
            label = f"group_commit_{uuid.uuid4().hex[:16]}_{uuid.uuid4().hex[:16]}"
        else:
            label = opts.label or str(uuid.uuid4())
        label_error = d.label_error(label)
        if label_error:
            raise LoadRejected(label_error)
        holder = self.registry.holder(db, label)
        if holder is not None:
            detail = f"Label [{label}] has already been used, relate to txn [{holder.txn_id}]"
            message = (
                d.message("LABEL_ALREADY_EXISTS", f"TStatus: errCode = 2, detailMessage = {detail}")
                if d.coded_messages
                else f"Label [{label}] has already been used."
            )
            raise _LabelTaken(
                LoadOutcome(-1, label, "Label Already Exists", message, existing_job_status=holder.job_status)
            )
        return label

    def _abort(self, txn: Txn, outcome: LoadOutcome, message: str, start: float) -> web.Response:
        self.registry.finish(txn, TxnState.ABORTED, message)
        outcome.status, outcome.message = "Fail", message
        return self._reply_load(outcome, start)

    async def _commit_now(
        self,
        request: web.Request,
        txn: Txn,
        outcome: LoadOutcome,
        staged: list[StagedLoad],
        fault: Fault | None,
    ) -> None:
        write_start = time.monotonic()
        try:
            await self._commit(staged)
        except Exception as exc:
            self.registry.finish(txn, TxnState.ABORTED, str(exc))
            outcome.status, outcome.message = (
                "Fail",
                self.dialect.message("INTERNAL_ERROR", f"write failed: {exc}"),
            )
            return
        outcome.write_ms = self._now_ms(write_start)
        txn.loaded = outcome.loaded
        if fault and fault.name == "publish_timeout":
            self.registry.finish(txn, TxnState.COMMITTED)
            txn.visible_at = self.registry.clock.now() + self.config.publish_delay
            outcome.status = "Publish Timeout"
            outcome.message = self.dialect.message(
                "PUBLISH_TIMEOUT", "transaction commit successfully, BUT data will be visible later"
            )
        else:
            self.registry.finish(txn, TxnState.VISIBLE)
        if fault and fault.name == "drop_after_commit":
            self._drop(request)

    def _reply_load(self, outcome: LoadOutcome, start: float) -> web.Response:
        outcome.load_ms = self._now_ms(start)
        self.registry.stats[f"loads.{outcome.status}"] += 1
        if outcome.status in ("Success", "Publish Timeout"):
            # Rows count when their transaction commits (Registry.finish), not when a 2PC load precommits.
            self.registry.stats["bytes"] += outcome.load_bytes
        self.registry.stats["filtered_rows"] += outcome.filtered
        return json_response(stream_load_reply(self.dialect, outcome))

    def _group_commit_mode(self, opts: LoadOptions, request: web.Request) -> str | None:
        """The group-commit mode in effect; disqualified loads run as normal loads (doris.md §8.5)."""
        if opts.group_commit is None or opts.two_phase_commit or opts.partial_update:
            return None
        if opts.group_commit == "async_mode" and "Content-Length" not in request.headers:
            return "sync_mode"  # chunked loads of unknown size fall back to sync
        return opts.group_commit

    def _too_many_filtered(self, plan: Plan, opts: LoadOptions) -> bool:
        considered = plan.loaded + len(plan.filtered)
        return bool(plan.filtered) and len(plan.filtered) > opts.max_filter_ratio * considered

    async def _publish_later(self, txn: Txn) -> None:
        await asyncio.sleep(self.config.group_commit_interval)
        try:
            await self._commit(txn.staged)
            self.registry.finish(txn, TxnState.VISIBLE)
        except Exception as exc:
            self.registry.finish(txn, TxnState.ABORTED, str(exc))


class _LabelTaken(Exception):
    def __init__(self, outcome: LoadOutcome) -> None:
        super().__init__(outcome.message)
        self.outcome = outcome
