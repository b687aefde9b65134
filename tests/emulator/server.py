"""The emulator's HTTP surface: FE endpoints (auth, Expect, 307 to the BE, schema/backends/label state)
and BE endpoints (Stream Load, Doris 2PC, StarRocks transaction API, error logs), plus `/_emulator/*`
control routes on both. All FEs of one emulator share its BE and state.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import re
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from aiohttp import web

from tests.emulator.body import count_rows, csv_records, decompress, json_records
from tests.emulator.dialects import Dialect, Flavor, dialect_for
from tests.emulator.faults import CONTINUE, REDIRECT, Fault, FaultBook, parse_rule
from tests.emulator.options import LoadOptions, LoadRejected, parse_options
from tests.emulator.replies import LoadOutcome, doris_2pc_reply, fe_error, stream_load_reply, txn_reply
from tests.emulator.rows import Plan, build_plan, source_names
from tests.emulator.state import LIVE, Registry, StagedLoad, Txn, TxnState
from tests.emulator.storage import Database, apply_plans, resolve_partial
from tests.emulator.tables import TableSchema, load_schema

HOST = "127.0.0.1"
log = logging.getLogger("olapsink.emulator")
SLOW_REPLY = web.RequestKey("slow_reply", float)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class EmulatorConfig:
    flavor: str = "doris"
    user: str = "root"
    password: str = ""
    mysql_host: str = HOST
    mysql_port: int = 3306
    mysql_user: str = "root"
    mysql_password: str = ""
    count_only: bool = False
    label_keep_seconds: float | None = None  # None: the dialect's default
    precommit_timeout: float = 3600.0  # Doris stream_load_default_precommit_timeout_second
    prepared_timeout: float = 86400.0  # StarRocks prepared_transaction_default_timeout_second
    group_commit_interval: float = 1.0  # seconds until async_mode group-commit data is visible
    publish_delay: float = 2.0  # seconds a Publish Timeout txn stays COMMITTED before VISIBLE


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


class Dropped(Exception):
    """The handler closed the connection on purpose (a `drop` fault)."""


@dataclass
class Site:
    port: int
    runner: web.AppRunner | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def json_response(body: dict[str, Any], status: int = 200) -> web.Response:
    return web.json_response(body, status=status)


class Emulator:
    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.dialect: Dialect = dialect_for(config.flavor)
        keep = (
            config.label_keep_seconds
            if config.label_keep_seconds is not None
            else self.dialect.label_keep_seconds
        )
        self.registry = Registry(keep, config.precommit_timeout)
        self._defaults = {name: getattr(config, name) for name in TUNABLE}
        self._defaults["label_keep_seconds"] = keep
        self.faults = FaultBook()
        self.db: Database | None = None
        if not config.count_only:
            self.db = Database(config.mysql_host, config.mysql_port, config.mysql_user, config.mysql_password)
        self.be = Site(0)
        self.fes: list[Site] = []
        # A port nothing listens on, for the be_unreachable fault.
        self.dead_port = free_port()
        self._tasks: set[asyncio.Task[Any]] = set()

    # ----------------------------------------------------------------------------------- lifecycle

    @property
    def be_url(self) -> str:
        return f"http://{HOST}:{self.be.port}"

    def fe_url(self, index: int = 0) -> str:
        return f"http://{HOST}:{self.fes[index].port}"

    async def start(self, fe_ports: list[int], be_port: int) -> None:
        self.be = Site(be_port or free_port())
        await self._start_site(self.be, self.be_app())
        for port in fe_ports:
            site = Site(port or free_port())
            self.fes.append(site)
            await self._start_site(site, self.fe_app())

    async def _start_site(self, site: Site, app: web.Application) -> None:
        # Bodies are decompressed by the load path (Content-Encoding and compress_type name one layer).
        runner = web.AppRunner(app, access_log=None, handle_signals=False, auto_decompress=False)
        await runner.setup()
        await web.TCPSite(runner, HOST, site.port, reuse_address=True).start()
        site.runner = runner

    async def stop_fe(self, index: int = 0) -> None:
        site = self.fes[index]
        if site.runner is not None:
            await site.runner.cleanup()
            site.runner = None

    async def start_fe(self, index: int = 0) -> None:
        site = self.fes[index]
        if site.runner is None:
            await self._start_site(site, self.fe_app())

    async def stop(self) -> None:
        for index in range(len(self.fes)):
            await self.stop_fe(index)
        if self.be.runner is not None:
            await self.be.runner.cleanup()
            self.be.runner = None
        for task in list(self._tasks):
            task.cancel()
        if self.db is not None:
            self.db.close()

    # ----------------------------------------------------------------------------------- apps

    def _control_routes(self, app: web.Application) -> None:
        app.router.add_post("/_emulator/faults", self.control_add_fault)
        app.router.add_get("/_emulator/faults", self.control_list_faults)
        app.router.add_delete("/_emulator/faults", self.control_clear_faults)
        app.router.add_get("/_emulator/stats", self.control_stats)
        app.router.add_post("/_emulator/clock", self.control_clock)
        app.router.add_get("/_emulator/txns", self.control_txns)
        app.router.add_post("/_emulator/config", self.control_config)
        app.router.add_post("/_emulator/reset", self.control_reset)

    def fe_app(self) -> web.Application:
        app = web.Application(client_max_size=1 << 34)
        no_continue = self._fe_expect
        app.router.add_route(
            "PUT", "/api/{db}/{table}/_stream_load", self.fe_stream_load, expect_handler=no_continue
        )
        if self.dialect.flavor is Flavor.DORIS:
            app.router.add_route("PUT", "/api/{db}/_stream_load_2pc", self.fe_2pc, expect_handler=no_continue)
            app.router.add_route(
                "PUT", "/api/{db}/{table}/_stream_load_2pc", self.fe_2pc, expect_handler=no_continue
            )
            app.router.add_get("/api/backends", self.fe_backends)
            app.router.add_post("/api/query/default_cluster/{db}", self.fe_query)
        else:
            for method in ("POST", "PUT"):
                app.router.add_route(
                    method, "/api/transaction/{op}", self.fe_transaction, expect_handler=no_continue
                )
        app.router.add_get("/api/{db}/get_load_state", self.fe_load_state)
        app.router.add_get("/api/{db}/{table}/_schema", self.fe_schema)
        self._control_routes(app)
        return app

    def be_app(self) -> web.Application:
        app = web.Application(client_max_size=1 << 34)
        cont = self._be_expect
        app.router.add_route(
            "PUT", "/api/{db}/{table}/_stream_load", self.be_stream_load, expect_handler=cont
        )
        if self.dialect.flavor is Flavor.DORIS:
            app.router.add_route("PUT", "/api/{db}/_stream_load_2pc", self.be_2pc, expect_handler=cont)
            app.router.add_route(
                "PUT", "/api/{db}/{table}/_stream_load_2pc", self.be_2pc, expect_handler=cont
            )
        else:
            for method in ("POST", "PUT"):
                app.router.add_route(
                    method, "/api/transaction/{op}", self.be_transaction, expect_handler=cont
                )
        app.router.add_get("/api/_load_error_log", self.be_error_log)
        self._control_routes(app)
        return app

    # ----------------------------------------------------------------------------------- helpers

    def _auth_ok(self, request: web.Request) -> bool | None:
        """True/False for a Basic header with the right/wrong credentials; None when there is none."""
        header = request.headers.get("Authorization", "")
        if not header.lower().startswith("basic "):
            return None
        try:
            user, _, password = base64.b64decode(header[6:].strip()).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return user == self.config.user and password == self.config.password

    def _user(self, request: web.Request) -> str:
        try:
            return base64.b64decode(request.headers.get("Authorization", "")[6:]).decode().partition(":")[0]
        except (binascii.Error, UnicodeDecodeError):
            return ""

    def _unauthorized(self) -> web.Response:
        return web.json_response(
            fe_error(self.dialect, "Access denied; check the user name and password"),
            status=401,
            headers={"WWW-Authenticate": 'Basic realm=""'},
        )

    def _redirect(self, request: web.Request, op: str, db: str | None, table: str | None) -> web.Response:
        label = request.headers.get("label")
        fault = self.faults.take(REDIRECT, op, db, table, label)
        port = self.dead_port if fault else self.be.port
        userinfo = ""
        if self.dialect.location_userinfo:
            userinfo = f"{quote(self.config.user, safe='')}:{quote(self.config.password, safe='')}@"
        location = f"http://{userinfo}{HOST}:{port}{request.path_qs}"
        self.registry.stats[f"redirects.{op}"] += 1
        return web.Response(
            status=307, headers={"Location": location}, content_type="text/html", charset="utf-8"
        )

    async def _fe_expect(self, request: web.Request) -> None:
        """The FE answers before reading the body, so it never sends `100 Continue`."""

    async def _be_expect(self, request: web.Request) -> None:
        if request.headers.get("Expect", "").lower() != "100-continue":
            return
        op = "load" if request.match_info.get("op") else "stream_load"
        fault = self.faults.take(
            CONTINUE,
            op,
            request.match_info.get("db") or request.headers.get("db"),
            request.match_info.get("table") or request.headers.get("table"),
            request.headers.get("label"),
        )
        if fault:
            await asyncio.sleep(fault.seconds)
        await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        request.writer.output_size = 0

    def _now_ms(self, start: float) -> int:
        return int((time.monotonic() - start) * 1000)

    async def _apply_fault(self, request: web.Request, fault: Fault | None) -> web.Response | None:
        """Faults that act before any work: a non-200 reply, a delay, a dropped connection."""
        if fault is None:
            return None
        if fault.name == "http":
            return web.Response(status=fault.status, text=f"emulated HTTP {fault.status}\n")
        if fault.name == "slow":
            # The work is done and committed first; only the reply is late (see _late).
            request[SLOW_REPLY] = fault.seconds
        if fault.name == "drop":
            self._drop(request)
        return None

    def _drop(self, request: web.Request) -> None:
        if request.transport is not None:
            request.transport.abort()
        raise Dropped()

    # ----------------------------------------------------------------------------------- FE

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

    async def _schema(self, db: str, table: str) -> TableSchema | str | None:
        assert self.db is not None
        return await self.db.run(lambda conn: load_schema(conn, db, table))

    # ----------------------------------------------------------------------------------- BE: Stream Load

    async def be_error_log(self, request: web.Request) -> web.StreamResponse:
        text = self.registry.error_logs.get(request.query.get("file", ""))
        if text is None:
            return web.Response(status=404, text="error log not found\n")
        return web.Response(text=text)

    def _body_framing_error(self, request: web.Request) -> str | None:
        has_length = "Content-Length" in request.headers
        chunked = "chunked" in request.headers.get("Transfer-Encoding", "").lower()
        if has_length == chunked:
            return (
                "There is no Content-Length or Transfer-Encoding: chunked header"
                if not has_length
                else ("Content-Length and Transfer-Encoding: chunked can not both be set")
            )
        return None

    def _fail(self, outcome: LoadOutcome) -> web.Response:
        self.registry.stats[f"loads.{outcome.status}"] += 1
        return json_response(stream_load_reply(self.dialect, outcome))

    async def _late(self, request: web.Request, reply: web.StreamResponse) -> web.StreamResponse:
        if request.get(SLOW_REPLY):
            await asyncio.sleep(request[SLOW_REPLY])
        return reply

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
        d = self.dialect
        db, table = request.match_info["db"], request.match_info["table"]
        headers = {k.lower(): v for k, v in request.headers.items()}
        label = headers.get("label") or ""
        self.registry.stats["requests.be_stream_load"] += 1
        auth = self._auth_ok(request)
        if auth is None:
            return self._fail(
                LoadOutcome(-1, label, "Fail", d.message("INTERNAL_ERROR", "no valid Basic authorization"))
            )
        if not auth:
            return self._fail(
                LoadOutcome(
                    -1,
                    label,
                    "Fail",
                    d.message(
                        "ANALYSIS_ERROR",
                        "TStatus: errCode = 2, detailMessage = "
                        f"Access denied for user '{self._user(request)}'",
                    ),
                )
            )
        framing = self._body_framing_error(request)
        if framing:
            return self._fail(LoadOutcome(-1, label, "Fail", d.message("INVALID_ARGUMENT", framing)))
        fault = self.faults.take(None, "stream_load", db, table, label)
        early = await self._apply_fault(request, fault)
        if early is not None:
            return early
        body = await request.read()
        read_ms = self._now_ms(start)
        try:
            opts = parse_options(headers, d)
        except LoadRejected as exc:
            return self._fail(LoadOutcome(-1, label, "Fail", exc.message, load_bytes=len(body)))
        group = self._group_commit_mode(opts, request)
        if group and opts.label:
            return self._fail(
                LoadOutcome(
                    -1,
                    label,
                    "Fail",
                    d.message("INVALID_ARGUMENT", "label and group_commit can't be set at the same time"),
                )
            )
        if group:
            label = f"group_commit_{uuid.uuid4().hex[:16]}_{uuid.uuid4().hex[:16]}"
        label = label or str(uuid.uuid4())
        label_error = d.label_error(label)
        if label_error:
            return self._fail(LoadOutcome(-1, label, "Fail", label_error))
        holder = self.registry.holder(db, label)
        if holder is not None:
            detail = f"Label [{label}] has already been used, relate to txn [{holder.txn_id}]"
            message = (
                d.message("LABEL_ALREADY_EXISTS", f"TStatus: errCode = 2, detailMessage = {detail}")
                if d.coded_messages
                else f"Label [{label}] has already been used."
            )
            return self._fail(
                LoadOutcome(-1, label, "Label Already Exists", message, existing_job_status=holder.job_status)
            )
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
            self.registry.finish(txn, TxnState.ABORTED, exc.message)
            outcome.status, outcome.message = "Fail", exc.message
            return self._reply_load(outcome, start)
        outcome.total, outcome.loaded, outcome.filtered = plan.total, plan.loaded, len(plan.filtered)
        outcome.unselected = plan.unselected
        if plan.filtered:
            outcome.error_url = self._error_log(txn, plan.filtered)
        if self._too_many_filtered(plan, opts):
            self.registry.finish(txn, TxnState.ABORTED, "too many filtered rows")
            outcome.status, outcome.message = (
                "Fail",
                d.message("DATA_QUALITY_ERROR", "too many filtered rows"),
            )
            return self._reply_load(outcome, start)
        if plan.total == 0:
            self.registry.finish(txn, TxnState.ABORTED, "empty body")
            outcome.status = "Fail"
            outcome.message = d.message(
                "INTERNAL_ERROR", "the load body has no rows (emulator refuses empty loads)"
            )
            return self._reply_load(outcome, start)
        if fault and fault.name == "too_many_versions":
            self.registry.finish(txn, TxnState.ABORTED, "too many versions")
            outcome.status, outcome.message = "Fail", self._too_many_versions_message()
            return self._reply_load(outcome, start)
        staged = [StagedLoad(schema, plan)] if schema is not None else []
        if opts.two_phase_commit:
            txn.staged = staged
            txn.state = TxnState.PRECOMMITTED
            txn.deadline = self.registry.clock.now() + self.registry.precommit_timeout
            return self._reply_load(outcome, start)
        if group == "async_mode":
            txn.staged = staged
            txn.state = TxnState.COMMITTED
            self._spawn(self._publish_later(txn))
            return self._reply_load(outcome, start)
        write_start = time.monotonic()
        try:
            await self._commit(staged)
        except Exception as exc:
            self.registry.finish(txn, TxnState.ABORTED, str(exc))
            outcome.status, outcome.message = "Fail", d.message("INTERNAL_ERROR", f"write failed: {exc}")
            return self._reply_load(outcome, start)
        outcome.write_ms = self._now_ms(write_start)
        if fault and fault.name == "publish_timeout":
            self.registry.finish(txn, TxnState.COMMITTED)
            txn.visible_at = self.registry.clock.now() + self.config.publish_delay
            outcome.status = "Publish Timeout"
            outcome.message = d.message(
                "PUBLISH_TIMEOUT", "transaction commit successfully, BUT data will be visible later"
            )
        else:
            self.registry.finish(txn, TxnState.VISIBLE)
        if fault and fault.name == "drop_after_commit":
            self._drop(request)
        return self._reply_load(outcome, start)

    def _reply_load(self, outcome: LoadOutcome, start: float) -> web.Response:
        outcome.load_ms = self._now_ms(start)
        self.registry.stats[f"loads.{outcome.status}"] += 1
        if outcome.status in ("Success", "Publish Timeout"):
            self.registry.stats["rows"] += outcome.loaded
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

    def _too_many_versions_message(self) -> str:
        if self.dialect.flavor is Flavor.DORIS:
            return self.dialect.message(
                "E-235",
                "tablet 10001 too many versions, version count: 2001, exceed limit: 2000. Please reduce the "
                "frequency of loading data or adjust the max_tablet_version_num in be.conf.",
            )
        return f"Too many versions. tablet_id: 10001, version_count: 1001, limit: 1000: be:{HOST}"

    def _error_log(self, txn: Txn, filtered: list[tuple[str, str]]) -> str:
        key = f"error_log_{txn.txn_id}_{uuid.uuid4().hex[:8]}"
        self.registry.add_error_log(key, filtered)
        return f"{self.be_url}/api/_load_error_log?file={key}"

    async def _plan(
        self, db: str, table: str, body: bytes, opts: LoadOptions
    ) -> tuple[Plan, TableSchema | None]:
        """Decode the body into row operations; count-only mode just counts rows."""
        d = self.dialect
        data = decompress(body, opts.compression, d)
        if self.config.count_only:
            rows = count_rows(data, opts, d)
            return Plan(total=rows, counted=rows), None
        schema = await self._schema(db, table)
        if schema == "no_database":
            raise LoadRejected(
                d.message(
                    "ANALYSIS_ERROR", f"TStatus: errCode = 2, detailMessage = unknown databases, dbName={db}"
                ),
                "ANALYSIS_ERROR",
            )
        if not isinstance(schema, TableSchema):
            raise LoadRejected(
                d.message(
                    "ANALYSIS_ERROR",
                    f"TStatus: errCode = 2, detailMessage = Unknown table '{table}' in '{db}'",
                ),
                "ANALYSIS_ERROR",
            )
        if opts.format == "json":
            records = json_records(data, opts, d)
        else:
            records = csv_records(data, opts, source_names(schema, opts))
        plan = build_plan(records, schema, opts, d)
        if opts.partial_update:
            assert self.db is not None
            strict_new = opts.strict_mode and d.flavor is Flavor.DORIS
            await self.db.run(lambda conn: resolve_partial(conn, schema, plan, opts, strict_new))
        return plan, schema

    async def _commit(self, staged: list[StagedLoad]) -> None:
        if self.db is None or not staged:
            return
        pairs = [(s.schema, s.plan) for s in staged]
        await self.db.run(lambda conn: apply_plans(conn, pairs))

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _publish_later(self, txn: Txn) -> None:
        await asyncio.sleep(self.config.group_commit_interval)
        try:
            await self._commit(txn.staged)
            self.registry.finish(txn, TxnState.VISIBLE)
        except Exception as exc:
            self.registry.finish(txn, TxnState.ABORTED, str(exc))

    # ----------------------------------------------------------------------------------- BE: Doris 2PC

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

    # ------------------------------------------------------------------------------ BE: StarRocks txn API

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
            body = await request.read()
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
            if fault and fault.name == "too_many_versions":
                return self._txn_fail(txn, "INTERNAL_ERROR", self._too_many_versions_message())
            try:
                plan, schema = await self._plan(txn.db, txn.table, body, opts)
            except LoadRejected as exc:
                return self._txn_fail(txn, exc.code, exc.message)
            txn.seq += 1
            txn.total += plan.total
            txn.loaded += plan.loaded
            txn.filtered += len(plan.filtered)
            txn.load_bytes += len(body)
            txn.max_filter_ratio = opts.max_filter_ratio
            if plan.filtered:
                txn.error_url = self._error_log(txn, plan.filtered)
            if schema is not None:
                txn.staged.append(StagedLoad(schema, plan))
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
        self.registry.stats["rows"] += txn.loaded
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

    # ----------------------------------------------------------------------------------- control

    async def control_add_fault(self, request: web.Request) -> web.StreamResponse:
        try:
            rule = parse_rule(await request.json())
        except ValueError as exc:
            return json_response({"error": str(exc)}, status=400)
        self.faults.add(rule)
        return json_response({"ok": True, "faults": self.faults.describe()})

    async def control_list_faults(self, request: web.Request) -> web.StreamResponse:
        return json_response({"faults": self.faults.describe()})

    async def control_clear_faults(self, request: web.Request) -> web.StreamResponse:
        self.faults.clear()
        return json_response({"ok": True})

    async def control_stats(self, request: web.Request) -> web.StreamResponse:
        return json_response(self.stats())

    def stats(self) -> dict[str, Any]:
        s = self.registry.stats
        return {
            "loads": {k.split(".", 1)[1]: v for k, v in s.items() if k.startswith("loads.")},
            "requests": {
                k.split(".", 1)[1]: v for k, v in s.items() if k.startswith(("requests.", "redirects."))
            },
            "rows": s["rows"],
            "bytes": s["bytes"],
            "filtered_rows": s["filtered_rows"],
        }

    def configure(self, settings: dict[str, Any]) -> None:
        """Apply tunable settings; ValueError names the offending key."""
        for name, value in settings.items():
            if name not in TUNABLE:
                raise ValueError(f"{name}: not a tunable setting; use one of {TUNABLE}")
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name}: a number of seconds >= 0 is required, got {value!r}")
        for name, value in settings.items():
            setattr(self.config, name, float(value))
            if name in ("label_keep_seconds", "precommit_timeout"):
                setattr(self.registry, name, float(value))

    async def control_config(self, request: web.Request) -> web.StreamResponse:
        payload = await request.json()
        try:
            if not isinstance(payload, dict):
                raise ValueError("the body must be a JSON object of settings")
            self.configure(payload)
        except ValueError as exc:
            return json_response({"error": str(exc)}, status=400)
        return json_response({name: getattr(self.config, name) for name in TUNABLE})

    async def control_reset(self, request: web.Request) -> web.StreamResponse:
        """Clear faults and restore the start-up settings (labels, transactions and the clock stay)."""
        self.faults.clear()
        self.configure(dict(self._defaults))
        return json_response({"ok": True})

    # ----------------------------------------------------------------------------------- Doris SQL API

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

    async def control_clock(self, request: web.Request) -> web.StreamResponse:
        payload = await request.json()
        advance = payload.get("advance") if isinstance(payload, dict) else None
        if not isinstance(advance, (int, float)) or advance < 0:
            return json_response({"error": "advance: a number of seconds >= 0 is required"}, status=400)
        self.registry.clock.offset += float(advance)
        self.registry.sweep(force=True)
        return json_response({"offset": self.registry.clock.offset})

    async def control_txns(self, request: web.Request) -> web.StreamResponse:
        self.registry.sweep(force=True)
        db, label = request.query.get("db"), request.query.get("label")
        txns = [
            {
                "txn_id": t.txn_id,
                "db": t.db,
                "table": t.table,
                "label": t.label,
                "state": t.state.value,
                "reason": t.reason,
            }
            for t in self.registry.txns.values()
            if (db is None or t.db == db) and (label is None or t.label == label)
        ]
        return json_response({"txns": txns})


# Settings a test may change at run time (POST /_emulator/config); /_emulator/reset restores them.
TUNABLE = (
    "label_keep_seconds",
    "precommit_timeout",
    "prepared_timeout",
    "group_commit_interval",
    "publish_delay",
)

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
