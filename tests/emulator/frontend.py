"""FE endpoints: Basic auth, the Expect requirement, 307 to the BE, REST lookups and FE-level errors."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from tests.emulator.core import HOST, EmulatorCore, json_response
from tests.emulator.dialects import Flavor
from tests.emulator.replies import fe_error
from tests.emulator.state import TxnState
from tests.emulator.tables import TableSchema


class FrontendRoutes(EmulatorCore):
    """Handlers served on every FE port."""

    async def fe_stream_load(self, request: web.Request) -> web.StreamResponse:
        self.registry.stats["requests.fe_stream_load"] += 1
        auth = self._auth_ok(request)
        if not auth:
            return self._unauthorized()
        if request.headers.get("Expect", "").lower() != "100-continue":
            return json_response(fe_error(self.dialect, "There is no 100-continue header"))
        db, table = request.match_info["db"], request.match_info["table"]
        if self.dialect.flavor is Flavor.DORIS:
            mode = request.headers.get("group_commit", "")
            if mode and mode not in ("off_mode", "sync_mode", "async_mode"):
                return json_response(
                    fe_error(
                        self.dialect,
                        "Header `group_commit` can only be `sync_mode`, `async_mode` or `off_mode`.",
                    )
                )
        return self._redirect(request, "stream_load", db, table)

    async def fe_2pc(self, request: web.Request) -> web.StreamResponse:
        self.registry.stats["requests.fe_2pc"] += 1
        if not self._auth_ok(request):
            return self._unauthorized()
        if not request.headers.get("txn_id") and not request.headers.get("label"):
            return json_response(fe_error(self.dialect, "No transaction id or label selected."))
        if request.headers.get("txn_operation", "").lower() not in ("commit", "abort"):
            return json_response(
                fe_error(self.dialect, "No transaction operation('commit' or 'abort') selected.")
            )
        return self._redirect(request, "2pc", request.match_info["db"], request.match_info.get("table"))

    async def fe_transaction(self, request: web.Request) -> web.StreamResponse:
        op = request.match_info["op"]
        self.registry.stats[f"requests.fe_txn_{op}"] += 1
        if not self._auth_ok(request):
            return self._unauthorized()
        if op not in ("begin", "load", "prepare", "commit", "rollback"):
            return json_response(fe_error(self.dialect, f"Invalid transaction operation {op}", True))
        db, label = request.headers.get("db", ""), request.headers.get("label", "")
        if not label:
            return json_response(fe_error(self.dialect, "Empty label", True))
        if not db:
            return json_response(fe_error(self.dialect, "No database selected.", True))
        txn = self.registry.lookup(db, label)
        if op in ("commit", "rollback") and txn is not None and txn.state is not TxnState.PREPARE:
            # The FE leader finishes a PREPARED transaction itself, without a BE.
            return await self.be_transaction(request)
        return self._redirect(request, op, db, request.headers.get("table"))

    async def fe_backends(self, request: web.Request) -> web.StreamResponse:
        if not self._auth_ok(request):
            return self._unauthorized()
        backends = [{"ip": HOST, "http_port": self.be.port, "is_alive": True}]
        return json_response({"msg": "success", "code": 0, "data": {"backends": backends}, "count": 0})

    async def fe_load_state(self, request: web.Request) -> web.StreamResponse:
        if not self._auth_ok(request):
            return self._unauthorized()
        label = request.query.get("label", "")
        if not label:
            return json_response(fe_error(self.dialect, "No label selected."))
        txn = self.registry.lookup(request.match_info["db"], label)
        state = txn.state.value if txn else "UNKNOWN"
        if self.dialect.flavor is Flavor.DORIS:
            return json_response({"msg": "success", "code": 0, "data": state, "count": 0})
        return json_response({"status": "OK", "code": "0", "msg": "Success", "message": "OK", "state": state})

    async def fe_schema(self, request: web.Request) -> web.StreamResponse:
        if not self._auth_ok(request):
            return self._unauthorized()
        db, table = request.match_info["db"], request.match_info["table"]
        schema = await self._schema(db, table)
        if not isinstance(schema, TableSchema):
            what = f"Database [{db}]" if schema == "no_database" else f"Table [{table}]"
            return json_response({"msg": f"{what} does not exist", "code": 1, "data": None, "count": 0})
        properties = [
            {
                "name": c.name,
                "aggregation_type": "",
                "comment": "",
                "type": _olap_type(c.column_type),
                "is_key": c.name in schema.key,
                "nullable": c.nullable,
            }
            for c in schema.columns
        ]
        data = {
            "keysType": self.dialect.keys_type.get(schema.model, "DUP_KEYS"),
            "properties": properties,
            "status": 200,
        }
        return json_response({"msg": "success", "code": 0, "data": data, "count": 0})

    async def fe_query(self, request: web.Request) -> web.StreamResponse:
        """`POST /api/query/default_cluster/{db}` {"stmt": ...}: the statement runs on MariaDB as it is."""
        if not self._auth_ok(request):
            return self._unauthorized()
        db = request.match_info["db"]
        try:
            stmt = (await request.json())["stmt"]
        except (ValueError, KeyError, TypeError):
            return json_response(
                {"msg": 'the body must be {"stmt": "<SQL>"}', "code": 1, "data": None, "count": 0}
            )
        assert self.db is not None

        def run(conn: Any) -> tuple[list[Any] | None, list[Any]]:
            conn.select_db(db)
            with conn.cursor() as cur:
                cur.execute(stmt)
                return ([d[0] for d in cur.description] if cur.description else None), list(cur.fetchall())

        try:
            names, rows = await self.db.run(run)
        except Exception as exc:
            return json_response({"msg": str(exc), "code": 1, "data": None, "count": 0})
        if names is None:
            data: dict[str, Any] = {"type": "exec_status", "status": {}}
        else:
            data = {
                "type": "result_set",
                "meta": [{"name": n, "type": "STRING"} for n in names],
                "data": [[None if v is None else str(v) for v in row] for row in rows],
            }
        return json_response({"msg": "success", "code": 0, "data": data, "count": 0})


def _olap_type(column_type: str) -> str:
    t = column_type.upper().split(" ")[0]
    if t == "TINYINT(1)":
        return "BOOLEAN"
    if t == "LONGTEXT":
        return "STRING"
    if t == "DECIMAL(39,0)":
        return "LARGEINT"
    # MariaDB's integer display widths mean nothing to Doris or StarRocks.
    return re.sub(r"^(TINYINT|SMALLINT|MEDIUMINT|INT|BIGINT)\(\d+\)$", r"\1", t)
