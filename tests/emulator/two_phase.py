"""Doris two-phase commit: `PUT /api/{db}[/{table}]/_stream_load_2pc` (commit or abort by txn_id or label)."""

from __future__ import annotations

from aiohttp import web

from tests.emulator.core import Dropped, EmulatorCore, json_response
from tests.emulator.replies import doris_2pc_reply
from tests.emulator.state import Txn, TxnState


class DorisTwoPhaseRoutes(EmulatorCore):
    """Commit or abort of PRECOMMITTED Doris transactions."""

    async def be_2pc(self, request: web.Request) -> web.StreamResponse:
        try:
            return await self._late(request, await self._be_2pc(request))
        except (Dropped, ConnectionResetError):
            return web.Response(status=204)

    async def _be_2pc(self, request: web.Request) -> web.StreamResponse:
        self.registry.stats["requests.be_2pc"] += 1
        db = request.match_info["db"]
        if not self._auth_ok(request):
            return json_response(
                doris_2pc_reply("ANALYSIS_ERROR", f"Access denied for user '{self._user(request)}'")
            )
        operation = request.headers.get("txn_operation", "").lower()
        txn_id_raw, label = request.headers.get("txn_id", ""), request.headers.get("label", "")
        if not txn_id_raw and not label:
            return json_response(doris_2pc_reply("INVALID_ARGUMENT", "No transaction id or label selected."))
        if operation not in ("commit", "abort"):
            return json_response(
                doris_2pc_reply("INVALID_ARGUMENT", "No transaction operation('commit' or 'abort') selected.")
            )
        fault = self.faults.take(None, "2pc", db, request.match_info.get("table"), label or None)
        early = await self._apply_fault(request, fault)
        if early is not None:
            return early
        txn: Txn | None
        if txn_id_raw:
            try:
                txn = self.registry.get(int(txn_id_raw))
            except ValueError:
                return json_response(doris_2pc_reply("INVALID_ARGUMENT", f"Invalid txn_id {txn_id_raw!r}"))
            subject = f"transaction [{txn_id_raw}]"
            if txn is not None and txn.db != db:
                txn = None
        else:
            txn = self.registry.lookup(db, label)
            subject = f"label [{label}]"
        if txn is None:
            return json_response(doris_2pc_reply("ANALYSIS_ERROR", f"{subject} not found"))
        tx = f"transaction [{txn.txn_id}]"
        if operation == "commit":
            if txn.state is TxnState.ABORTED:
                return json_response(
                    doris_2pc_reply("ANALYSIS_ERROR", f"{tx} is already aborted. abort reason: {txn.reason}")
                )
            if txn.state is not TxnState.PRECOMMITTED:
                return json_response(
                    doris_2pc_reply(
                        "ANALYSIS_ERROR", f"{tx} is already {txn.state.value}, not pre-committed."
                    )
                )
            try:
                await self._commit(txn.staged)
            except Exception as exc:
                return json_response(doris_2pc_reply("INTERNAL_ERROR", f"{tx} commit failed: {exc}"))
            if fault and fault.name == "publish_timeout":
                self.registry.finish(txn, TxnState.COMMITTED)
                txn.visible_at = self.registry.clock.now() + self.config.publish_delay
            else:
                self.registry.finish(txn, TxnState.VISIBLE)
            if fault and fault.name == "drop_after_commit":
                self._drop(request)
            return json_response(doris_2pc_reply("Success", f"{subject} commit successfully."))
        if txn.state in (TxnState.COMMITTED, TxnState.VISIBLE):
            return json_response(
                doris_2pc_reply("ANALYSIS_ERROR", f"{tx} is already {txn.state.value}, could not abort.")
            )
        if txn.state is TxnState.ABORTED:
            return json_response(
                doris_2pc_reply("ANALYSIS_ERROR", f"{tx} is already aborted, abort reason: {txn.reason}")
            )
        self.registry.finish(txn, TxnState.ABORTED, "user abort")
        return json_response(doris_2pc_reply("Success", f"{subject} abort successfully."))
