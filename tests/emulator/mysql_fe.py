"""The FE's MySQL port: `SHOW TRANSACTION` answered from the emulator's transactions, all else on MariaDB.

Real Doris serves SQL on the FE's query port (9030); the Doris connector's exactly-once mode runs
`SHOW TRANSACTION FROM db WHERE LABEL LIKE '…%'` there before its first load. The wire protocol is
mysql-mimic's (server side, `mysql_native_password`); the session below bypasses its SQL parser, so every
statement other than `SHOW TRANSACTION` (and the charset `SET`s, see `_KEEP_LOCAL`) goes to MariaDB as
written, on one MariaDB connection per client connection (session variables and `USE` carry over).
Clients log in with the emulator's Stream Load user and password, as on a real FE.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import pymysql
from mysql_mimic import MysqlServer, ResultColumn, ResultSet
from mysql_mimic.auth import IdentityProvider, NativePasswordAuthPlugin, User
from mysql_mimic.charset import CharacterSet
from mysql_mimic.errors import ErrorCode, MysqlError
from mysql_mimic.session import BaseSession
from mysql_mimic.types import ColumnType
from mysql_mimic.variables import GlobalVariables, SessionVariables

from tests.emulator.state import Registry, Txn, TxnState

# What a Doris 2.1+ FE reports (`TransProcDir.TITLE_NAMES`), in its order.
COLUMNS = (
    "TransactionId",
    "Label",
    "Coordinator",
    "TransactionStatus",
    "LoadJobSourceType",
    "PrepareTime",
    "PreCommitTime",
    "CommitTime",
    "PublishTime",
    "FinishTime",
    "Reason",
    "ErrorReplicasCount",
    "ListenerId",
    "TimeoutMs",
    "ErrMsg",
)
SERVER_VERSION = "5.7.99"  # what Doris FEs announce in the handshake

_SHOW_TXN = re.compile(
    r"""^\s*SHOW\s+TRANSACTION\b
        (?:\s+FROM\s+(?:`(?P<qdb>[^`]+)`|(?P<db>[\w$]+)))?
        (?:\s+WHERE\s+(?P<field>\w+)\s*(?P<op>=|\bLIKE\b)\s*(?P<value>'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.|"")*"|\d+))?
        \s*;?\s*$""",
    re.IGNORECASE | re.DOTALL | re.VERBOSE,
)
_IS_SHOW_TXN = re.compile(r"^\s*SHOW\s+TRANSACTION\b", re.IGNORECASE)
# Kept on the emulator side: the MariaDB connection stays utf8mb4 so that its replies decode.
# A Doris FE (version 5.7.99) knows `transaction_isolation`, so Connector/J asks for it; MariaDB before
# 11.1 only knows `tx_isolation`, which every MariaDB still accepts.
# Only variable references are renamed, not aliases (`AS transaction_isolation` names a result column).
_TX_ISOLATION = re.compile(
    r"(@@(?:session\.|global\.|local\.)?|\bSET\s+(?:SESSION\s+|GLOBAL\s+|LOCAL\s+)?)transaction_isolation\b",
    re.IGNORECASE,
)
_KEEP_LOCAL = re.compile(r"^\s*SET\s+(NAMES|CHARACTER\s+SET|CHARSET|character_set_results)\b", re.IGNORECASE)


@dataclass(frozen=True)
class ShowTransaction:
    db: str | None
    field: str  # "label" | "id"
    op: str  # "=" | "like"
    value: str


def parse_show_transaction(sql: str) -> ShowTransaction | None:
    """`SHOW TRANSACTION [FROM db] WHERE ID = n | LABEL = 'x' | LABEL LIKE 'p'`; None for other SQL.

    Raises MysqlError for a SHOW TRANSACTION outside that grammar, with Doris's hint of what to write.
    """
    if not _IS_SHOW_TXN.match(sql):
        return None
    m = _SHOW_TXN.match(sql)
    hint = "should supply condition like: ID = $transaction_id, or LABEL = $label, or LABEL LIKE $pattern"
    if m is None or m["field"] is None:
        raise MysqlError(f"SHOW TRANSACTION: {hint}", ErrorCode.PARSE_ERROR)
    field, op, raw = m["field"].lower(), m["op"].lower(), m["value"]
    quoted = raw[0] in "'\""
    if field == "id" and (op != "=" or quoted):
        raise MysqlError(f"SHOW TRANSACTION: ID takes '= <number>'; {hint}", ErrorCode.PARSE_ERROR)
    if field == "label" and not quoted:
        raise MysqlError(f"SHOW TRANSACTION: LABEL takes a quoted string; {hint}", ErrorCode.PARSE_ERROR)
    if field not in ("id", "label"):
        message = f"SHOW TRANSACTION: unsupported condition on {m['field']}; {hint}"
        raise MysqlError(message, ErrorCode.PARSE_ERROR)
    value = unquote(raw) if quoted else raw
    return ShowTransaction(m["qdb"] or m["db"], field, op, value)


_ESCAPES = {"0": "\0", "b": "\b", "n": "\n", "r": "\r", "t": "\t", "Z": "\x1a"}


def unquote(literal: str) -> str:
    """A MySQL string literal's value; `\\%` and `\\_` keep their backslash (it escapes them in LIKE)."""
    quote, body, out, i = literal[0], literal[1:-1], [], 0
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            out.append("\\" + nxt if nxt in "%_" else _ESCAPES.get(nxt, nxt))
            i += 2
        elif c == quote and body[i + 1 : i + 2] == quote:
            out.append(quote)
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def like_regex(pattern: str) -> re.Pattern[str]:
    """MySQL LIKE: `%` any run, `_` one character, `\\x` the character x. Case-sensitive, as Doris
    matches labels (`CaseSensibility.LABEL`)."""
    parts, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            parts.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        parts.append(".*" if c == "%" else "." if c == "_" else re.escape(c))
        i += 1
    return re.compile("".join(parts), re.DOTALL)


def _time_text(at: float | None, to_wall: Callable[[float], float]) -> str | None:
    if at is None:
        return None
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(to_wall(at)))


def transaction_row(txn: Txn, to_wall: Callable[[float], float]) -> tuple[Any, ...]:
    """One SHOW TRANSACTION row; times the transaction never reached are NULL."""
    finished = txn.finished_at if txn.state in (TxnState.VISIBLE, TxnState.ABORTED) else None
    if txn.state is TxnState.VISIBLE and txn.visible_at is not None:
        finished = txn.visible_at
    timeout = float(getattr(txn.load_options, "timeout", 600.0) or 600.0)
    return (
        txn.txn_id,
        txn.label,
        "BE: 127.0.0.1",
        txn.state.value,
        "BACKEND_STREAMING",
        _time_text(txn.created, to_wall),
        _time_text(txn.precommitted_at, to_wall),
        _time_text(txn.committed_at, to_wall),
        _time_text(finished if txn.state is TxnState.VISIBLE else None, to_wall),
        _time_text(finished, to_wall),
        txn.reason,
        0,
        -1,
        int(timeout * 1000),
        "",
    )


def show_transaction(
    registry: Registry, query: ShowTransaction, current_db: str | None
) -> list[tuple[Any, ...]]:
    """The rows a Doris FE returns, newest transaction first; MysqlError as Doris reports misses."""
    db = query.db or current_db
    if not db:
        raise MysqlError("No database selected", ErrorCode.NO_DB_ERROR)
    registry.sweep(force=True)
    wall_offset = time.time() - registry.clock.now()

    def to_wall(at: float) -> float:
        return at + wall_offset

    if query.field == "id":
        txn = registry.txns.get(int(query.value))
        if txn is None or txn.db != db:
            raise MysqlError(f"transaction with id {query.value} does not exist")
        found = [txn]
    elif query.op == "=":
        hit = registry.labels.get((db, query.value))
        if hit is None:
            raise MysqlError(f"transaction with label {query.value} does not exist")
        found = [hit]
    else:
        regex = like_regex(query.value)
        found = [t for t in registry.txns.values() if t.db == db and regex.fullmatch(t.label)]
    return [transaction_row(t, to_wall) for t in sorted(found, key=lambda t: -t.txn_id)]


def _transaction_result(rows: list[tuple[Any, ...]]) -> ResultSet:
    # Doris sends every SHOW column as a string.
    columns = [ResultColumn(name, ColumnType.VAR_STRING) for name in COLUMNS]
    return ResultSet([[None if v is None else str(v) for v in row] for row in rows], columns)


def _forwarded_result(cursor: Any) -> ResultSet | None:
    """MariaDB's reply as mysql-mimic's: raw text cells (no conversion), MariaDB's column types."""
    if not cursor.description:
        return None
    fields = cursor._result.fields  # charset numbers are only on the field packets
    columns = [
        ResultColumn(desc[0], _column_type(desc[1]), CharacterSet.binary, text_encoder=_raw_bytes)
        if field.charsetnr == CharacterSet.binary
        else ResultColumn(desc[0], _column_type(desc[1]))
        for desc, field in zip(cursor.description, fields, strict=True)
    ]
    return ResultSet(list(cursor.fetchall()), columns)


def _raw_bytes(column: ResultColumn, value: Any) -> bytes:
    # mysql-mimic has no codec for the binary character set (numbers and binary strings carry it);
    # binary cells are bytes already, numbers the text MariaDB sent.
    return value if isinstance(value, bytes) else str(value).encode()


def _column_type(code: int) -> ColumnType:
    try:
        return ColumnType(code)
    except ValueError:
        return ColumnType.VAR_STRING


@dataclass(frozen=True)
class MariaDBTarget:
    host: str
    port: int
    user: str
    password: str


class FrontendSession(BaseSession):
    """One client connection: SHOW TRANSACTION from the registry, other statements on its MariaDB link."""

    def __init__(self, registry: Registry, target: MariaDBTarget | None) -> None:
        self.registry = registry
        self.target = target
        self.variables = SessionVariables(GlobalVariables())
        self.variables.set("version", SERVER_VERSION, force=True)
        self.username: str | None = None
        self.database: str | None = None
        self._conn: pymysql.connections.Connection[Any] | None = None

    async def handle_query(self, sql: str, attrs: dict[str, str]) -> ResultSet | None:
        query = parse_show_transaction(sql)
        if query is not None:
            return _transaction_result(show_transaction(self.registry, query, self.database))
        if _KEEP_LOCAL.match(sql):
            return None
        return await asyncio.to_thread(self._forward, _TX_ISOLATION.sub(r"\1tx_isolation", sql))

    async def use(self, database: str) -> None:
        await asyncio.to_thread(self._forward, f"USE `{database.replace('`', '``')}`")
        self.database = database

    async def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await asyncio.to_thread(conn.close)

    def _forward(self, sql: str) -> ResultSet | None:
        if self.target is None:
            raise MysqlError("count-only emulator (no MariaDB): only SHOW TRANSACTION is served here")
        try:
            if self._conn is None:
                t = self.target
                self._conn = pymysql.connect(
                    host=t.host,
                    port=t.port,
                    user=t.user,
                    password=t.password,
                    database=self.database,
                    autocommit=True,
                    charset="utf8mb4",
                    conv={},  # cells stay the text MariaDB sent, so they go out unchanged
                )
            with self._conn.cursor() as cur:
                cur.execute(sql)
                result = _forwarded_result(cur)
            if re.match(r"^\s*USE\s", sql, re.IGNORECASE):
                self.database = self._conn.db.decode() if isinstance(self._conn.db, bytes) else self._conn.db
            return result
        except pymysql.err.MySQLError as exc:
            # pymysql's server errors carry (errno, message); keep both so clients see MariaDB's code.
            args = exc.args
            if len(args) == 2 and isinstance(args[0], int):
                raise MysqlError(str(args[1]), cast(ErrorCode, args[0])) from exc
            raise MysqlError(str(exc)) from exc


class EmulatorUsers(IdentityProvider):
    """The emulator's one user (its Stream Load credentials); anyone else is refused."""

    def __init__(self, user: str, password: str) -> None:
        self.user = user
        # An empty password is an empty auth string (mysql-mimic's empty-scramble path).
        self.auth_string = NativePasswordAuthPlugin.create_auth_string(password) if password else ""
        # Unknown users get a hash no password matches, so they see Access denied (1045), as on Doris.
        self._nobody = NativePasswordAuthPlugin.create_auth_string(uuid.uuid4().hex)

    def get_plugins(self) -> Sequence[NativePasswordAuthPlugin]:
        return [NativePasswordAuthPlugin()]

    async def get_user(self, username: str) -> User | None:
        known = username == self.user
        return User(
            name=username,
            auth_string=self.auth_string if known else self._nobody,
            auth_plugin=NativePasswordAuthPlugin.name,
        )


class MysqlFrontend:
    """The query port of one emulator (all its FEs share it, as they share the state)."""

    def __init__(
        self, registry: Registry, user: str, password: str, target: MariaDBTarget | None, host: str
    ) -> None:
        self.host = host
        self.port = 0
        self._server = MysqlServer(
            session_factory=lambda: FrontendSession(registry, target),
            identity_provider=EmulatorUsers(user, password),
        )

    async def start(self, port: int) -> None:
        await self._server.start_server(host=self.host, port=port, reuse_address=True)
        self.port = int(self._server.sockets()[0].getsockname()[1])

    async def stop(self) -> None:
        self._server.close()
        await self._server.wait_closed()
