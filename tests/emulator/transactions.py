"""StarRocks Transaction Stream Load: `/api/transaction/{begin,load,prepare,commit,rollback}`."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from tests.emulator.body import decompress, split_carry
from tests.emulator.core import Dropped, EmulatorCore, json_response, read_body
from tests.emulator.faults import Fault
from tests.emulator.options import LoadRejected, parse_options
from tests.emulator.replies import fe_error, txn_reply
from tests.emulator.rows import Plan
from tests.emulator.state import LIVE, StagedLoad, Txn, TxnState
from tests.emulator.tables import TableSchema

# Headers that may differ between loads of one StarRocks transaction.
_PER_REQUEST_HEADERS = {
    "content-length",
    "transfer-encoding",
    "authorization",
    "expect",
    "host",
    "connection",
    "user-agent",
    "accept",
    "accept-encoding",
    "content-type",
    "content-encoding",
}


class StarRocksTransactionRoutes(EmulatorCore):
    """The transaction API on the BE (and on the FE for finished transactions)."""

    async def be_transaction(self, request: web.Request) -> web.StreamResponse:
        try:
            return await self._late(request, await self._be_transaction(request))
        except (Dropped, ConnectionResetError):
            return web.Response(status=204)

    async def _be_transaction(self, request: web.Request) -> web.StreamResponse:
        op = request.match_info["op"]
        self.registry.stats[f"requests.txn_{op}"] += 1
        headers = {k.lower(): v for k, v in request.headers.items()}
        db, table, label = headers.get("db", ""), headers.get("table", ""), headers.get("label", "")
        if not self._auth_ok(request):
            return json_response(
                txn_reply("INTERNAL_ERROR", f"Access denied for user '{self._user(request)}'")
            )
        if not label:
            return json_response(txn_reply("INVALID_ARGUMENT", "Empty label"))
        if not db:
            return json_response(txn_reply("INVALID_ARGUMENT", "Empty database"))
        if op == "load":
            framing = self._body_framing_error(request)
            if framing:
                return json_response(txn_reply("INVALID_ARGUMENT", framing, Label=label))
        fault = self.faults.take(None, op, db, table or None, label)
        early = await self._apply_fault(request, fault)
        if early is not None:
            return early
        if op == "begin":
            return await self._txn_begin(db, table, label, headers)
        txn = self.registry.lookup(db, label)
        if txn is None:
            return json_response(
                txn_reply("TXN_NOT_EXISTS", f"Transaction with label {label} not exists", Label=label)
            )
        if op == "load":
            return await self._txn_load(request, txn, table, headers, fault)
        if op == "prepare":
            return await self._txn_prepare(txn, headers, fault)
        if op == "commit":
            return await self._txn_commit(request, txn, headers, fault)
        if op == "rollback":
            return self._txn_rollback(txn)
        return json_response(txn_reply("INVALID_ARGUMENT", f"Invalid transaction operation {op}"))

    async def _txn_begin(self, db: str, table: str, label: str, headers: dict[str, str]) -> web.Response:
        label_error = self.dialect.label_error(label)
        if label_error:
            return json_response(txn_reply("INVALID_ARGUMENT", label_error, Label=label))
        holder = self.registry.holder(db, label)
        if holder is not None:
            return json_response(
                txn_reply(
                    "LABEL_ALREADY_EXISTS",
                    f"Label [{label}] has already been used.",
                    Label=label,
                    ExistingJobStatus=holder.job_status,
                )
            )
        if not table:
            return json_response(txn_reply("INVALID_ARGUMENT", "Empty table", Label=label))
        if self.db is not None:
            schema = await self._schema(db, table)
            if not isinstance(schema, TableSchema):
                what = f"unknown database {db}" if schema == "no_database" else f"unknown table {db}.{table}"
                return json_response(txn_reply("ANALYSIS_ERROR", what, Label=label))
        try:
            timeout = float(headers.get("timeout") or 600)
        except ValueError:
            return json_response(txn_reply("INVALID_ARGUMENT", "Invalid timeout format", Label=label))
        running_error = self._running_txns_error(db)
        if running_error:
            return json_response(txn_reply("INTERNAL_ERROR", running_error, Label=label))
        txn = self.registry.begin(db, table, label, self.registry.clock.now() + timeout)
        return json_response(txn_reply("OK", "", Label=label, TxnId=txn.txn_id, BeginTxnTimeMs=0))

    def _txn_fail(self, txn: Txn, status: str, message: str) -> web.Response:
        """Errors in load/prepare roll the transaction back (starrocks.md §5)."""
        self.registry.finish(txn, TxnState.ABORTED, message)
        return json_response(txn_reply(status, message, Label=txn.label, TxnId=txn.txn_id))

    async def _txn_load(
        self, request: web.Request, txn: Txn, table: str, headers: dict[str, str], fault: Fault | None
    ) -> web.Response:
        start = time.monotonic()
        if txn.state is not TxnState.PREPARE:
            return json_response(
                txn_reply("TXN_NOT_EXISTS", f"Transaction with label {txn.label} not exists", Label=txn.label)
            )
        if txn.busy:
            return json_response(txn_reply("TXN_IN_PROCESSING", "Transaction in processing", Label=txn.label))
        if table and table != txn.table:
            return json_response(
                txn_reply(
                    "INVALID_ARGUMENT",
                    f"Request table {table} not equal transaction table {txn.table}",
                    Label=txn.label,
                )
            )
        txn.busy = True
        try:
            body = await read_body(request)
            try:
                opts = parse_options(headers, self.dialect)
            except LoadRejected as exc:
                return self._txn_fail(txn, "INVALID_ARGUMENT", exc.message)
            options_key = tuple(sorted((k, v) for k, v in headers.items() if k not in _PER_REQUEST_HEADERS))
            if txn.options_key is not None and txn.options_key != options_key:
                return self._txn_fail(
                    txn, "INVALID_ARGUMENT", "all loads in one transaction must use the same parameters"
                )
            txn.options_key = options_key
            # The BE adds up Content-Length over a transaction's loads before the JSON size check.
            size_error = self._json_size_error(opts, request.content_length, txn.json_bytes)
            if size_error:
                return self._txn_fail(txn, "INVALID_ARGUMENT", size_error)
            txn.json_bytes += request.content_length or 0
            if fault and fault.name == "too_many_versions":
                return self._txn_fail(txn, "INTERNAL_ERROR", self._too_many_versions_message())
            try:
                data = decompress(body, opts.compression, self.dialect)
                if opts.format == "csv":
                    # "CSV data in each load must end with the row delimiter": the BE joins the loads of a
                    # transaction into one stream, so an unterminated last row continues in the next load.
                    data, txn.csv_carry = split_carry(txn.csv_carry + data, opts.row_delimiter)
                plan, schema = await self._plan_data(txn.db, txn.table, data, opts)
            except LoadRejected as exc:
                return self._txn_fail(txn, exc.code, exc.message)
            txn.seq += 1
            txn.load_bytes += len(body)
            txn.load_options = opts
            self._txn_add(txn, plan, schema)
            self.registry.stats["bytes"] += len(body)
            return json_response(
                txn_reply(
                    "OK",
                    "",
                    TxnId=txn.txn_id,
                    Seq=txn.seq,
                    Label=txn.label,
                    NumberTotalRows=plan.total,
                    NumberLoadedRows=plan.loaded,
                    NumberFilteredRows=len(plan.filtered),
                    NumberUnselectedRows=plan.unselected,
                    LoadBytes=len(body),
                    LoadTimeMs=self._now_ms(start),
                    StreamLoadPlanTimeMs=0,
                    ReceivedDataTimeMs=0,
                )
            )
        finally:
            txn.busy = False

    def _txn_add(self, txn: Txn, plan: Plan, schema: TableSchema | None) -> None:
        txn.total += plan.total
        txn.loaded += plan.loaded
        txn.filtered += len(plan.filtered)
        txn.max_filter_ratio = txn.load_options.max_filter_ratio
        if plan.filtered:
            txn.error_url = self._error_log(txn, plan.filtered)
        if schema is not None:
            txn.staged.append(StagedLoad(schema, plan))

    def _txn_counts(self, txn: Txn, start: float) -> dict[str, Any]:
        counts: dict[str, Any] = {
            "NumberTotalRows": txn.total,
            "NumberLoadedRows": txn.loaded,
            "NumberFilteredRows": txn.filtered,
            "NumberUnselectedRows": txn.unselected,
            "LoadBytes": txn.load_bytes,
            "LoadTimeMs": self._now_ms(start),
            "StreamLoadPlanTimeMs": 0,
            "ReceivedDataTimeMs": 0,
            "WriteDataTimeMs": 0,
            "CommitAndPublishTimeMs": 0,
        }
        if txn.error_url:
            counts["ErrorURL"] = txn.error_url
        return counts

    async def _txn_prepare(self, txn: Txn, headers: dict[str, str], fault: Fault | None) -> web.Response:
        start = time.monotonic()
        if txn.state is TxnState.PREPARED:
            return json_response(
                txn_reply("OK", "", Label=txn.label, TxnId=txn.txn_id, **self._txn_counts(txn, start))
            )
        if txn.state is not TxnState.PREPARE:
            return json_response(
                txn_reply("TXN_NOT_EXISTS", f"Transaction with label {txn.label} not exists", Label=txn.label)
            )
        if txn.busy:
            return json_response(txn_reply("TXN_IN_PROCESSING", "Transaction in processing", Label=txn.label))
        if txn.seq == 0:
            return self._txn_fail(
                txn, "INTERNAL_ERROR", f"transaction with label {txn.label} hasn't send any data yet"
            )
        if fault and fault.name == "too_many_versions":
            return self._txn_fail(txn, "INTERNAL_ERROR", self._too_many_versions_message())
        if txn.csv_carry:
            # The stream ends here, so the unterminated tail is the last row.
            carry, txn.csv_carry = txn.csv_carry, b""
            try:
                plan, schema = await self._plan_data(txn.db, txn.table, carry, txn.load_options)
            except LoadRejected as exc:
                return self._txn_fail(txn, exc.code, exc.message)
            self._txn_add(txn, plan, schema)
        considered = txn.loaded + txn.filtered
        if txn.filtered and txn.filtered > txn.max_filter_ratio * considered:
            counts = self._txn_counts(txn, start)
            self.registry.finish(txn, TxnState.ABORTED, "too many filtered rows")
            return json_response(
                txn_reply(
                    "INTERNAL_ERROR", "too many filtered rows", Label=txn.label, TxnId=txn.txn_id, **counts
                )
            )
        try:
            prepared_timeout = float(headers.get("prepared_timeout") or self.config.prepared_timeout)
        except ValueError:
            return self._txn_fail(txn, "INVALID_ARGUMENT", "Invalid prepared_timeout format")
        txn.state = TxnState.PREPARED
        txn.deadline = self.registry.clock.now() + prepared_timeout
        return json_response(
            txn_reply("OK", "", Label=txn.label, TxnId=txn.txn_id, **self._txn_counts(txn, start))
        )

    async def _txn_commit(
        self, request: web.Request, txn: Txn, headers: dict[str, str], fault: Fault | None
    ) -> web.Response:
        if txn.state in (TxnState.COMMITTED, TxnState.VISIBLE):
            return json_response(
                txn_reply("OK", "Transaction already commited", TxnId=txn.txn_id, Label=txn.label)
            )
        if txn.state is TxnState.ABORTED:
            return json_response(
                fe_error(
                    self.dialect, f"Can not commit {txn.txn_id}: transaction is aborted: {txn.reason}", True
                )
            )
        if txn.state is TxnState.PREPARE:
            # Commit without prepare: the BE prepares first.
            prepared = await self._txn_prepare(txn, headers, None)
            if txn.state is not TxnState.PREPARED:
                return prepared
        try:
            await self._commit(txn.staged)
        except Exception as exc:
            return json_response(txn_reply("INTERNAL_ERROR", f"commit failed: {exc}", Label=txn.label))
        self.registry.stats["loads.Success"] += 1
        if fault and fault.name == "publish_timeout":
            self.registry.finish(txn, TxnState.COMMITTED)
            txn.visible_at = self.registry.clock.now() + self.config.publish_delay
            return json_response(
                txn_reply(
                    "PUBLISH_TIMEOUT",
                    "transaction commit successfully, BUT data will be visible later",
                    TxnId=txn.txn_id,
                    Label=txn.label,
                )
            )
        self.registry.finish(txn, TxnState.VISIBLE)
        if fault and fault.name == "drop_after_commit":
            self._drop(request)
        return json_response(txn_reply("OK", "", TxnId=txn.txn_id, Label=txn.label))

    def _txn_rollback(self, txn: Txn) -> web.Response:
        if txn.state in (TxnState.COMMITTED, TxnState.VISIBLE):
            return json_response(
                fe_error(
                    self.dialect,
                    f"transaction {txn.txn_id} is already {txn.state.value}, can not abort",
                    True,
                )
            )
        if txn.state in LIVE:
            self.registry.finish(txn, TxnState.ABORTED, "user abort")
        return json_response(txn_reply("OK", "", TxnId=txn.txn_id, Label=txn.label))
