"""Adds the columns records carry and the table lacks, over the FE's MySQL query port.

``SchemaEvolver.ensure(table, fields)`` is called before rows of a (new) record schema are loaded:

- the known columns of each table are cached; a field the cache does not know makes it re-read
  ``information_schema.COLUMNS`` (a column someone else added is found there, no DDL needed);
- ``schemaEvolution: none``: a column still missing stops the sink (``FatalSinkError``) naming the table and
  the columns, so that a person adds them or turns evolution on. The Doris connector retries forever here.
  The check is best effort: when the columns cannot be read (query port unreachable, user without access,
  table not visible) it is skipped for that table with a warning, since ``none`` needs no query port;
- ``basic``: one ``ALTER TABLE … ADD COLUMN`` adds every missing column (types from column_types), then the
  columns are read back until they show (a heavy Doris schema change finishes later than the statement);
- several workers racing on the same column: the losers get "Duplicate column name" (MariaDB errno 1060;
  Doris and StarRocks say the column "already exists"), re-read the columns and go on. A Doris table busy
  with another schema change ("state is not NORMAL") is waited for and tried again;
- a lost or refused connection is retried on the next FE host with a backoff, up to ``retry_for`` seconds.

The SQL dialect is the sink's flavor, except on MariaDB (recognised by its version string), which is where
the Stream Load emulator keeps its tables: there MariaDB type names are used.
"""

from __future__ import annotations

import contextlib
import logging
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Literal

import pymysql

from olapsink_worker.errors import FatalSinkError
from olapsink_worker.schema.column_types import TypeDialect, UnmappableFieldError
from olapsink_worker.schema.diff import Field, add_columns_sql, missing_fields
from olapsink_worker.secrets import secret_path
from olapsink_worker.tables import TableRef

log = logging.getLogger(__name__)

EvolutionMode = Literal["none", "basic"]
Connect = Callable[[str, int], Any]  # (host, port) → a DB-API connection (pymysql)

COLUMNS_SQL = "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s"
_DUPLICATE_COLUMN = 1060
_ACCESS_DENIED = frozenset({1044, 1045, 1142, 1143, 1227})
_CONNECTION_LOST = frozenset({2003, 2006, 2013, 2055})
# Doris/StarRocks: "Table[t]'s state(SCHEMA_CHANGE) is not NORMAL. Do not allow doing ALTER ops" (one
# schema-change job per table at a time); the older form has no "(SCHEMA_CHANGE)".
_BUSY_MESSAGES = ("is not normal. do not allow doing alter", "schema change operation is in progress")


class _Duplicate(Exception):
    pass


class _Busy(Exception):
    pass


def classify(exc: pymysql.err.MySQLError) -> str:
    """``duplicate`` | ``busy`` | ``denied`` | ``connection`` | ``other`` for a DDL or query error."""
    code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
    message = str(exc.args[1] if len(exc.args) > 1 else exc).lower()
    if code == _DUPLICATE_COLUMN or ("already exist" in message and "column" in message):
        return "duplicate"
    if any(m in message for m in _BUSY_MESSAGES):
        return "busy"
    if code in _ACCESS_DENIED:
        return "denied"
    if code in _CONNECTION_LOST or isinstance(exc, pymysql.err.InterfaceError):
        return "connection"
    return "other"


class PyMySQLConnector:
    """A ``Connect`` that opens autocommit pymysql connections as ``user``, over TLS when ``tls`` is set."""

    def __init__(
        self,
        user: str,
        password: str,
        *,
        tls: ssl.SSLContext | None = None,
        connect_timeout: float = 10.0,
        read_timeout: float = 120.0,
    ) -> None:
        self.user = user
        self._password = password
        self.tls = tls
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout

    def __call__(self, host: str, port: int) -> Any:
        return pymysql.connect(
            host=host,
            port=port,
            user=self.user,
            password=self._password,
            autocommit=True,
            charset="utf8mb4",
            ssl=self.tls,
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            write_timeout=self.read_timeout,
        )


def pymysql_connector(user: str, password: str, *, tls: ssl.SSLContext | None = None) -> PyMySQLConnector:
    return PyMySQLConnector(user, password, tls=tls)


def doris_mysql_tls(doris: Any) -> ssl.SSLContext | None:
    """TLS for the query port from ``spec.doris.tls`` (None unless enabled and ``mysql`` is not excluded)."""
    tls = doris.tls
    if not tls.enabled or "mysql" in tls.excluded_protocols:
        return None
    ca_file = str(secret_path(tls.ca_secret_ref)) if tls.ca_secret_ref else None
    context = ssl.create_default_context(cafile=ca_file)  # no CA secret: the system trust store
    context.check_hostname = not tls.skip_hostname_verification
    return context


class SchemaEvolver:
    """Keeps the tables' columns ahead of the records. Thread-safe; one per worker is enough."""

    def __init__(
        self,
        connect: Connect,
        hosts: Sequence[tuple[str, int]],
        *,
        mode: EvolutionMode,
        flavor: Literal["doris", "starrocks"],
        retry_for: float = 60.0,
        visible_within: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not hosts:
            raise ValueError("SchemaEvolver needs at least one FE host")
        self._connect = connect
        self._hosts = list(hosts)
        self.mode = mode
        self.flavor = flavor
        self.dialect: TypeDialect | None = None  # learnt from the server's version on first connect
        self._retry_for = retry_for
        self._visible_within = visible_within
        self._sleep = sleep
        self._clock = clock
        self._conn: Any = None
        self._host_index = 0
        self._columns: dict[TableRef, set[str]] = {}
        self._unchecked: set[TableRef] = set()  # none mode: tables whose columns could not be read
        self._lock = threading.Lock()

    @classmethod
    def for_sink(cls, sink: Any, password: str) -> SchemaEvolver:
        """The evolver of a sink (``sink.flavor``, ``sink.spec``): its FE hosts, query port and user."""
        spec = sink.spec
        if sink.flavor == "doris":
            hosts = [(h, int(spec.doris.query_port)) for h in spec.doris.fe_hosts]
            connect = pymysql_connector(spec.doris.user, password, tls=doris_mysql_tls(spec.doris))
        else:
            port = spec.starrocks.query_port or 9030
            hosts = [(_host_of(u), int(port)) for u in spec.starrocks.http_urls]
            connect = pymysql_connector(spec.starrocks.user, password)
        mode = spec.schema_evolution
        # none only checks, best effort: one try per FE instead of a minute of retries at start-up.
        retry_for = 60.0 if mode == "basic" else 0.0
        return cls(connect, hosts, mode=mode, flavor=sink.flavor, retry_for=retry_for)

    def close(self) -> None:
        with self._lock:
            self._drop_connection()

    def __enter__(self) -> SchemaEvolver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the one entry point -------------------------------------------------------------------------

    def ensure(self, table: TableRef, fields: Sequence[Field]) -> list[str]:
        """Make sure ``table`` has a column for each field; returns the names of the columns added.

        Raises FatalSinkError when a column is missing and may not (or cannot) be added.
        """
        with self._lock:
            cached = self._columns.get(table)
            if cached is not None and not missing_fields(fields, cached):
                return []
            if self.mode != "basic":
                self._check(table, fields)
                return []
            missing = missing_fields(fields, self._refresh(table))
            if not missing:
                return []
            return self._add(table, missing)

    def _check(self, table: TableRef, fields: Sequence[Field]) -> None:
        if table in self._unchecked:
            return
        try:
            columns = self._refresh(table)
        except FatalSinkError as exc:
            self._unchecked.add(table)
            log.warning(
                "schemaEvolution none: cannot read the columns of %s, so records are not checked against "
                "them (fields the table lacks will not load): %s",
                table,
                exc,
            )
            return
        missing = missing_fields(fields, columns)
        if missing:
            names = ", ".join(str(f["field"]) for f in missing)
            raise FatalSinkError(
                f"table {table} has no column for field(s) {names} of the records; add the column(s) "
                "(ALTER TABLE … ADD COLUMN) or set spec.schemaEvolution: basic",
                reason="MissingColumns",
            )

    # -- adding --------------------------------------------------------------------------------------

    def _add(self, table: TableRef, missing: list[Field]) -> list[str]:
        deadline = self._clock() + self._retry_for
        while True:
            sql = self._ddl(table, missing)
            try:
                self._execute(sql)
                log.info("schema evolution on %s: %s", table, sql)
                break
            except _Duplicate:
                log.info("schema evolution on %s: a column was added meanwhile, re-reading", table)
            except _Busy:
                if self._clock() >= deadline:
                    raise FatalSinkError(
                        f"table {table} stayed busy with another schema change for {self._retry_for:.0f}s; "
                        f"wait for it (SHOW ALTER TABLE COLUMN) and restart, or run: {sql}",
                        reason="SchemaEvolutionFailed",
                    ) from None
                self._sleep(1.0)
            missing = missing_fields(missing, self._refresh(table))
            if not missing:
                return []
        self._wait_visible(table, missing_fields(missing, self._refresh(table)))
        return [str(f["field"]) for f in missing]

    def _wait_visible(self, table: TableRef, missing: list[Field]) -> None:
        # A Doris schema change that is not "light" runs as a job after the statement returned.
        wait_until = self._clock() + self._visible_within
        while missing:
            if self._clock() >= wait_until:
                names = ", ".join(str(f["field"]) for f in missing)
                raise FatalSinkError(
                    f"column(s) {names} were added to {table} but did not appear in "
                    "information_schema; check SHOW ALTER TABLE COLUMN and restart the sink",
                    reason="SchemaEvolutionFailed",
                )
            self._sleep(0.5)
            missing = missing_fields(missing, self._refresh(table))

    def _ddl(self, table: TableRef, fields: list[Field]) -> str:
        # The dialect was learnt by the _refresh that found the fields missing; the flavor is the fallback.
        try:
            return add_columns_sql(table, fields, self.dialect or self.flavor)
        except UnmappableFieldError as exc:
            raise FatalSinkError(
                f"cannot add a column to {table}: {exc}", reason="SchemaEvolutionFailed"
            ) from exc

    # -- reading -------------------------------------------------------------------------------------

    def _refresh(self, table: TableRef) -> set[str]:
        rows = self._query(COLUMNS_SQL, (table.database, table.table))
        if not rows:
            raise FatalSinkError(
                f"table {table} was not found in information_schema (through {self._where()}); "
                "create it first (olapsink does not create tables), or grant the user access to it",
                reason="TableNotFound",
            )
        columns = {str(r[0]) for r in rows}
        self._columns[table] = columns
        return columns

    # -- the connection ------------------------------------------------------------------------------

    def _where(self) -> str:
        host, port = self._hosts[self._host_index]
        return f"{host}:{port}"

    def _connection(self) -> Any:
        if self._conn is None:
            host, port = self._hosts[self._host_index]
            conn = self._connect(host, port)
            if self.dialect is None:
                with conn.cursor() as cur:
                    cur.execute("SELECT VERSION()")
                    row = cur.fetchone()
                version = str(row[0]) if row else ""
                self.dialect = "mariadb" if "mariadb" in version.lower() else self.flavor
            self._conn = conn
        return self._conn

    def _drop_connection(self) -> None:
        if self._conn is not None:
            # Closing a connection that broke can fail in any way; it is being dropped regardless.
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None

    def _query(self, sql: str, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        return self._run(lambda cur: (cur.execute(sql, args), list(cur.fetchall()))[1], sql)

    def _execute(self, sql: str) -> None:
        self._run(lambda cur: cur.execute(sql), sql)

    def _run(self, action: Callable[[Any], Any], sql: str) -> Any:
        deadline = self._clock() + self._retry_for
        delay = 0.5
        tries = 0
        while True:
            tries += 1
            try:
                with self._connection().cursor() as cur:
                    return action(cur)
            except (pymysql.err.MySQLError, OSError) as exc:
                kind = classify(exc) if isinstance(exc, pymysql.err.MySQLError) else "connection"
                if kind == "duplicate":
                    raise _Duplicate() from exc
                if kind == "busy":
                    raise _Busy() from exc
                if kind == "denied":
                    raise FatalSinkError(
                        f"{self._where()} refused {sql!r}: {exc}; grant the sink's user SELECT on the "
                        "table and ALTER on it for schemaEvolution: basic",
                        reason="SchemaEvolutionFailed",
                    ) from exc
                if kind != "connection":
                    raise FatalSinkError(
                        f"{self._where()} failed {sql!r}: {exc}", reason="SchemaEvolutionFailed"
                    ) from exc
                self._drop_connection()
                if self._clock() >= deadline and tries >= len(self._hosts):
                    raise FatalSinkError(
                        f"cannot reach the query port of any FE ({self._hosts_text()}) for "
                        f"{self._retry_for:.0f}s: {exc}; check queryPort and the network",
                        reason="SchemaEvolutionFailed",
                    ) from exc
                log.warning("query port %s: %s; trying the next FE", self._where(), exc)
                self._host_index = (self._host_index + 1) % len(self._hosts)
                self._sleep(delay)
                delay = min(delay * 2, 5.0)

    def _hosts_text(self) -> str:
        return ", ".join(f"{h}:{p}" for h, p in self._hosts)


def _host_of(url: str) -> str:
    """``fe1:8030`` or ``http://fe1:8030`` → ``fe1`` (the query port is configured separately)."""
    rest = url.split("://", 1)[-1].rstrip("/")
    host = rest.rsplit(":", 1)[0]
    return host.strip("[]")
