"""Shared state and helpers of an emulator instance: configuration, auth, redirects, faults, load planning.

The route handlers live in frontend, stream_load, two_phase, transactions and control; `server.Emulator`
combines them and owns the listening sites.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import socket
import time
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from aiohttp import web

from tests.emulator.body import Body, count_rows, csv_records, decompress, json_records
from tests.emulator.dialects import Dialect, Flavor, dialect_for
from tests.emulator.faults import CONTINUE, REDIRECT, Fault, FaultBook
from tests.emulator.options import LoadOptions, LoadRejected
from tests.emulator.replies import fe_error
from tests.emulator.rows import Plan, build_plan, source_names
from tests.emulator.state import Registry, StagedLoad, Txn
from tests.emulator.storage import Database, apply_plans, resolve_partial
from tests.emulator.tables import TableSchema, load_schema

HOST = "127.0.0.1"
log = logging.getLogger("olapsink.emulator")
SLOW_REPLY = web.RequestKey("slow_reply", float)


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
    # JSON body limit: StarRocks streaming_load_max_batch_size_mb, Doris streaming_load_json_max_mb.
    json_max_bytes: float = 100 * 1024 * 1024
    # FE max_running_txn_num_per_db: begins beyond it fail.
    max_running_txns_per_db: float = 1000


async def read_body(request: web.Request) -> Body:
    """The whole request body. With a Content-Length (never with chunked: the two are exclusive, see
    `_body_framing_error`) it is read into one buffer of that size; `request.read()` grows a bytearray
    chunk by chunk and then copies it into bytes, two more copies of a 10 MB body on the load's critical
    path. Bodies arrive as sent (`auto_decompress=False`), so Content-Length is the byte count read."""
    size = request.content_length
    if size is None or "chunked" in request.headers.get("Transfer-Encoding", "").lower():
        return await request.read()
    content = request.content
    # As request.read() does: let the socket fill the buffer past the default 64 KiB high-water mark.
    content.set_read_chunk_size(max(size, 1))
    body = bytearray(size)
    with memoryview(body) as view:
        filled = 0
        while filled < size:
            chunk = await content.readany()
            if not chunk:
                raise ConnectionResetError(f"body ended after {filled} of Content-Length {size} bytes")
            view[filled : filled + len(chunk)] = chunk
            filled += len(chunk)
    return body


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


def json_response(body: dict[str, Any], status: int = 200) -> web.Response:
    return web.json_response(body, status=status)


# Settings a test may change at run time (POST /_emulator/config); /_emulator/reset restores them.
TUNABLE = (
    "label_keep_seconds",
    "precommit_timeout",
    "prepared_timeout",
    "group_commit_interval",
    "publish_delay",
    "json_max_bytes",
    "max_running_txns_per_db",
)


class EmulatorCore:
    """State shared by every FE and the BE of one emulator."""

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

    @property
    def be_url(self) -> str:
        return f"http://{HOST}:{self.be.port}"

    def fe_url(self, index: int = 0) -> str:
        return f"http://{HOST}:{self.fes[index].port}"

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
        # The FE answers before the body arrives. A client that saw the 307 before sending its body (Expect:
        # 100-continue) sends none and may reuse the connection, so the FE must close it, as a real FE does:
        # otherwise the next request on that socket would be read as the unsent body (seen with the real
        # Doris connector's Apache HttpClient, tests/fidelity/test_emulator_findings.py).
        response = web.Response(
            status=307,
            headers={"Location": location, "Connection": "close"},
            content_type="text/html",
            charset="utf-8",
        )
        response.force_close()
        return response

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

    async def _late(self, request: web.Request, reply: web.StreamResponse) -> web.StreamResponse:
        if request.get(SLOW_REPLY):
            await asyncio.sleep(request[SLOW_REPLY])
        return reply

    async def _schema(self, db: str, table: str) -> TableSchema | str | None:
        assert self.db is not None
        return await self.db.run(lambda conn: load_schema(conn, db, table))

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

    def _error_log(self, txn: Txn, filtered: list[tuple[str, str]]) -> str:
        key = f"error_log_{txn.txn_id}_{uuid.uuid4().hex[:8]}"
        self.registry.add_error_log(key, filtered)
        return f"{self.be_url}/api/_load_error_log?file={key}"

    def _json_size_error(self, opts: LoadOptions, content_length: int | None, earlier: int = 0) -> str | None:
        """The JSON size check; only bodies with a Content-Length are checked (doris.md §8.2)."""
        if opts.format != "json" or content_length is None:
            return None
        if self.dialect.flavor is Flavor.DORIS and opts.read_json_by_line:
            return None
        if self.dialect.flavor is Flavor.STARROCKS and opts.ignore_json_size:
            return None
        size, limit = earlier + content_length, int(self.config.json_max_bytes)
        if size <= limit:
            return None
        if self.dialect.flavor is Flavor.DORIS:
            return self.dialect.message(
                "INVALID_ARGUMENT",
                f"The size of this batch exceed the max size [{limit}] of json type data  data [{size}]. "
                "Split the file, or use 'read_json_by_line'",
            )
        return (
            f"The size of this batch exceed the max size [{limit}] of json type data data [{size}]. "
            "Set ignore_json_size to skip the check, although it may lead huge memory consuming."
        )

    def _running_txns_error(self, db: str) -> str | None:
        """Refuse a new transaction when the database already runs the maximum number."""
        running = self.registry.running(db)
        limit = int(self.config.max_running_txns_per_db)
        if running < limit:
            return None
        detail = f"current running txns on db {db} is {running}, larger than limit {limit}"
        if self.dialect.coded_messages:
            return self.dialect.message("ANALYSIS_ERROR", f"TStatus: errCode = 2, detailMessage = {detail}")
        return detail

    def _too_many_versions_message(self) -> str:
        if self.dialect.flavor is Flavor.DORIS:
            return self.dialect.message(
                "E-235",
                "tablet 10001 too many versions, version count: 2001, exceed limit: 2000. Please reduce the "
                "frequency of loading data or adjust the max_tablet_version_num in be.conf.",
            )
        return f"Too many versions. tablet_id: 10001, version_count: 1001, limit: 1000: be:{HOST}"

    async def _plan(
        self, db: str, table: str, body: Body, opts: LoadOptions
    ) -> tuple[Plan, TableSchema | None]:
        """Decode the body into row operations; count-only mode just counts rows."""
        return await self._plan_data(db, table, decompress(body, opts.compression, self.dialect), opts)

    async def _plan_data(
        self, db: str, table: str, data: Body, opts: LoadOptions
    ) -> tuple[Plan, TableSchema | None]:
        """`_plan` for an already decompressed body."""
        d = self.dialect
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

    async def be_transaction(self, request: web.Request) -> web.StreamResponse:
        """The StarRocks transaction API (transactions.py); the FE answers some calls itself."""
        raise NotImplementedError
