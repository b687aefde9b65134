"""MariaDB access for the emulator: a small connection pool on worker threads, and the load-level
operations (schema lookup, partial-update key checks, applying plans in one MariaDB transaction)."""

from __future__ import annotations

import asyncio
import queue
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pymysql

from tests.emulator.options import LoadOptions
from tests.emulator.rows import Plan
from tests.emulator.tables import Op, TableSchema, apply_ops, existing_keys

T = TypeVar("T")
RETRYABLE = (1205, 1213)  # lock wait timeout, deadlock


class Database:
    def __init__(self, host: str, port: int, user: str, password: str, size: int = 4) -> None:
        self._params: dict[str, Any] = {
            "host": host,
            "port": port,
            "user": user,
            "password": password,
            "charset": "utf8mb4",
            "autocommit": False,
            "init_command": "SET SESSION sql_mode='STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION',"
            " SESSION tx_isolation='READ-COMMITTED', time_zone='+00:00'",
        }
        self._pool: queue.Queue[pymysql.connections.Connection] = queue.Queue()
        self._size = size
        self._created = 0
        self._executor = ThreadPoolExecutor(max_workers=size, thread_name_prefix="emulator-db")

    def connect(self, database: str | None = None) -> pymysql.connections.Connection:
        return pymysql.connect(database=database, **self._params)

    def _borrow(self) -> pymysql.connections.Connection:
        try:
            conn = self._pool.get_nowait()
        except queue.Empty:
            return self.connect()
        try:
            conn.ping()
            return conn
        except pymysql.err.Error:
            return self.connect()

    def call(self, fn: Callable[[pymysql.connections.Connection], T]) -> T:
        """Run `fn` in one MariaDB transaction, retrying on deadlocks (blocking)."""
        conn = self._borrow()
        try:
            for attempt in range(5):
                try:
                    conn.begin()
                    result = fn(conn)
                    conn.commit()
                    return result
                except pymysql.err.OperationalError as exc:
                    conn.rollback()
                    if exc.args[0] not in RETRYABLE or attempt == 4:
                        raise
                except BaseException:
                    conn.rollback()
                    raise
            raise AssertionError("unreachable")
        finally:
            self._pool.put(conn)

    async def run(self, fn: Callable[[pymysql.connections.Connection], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, self.call, fn)

    def close(self) -> None:
        self._executor.shutdown(wait=False)
        while not self._pool.empty():
            self._pool.get_nowait().close()


def resolve_partial(
    conn: pymysql.connections.Connection,
    schema: TableSchema,
    plan: Plan,
    opts: LoadOptions,
    strict_new_keys: bool,
) -> None:
    """Filter partial-update rows for keys that do not exist yet and cannot be inserted (doris.md §8.7)."""
    partial = [op for op in plan.ops if op.kind == "partial"]
    if not partial:
        return
    found = existing_keys(conn, schema, (tuple(op.values[k] for k in schema.key) for op in partial))
    kept: list[Op] = []
    for op in plan.ops:
        key = tuple(op.values[k] for k in schema.key) if op.kind == "partial" else None
        if key is not None and key not in found:
            if strict_new_keys:
                plan.filtered.append(
                    ("can't find key in the table while strict_mode is true", str(op.values))
                )
                continue
            lacking = [
                c.name
                for c in schema.columns
                if c.name not in op.values and not c.nullable and not c.has_default
            ]
            if lacking:
                plan.filtered.append(
                    (f"the unmentioned columns {lacking} of a new key have no default value", str(op.values))
                )
                continue
        kept.append(op)
    plan.ops = kept


def apply_plans(conn: pymysql.connections.Connection, staged: Sequence[tuple[TableSchema, Plan]]) -> None:
    for schema, plan in staged:
        apply_ops(conn, schema, plan.ops)
